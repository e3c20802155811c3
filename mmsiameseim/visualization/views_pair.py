"""The two views of one image as training makes them (colour ops drawn as
records, pixels as on the config's route) and the model's features."""
import os.path as osp
from typing import Dict, Tuple

import numpy as np

MASKERS = ('BlockwiseMaskGenerator', 'RandomPatchMaskGenerator')


def transforms_from_config(cfg, path: str) -> Tuple[dict, dict]:
    """The ``SiameseIMViews`` and mask generator of a train pipeline; a
    ``ValueError`` naming the config ``path`` if it lacks them."""
    from ..engine.runner import innermost_dataset
    dataset = innermost_dataset(
        cfg.get('train_dataloader', {}).get('dataset', {}))
    steps = {s.get('type'): s for s in dataset.get('pipeline', [])}
    mask = next((steps[t] for t in MASKERS if t in steps), None)
    if 'SiameseIMViews' not in steps or mask is None:
        raise ValueError(f'{path} has no SiameseIMViews and mask generator '
                         'in train_dataloader.dataset.pipeline: give a '
                         'SiameseIM pretraining config')
    return dict(steps['SiameseIMViews']), dict(mask)


def make_views(views_cfg: dict, mask_cfg: dict, img_rgb: np.ndarray,
               seed: int) -> Dict:
    """Run the views transform and the mask generator on one RGB image.

    Seeded NumPy; the device route draws the colour records (the worker
    route's draws); pixels: the worker route's for ``colour_on='worker'``,
    else the records applied by the data preprocessor's batched ops.

    Returns:
        dict: ``views`` (two coloured RGB ``(S, S, 3)`` arrays), ``params``
        (the two ``(flip, box)``), ``rel_pos``, ``mask`` (bool ``(g, g)``),
        ``colour`` (``(2, 14)`` records; None for ops that draw none),
        ``route``, ``img_size``, ``results`` (the coloured result dict).
    """
    import torch
    from mmpretrain.registry import TRANSFORMS

    from ..models.utils.batch_colour import apply_colour_params_
    masker = TRANSFORMS.build(mask_cfg)

    def run(cfg: dict):
        views = TRANSFORMS.build(cfg)
        bgr = views.channel_order == 'bgr'
        img = np.ascontiguousarray(img_rgb[..., ::-1]) if bgr else img_rgb
        np.random.seed(seed)
        out = masker(views(dict(img=img, img_shape=img.shape[:2])))
        return out, [v[..., ::-1] if bgr else v for v in out['img']], bgr

    route = views_cfg.get('colour_on', 'worker')
    try:
        results, shown, bgr = run(dict(views_cfg, colour_on='device'))
        colour = results.pop('colour_params')
    except ValueError:  # a colour op of the worker route only: no record
        if route == 'device':
            raise
        colour = None
    if route == 'device':
        x = torch.from_numpy(np.stack(shown)).permute(0, 3, 1, 2).float()
        x = apply_colour_params_(x, colour).to(torch.uint8)
        shown = list(x.permute(0, 2, 3, 1).numpy())
    else:
        results, shown, bgr = run(views_cfg)
    shown = [np.ascontiguousarray(v) for v in shown]
    results['img'] = [v[..., ::-1].copy() if bgr else v for v in shown]
    return dict(
        views=shown,
        params=list(results['view_boxes']),
        rel_pos=np.asarray(results['rel_pos'], dtype=np.float64),
        mask=np.asarray(results['mask'], dtype=bool),
        colour=colour,
        route=route,
        img_size=results['img_shape'][0],
        results=results)


def load_model(cfg, config: str, checkpoint: str, trusted: bool,
               device: str = 'cpu'):
    """The config's SiameseIM with every tensor from ``checkpoint``; a
    one-line error naming the file (missing, damaged, untrusted, another
    model or size)."""
    from mmpretrain.registry import MODELS

    from ..checkpoints import (read_checkpoint, refuse_other_shapes,
                               unwrap_state_dict)
    model = MODELS.build(cfg.model)  # the strict load sets every tensor
    if not hasattr(model, 'predict_dense'):
        raise ValueError(f'the model of {config} is a {type(model).__name__}'
                         ', not SiameseIM: give a SiameseIM config')
    state = read_checkpoint(checkpoint, trusted=trusted)
    if not isinstance(state, dict):
        raise ValueError(f'{checkpoint} holds a {type(state).__name__}, not '
                         'a state dict: give a checkpoint this config wrote')
    state = unwrap_state_dict(state)
    own = model.state_dict()
    refuse_other_shapes(checkpoint, state, own)
    odd = sorted(set(own) ^ set(state))
    if odd:
        raise ValueError(f'{checkpoint} does not hold the model of '
                         f'{osp.basename(config)} ({len(odd)} tensors in '
                         f'one of them only, e.g. {odd[0]}): give a '
                         'checkpoint this config wrote')
    model.load_state_dict(state)
    return model.to(device).eval()


def dense_features(model, pair: Dict) -> Tuple[np.ndarray, np.ndarray]:
    """Predicted and target ``(L, D)`` features of the pair as shown:
    ``SiameseIM.predict_dense`` (no momentum update) on the coloured views,
    normalised by the loss's own ``normalise``."""
    import torch
    from mmengine.dataset import default_collate
    from mmpretrain.registry import TRANSFORMS
    pack = TRANSFORMS.build(
        dict(type='PackInputs', algorithm_keys=['rel_pos']))
    batch = default_collate([pack(dict(pair['results']))])
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        out = model.predict_dense(data['inputs'], data['data_samples'])
        pred, target = model.head.loss_module.normalise(out.pred, out.target)
    return pred[0].cpu().numpy(), target[0].cpu().numpy()

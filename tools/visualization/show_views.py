"""Show SiameseIM's two views, the mask and the cross-view geometry.

Runs :class:`~mmsiameseim.datasets.transforms.SiameseIMViews` and
:class:`~mmsiameseim.datasets.transforms.BlockwiseMaskGenerator` on one image
and writes a PNG with

1. the original image with both crop boxes (view 1 red, view 2 cyan; a box
   of a flipped view is drawn where it lies in the unflipped image),
2. view 1 with its masked patches shaded,
3. view 2, with lines joining a few view-2 patch centres to where
   :func:`mmsiameseim.models.utils.relative_patch_coords` places them in
   view 1 (the rectangle there is the view-2 patch's footprint),

and, with ``--checkpoint CONFIG CKPT``, a second row: the predicted and the
target dense features of this pair (a joint 3-component PCA mapped to RGB)
and their per-patch cosine similarity.

Examples:
    python tools/visualization/show_views.py photo.jpg --out views.png
    python tools/visualization/show_views.py --dataset-index 7 \\
        --out fmnist_views.png
    python tools/visualization/show_views.py --dataset-index 7 \\
        --checkpoint CONFIG work_dirs/x/epoch_100.pth --trusted-checkpoint
"""
import argparse
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np


# (flip, (top, left, height, width)), box in the view's flipped frame.
ViewParams = Tuple[bool, Tuple[int, int, int, int]]

PAPER_MASK_RATIO = 118 / 196
VIEW_COLOURS = ('#ff3b30', '#00d0ff')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Visualise the two SiameseIM views of one image')
    parser.add_argument('img', nargs='?', help='image file')
    parser.add_argument(
        '--dataset-index',
        type=int,
        help='use this Fashion-MNIST sample instead of an image file')
    parser.add_argument('--data-root', default='data/fashion-mnist')
    parser.add_argument('--split', default='train', choices=['train', 'test'])
    parser.add_argument('--out', default='show_views.png', help='output PNG')
    parser.add_argument(
        '--config',
        help='take the views (with their colour ops) and the mask generator '
        "from this config's train pipeline")
    parser.add_argument(
        '--checkpoint',
        nargs=2,
        metavar=('CONFIG', 'CKPT'),
        help='also show predicted vs target features of this model (implies '
        '--config CONFIG)')
    parser.add_argument(
        '--trusted-checkpoint',
        action='store_true',
        help='load CKPT with full pickle; only for checkpoints your own runs '
        'wrote (mmengine checkpoints hold non-tensor objects)')
    parser.add_argument(
        '--img-size',
        type=int,
        help='view side; default 32 for --dataset-index, else 224 '
        '(ignored with --config)')
    parser.add_argument(
        '--patch-size',
        type=int,
        help='patch side; default 4 for --dataset-index, else 16 '
        '(ignored with --config)')
    parser.add_argument(
        '--crop-scale', type=float, nargs=2, default=(0.08, 1.0))
    parser.add_argument(
        '--mask-ratio',
        type=float,
        default=PAPER_MASK_RATIO,
        help='fraction of masked patches (default 118/196)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--num-lines', type=int, default=6, help='view-2 patches to join')
    parser.add_argument(
        '--panel-size', type=int, default=320, help='pixels per panel')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    if (args.img is None) == (args.dataset_index is None):
        parser.error('give either an image file or --dataset-index')
    if args.checkpoint is not None:
        if args.config is not None and args.config != args.checkpoint[0]:
            parser.error('--config and --checkpoint name different configs')
        args.config = args.checkpoint[0]
    if args.panel_size < 64:
        parser.error('--panel-size must be >= 64')
    return args


# --------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------
def patch_centres(grid_size: int, patch_size: int) -> np.ndarray:
    """Pixel centres of the patches of one view, raster order.

    Pixel coordinates are continuous (pixel edges at integers, the image
    spans ``[0, S]``), so the centre of patch ``(i, j)`` is
    ``((i + 0.5) p, (j + 0.5) p)``.

    Args:
        grid_size (int): Patch-grid side g.
        patch_size (int): Patch side p in pixels.

    Returns:
        np.ndarray: ``(g * g, 2)`` float64 ``(y, x)``.
    """
    centre = (np.arange(grid_size, dtype=np.float64) + 0.5) * patch_size
    yy, xx = np.meshgrid(centre, centre, indexing='ij')
    return np.stack([yy.ravel(), xx.ravel()], axis=1)


def view2_centres_in_view1(rel_pos: np.ndarray, grid_size: int,
                           patch_size: int) -> np.ndarray:
    """Where every view-2 patch centre lies in view 1, in view-1 pixels.

    :func:`~mmsiameseim.models.utils.relative_patch_coords` gives positions
    in view-1 patch units with view-1 patch ``(r, c)`` centred at the integer
    ``(r, c)``; the pixel position is therefore ``(coord + 0.5) * p``
    (continuous coordinates, as :func:`patch_centres`).

    Args:
        rel_pos (np.ndarray): ``(6,)`` :class:`RelPos` record.
        grid_size (int): Patch-grid side g.
        patch_size (int): Patch side p in pixels.

    Returns:
        np.ndarray: ``(g * g, 2)`` float64 ``(y, x)`` in view-1 pixels,
        view-2 patches in raster order (may lie outside view 1).
    """
    import torch

    from mmsiameseim.models.utils import relative_patch_coords
    rel = torch.as_tensor(np.asarray(rel_pos, dtype=np.float64))
    coords = relative_patch_coords(rel.reshape(1, -1), grid_size)[0]
    return (coords.numpy() + 0.5) * patch_size


def box_in_original(params: ViewParams, width: int) -> Tuple[int, ...]:
    """A view's crop box ``(top, left, h, w)`` in the unflipped image."""
    flip, (top, left, h, w) = params
    if flip:
        left = width - left - w
    return top, left, h, w


def pick_patches(src: np.ndarray, dst: np.ndarray, size: int,
                 num: int) -> List[int]:
    """Choose up to ``num`` well-spread view-2 patches that land in view 1.

    Greedy farthest-point sampling on the view-2 positions, starting from
    the candidate nearest the view centre.

    Args:
        src (np.ndarray): ``(L, 2)`` view-2 pixel centres.
        dst (np.ndarray): ``(L, 2)`` their positions in view 1.
        size (int): View side S.
        num (int): Number of patches wanted.

    Returns:
        list[int]: Patch indices (raster order of view 2).
    """
    inside = np.flatnonzero(np.all((dst >= 0) & (dst < size), axis=1))
    if inside.size == 0 or num <= 0:
        return []
    pts = src[inside]
    first = int(np.argmin(np.linalg.norm(pts - size / 2, axis=1)))
    chosen = [first]
    dist = np.linalg.norm(pts - pts[first], axis=1)
    while len(chosen) < min(num, inside.size):
        nxt = int(np.argmax(dist))
        if dist[nxt] <= 0:
            break
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(pts - pts[nxt], axis=1))
    return [int(inside[i]) for i in chosen]


# --------------------------------------------------------------------------
# Views and masks
# --------------------------------------------------------------------------
def _find(pipeline: Sequence[dict], types: Sequence[str]) -> Optional[dict]:
    for step in pipeline:
        if step.get('type') in types:
            return step
    return None


def transforms_from_config(cfg) -> Tuple[dict, dict]:
    """The ``SiameseIMViews`` and mask-generator configs of a config."""
    pipeline = cfg.train_dataloader.dataset.pipeline
    views = _find(pipeline, ['SiameseIMViews'])
    mask = _find(pipeline,
                 ['BlockwiseMaskGenerator', 'RandomPatchMaskGenerator'])
    if views is None or mask is None:
        raise ValueError('the config has no SiameseIMViews and mask '
                         'generator in train_dataloader.dataset.pipeline')
    return dict(views), dict(mask)


def default_transforms(img_size: int, patch_size: int,
                       crop_scale: Sequence[float],
                       mask_ratio: float) -> Tuple[dict, dict]:
    """Geometry-only views (no colour ops) and a paper-like block mask."""
    if img_size % patch_size:
        raise ValueError(f'--img-size {img_size} is not a multiple of '
                         f'--patch-size {patch_size}')
    grid = img_size // patch_size
    num_masked = int(round(mask_ratio * grid * grid))
    views = dict(
        type='SiameseIMViews',
        img_size=img_size,
        crop_scale=tuple(crop_scale),
        interpolation='bicubic')
    mask = dict(
        type='BlockwiseMaskGenerator',
        input_size=grid,
        num_masking_patches=num_masked,
        min_num_patches=max(1, int(round(16 * grid * grid / 196))))
    return views, mask


def make_views(views_cfg: dict, mask_cfg: dict, img_rgb: np.ndarray,
               seed: int) -> Dict:
    """Run the views transform and the mask generator on one RGB image.

    Everything is the transforms' own code and outputs (the crop boxes are
    the transform's ``view_boxes``), colour sub-pipelines included.

    Args:
        views_cfg (dict): ``SiameseIMViews`` config.
        mask_cfg (dict): Mask generator config.
        img_rgb (np.ndarray): ``(H, W, 3)`` uint8 RGB image.
        seed (int): Seed of NumPy's global RNG.

    Returns:
        dict: ``views`` (two RGB ``(S, S, 3)`` arrays), ``params`` (the
        two :data:`ViewParams` boxes), ``rel_pos``, ``mask`` (bool ``(g, g)``),
        ``results`` (the raw result dict, in the transform's channel order)
        and ``img_size``.
    """
    from mmpretrain.registry import TRANSFORMS

    import mmsiameseim  # noqa: F401  registers the transforms
    views = TRANSFORMS.build(views_cfg)
    masker = TRANSFORMS.build(mask_cfg)
    bgr = views.channel_order == 'bgr'
    img = np.ascontiguousarray(img_rgb[..., ::-1]) if bgr else img_rgb
    np.random.seed(seed)
    results = views(
        dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2]))
    results = masker(results)
    out = [
        np.ascontiguousarray(v[..., ::-1]) if bgr else v
        for v in results['img']
    ]
    return dict(
        views=out,
        params=list(results['view_boxes']),
        rel_pos=np.asarray(results['rel_pos'], dtype=np.float64),
        mask=np.asarray(results['mask'], dtype=bool),
        results=results,
        img_size=views.img_size)


# --------------------------------------------------------------------------
# Model features
# --------------------------------------------------------------------------
def load_model(config, checkpoint: str, trusted: bool, device: str):
    """Build the config's model and load a checkpoint strictly."""
    from mmpretrain.registry import MODELS

    from mmsiameseim.checkpoints import (read_checkpoint, unwrap_state_dict)

    # No init_weights(): the strict load below sets every parameter and
    # buffer (the fixed sin-cos tables too).
    model = MODELS.build(config.model)
    state = unwrap_state_dict(read_checkpoint(checkpoint, trusted=trusted))
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def dense_features(model, pair: Dict) -> Tuple[np.ndarray, np.ndarray]:
    """Predicted and target dense features of one view pair.

    ``SiameseIM.predict_dense`` on the packed pair (no momentum update),
    normalised as the loss compares them (``normalise`` of the head's
    loss module).

    Args:
        model (SiameseIM): A built SiameseIM in eval mode.
        pair (dict): Output of :func:`make_views`.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(L, D)`` predictions and targets.
    """
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


def pca_rgb(pred: np.ndarray,
            target: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Map both feature sets to RGB with one joint 3-component PCA.

    Args:
        pred (np.ndarray): ``(L, D)`` features.
        target (np.ndarray): ``(L, D)`` features.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(g, g, 3)`` float images in [0, 1].
    """
    feats = np.concatenate([pred, target]).astype(np.float64)
    feats = feats - feats.mean(0)
    _, _, vt = np.linalg.svd(feats, full_matrices=False)
    comps = feats @ vt[:3].T
    if comps.shape[1] < 3:
        comps = np.pad(comps, ((0, 0), (0, 3 - comps.shape[1])))
    lo = np.percentile(comps, 1, axis=0)
    hi = np.percentile(comps, 99, axis=0)
    rgb = np.clip((comps - lo) / np.maximum(hi - lo, 1e-12), 0, 1)
    grid = int(round(np.sqrt(len(pred))))
    pred_rgb = rgb[:len(pred)].reshape(grid, grid, 3)
    target_rgb = rgb[len(pred):].reshape(grid, grid, 3)
    return pred_rgb, target_rgb


def cosine_map(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-patch cosine similarity as a ``(g, g)`` map."""
    num = (pred * target).sum(1)
    den = np.linalg.norm(pred, axis=1) * np.linalg.norm(target, axis=1)
    grid = int(round(np.sqrt(len(pred))))
    return (num / np.maximum(den, 1e-12)).reshape(grid, grid)


# --------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------
def figure_size(rows: int, panel: int) -> Tuple[int, int]:
    """Output ``(width, height)`` in pixels of a figure of ``rows`` rows."""
    return 3 * panel, rows * panel


def _axes(fig, row: int, col: int, rows: int):
    """Axes of one cell, leaving room for a two-line title on top."""
    w, h = 1 / 3, 1 / rows
    return fig.add_axes([
        col * w + 0.02 * w, (rows - 1 - row) * h + 0.02 * h, 0.96 * w, 0.80 * h
    ])


def _show(ax, img: np.ndarray, title: str, fontsize: float, **kw) -> None:
    h, w = img.shape[:2]
    ax.imshow(img, extent=(0, w, h, 0), interpolation='nearest', **kw)
    ax.set_title(title, fontsize=fontsize, pad=3)
    ax.set_xticks([])
    ax.set_yticks([])


def render(img_rgb: np.ndarray,
           pair: Dict,
           patch_size: int,
           out: str,
           num_lines: int = 6,
           panel: int = 320,
           features: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> Dict:
    """Draw the figure and save it as PNG.

    Args:
        img_rgb (np.ndarray): Original ``(H, W, 3)`` RGB image.
        pair (dict): Output of :func:`make_views`.
        patch_size (int): Patch side p.
        out (str): Output PNG path.
        num_lines (int): View-2 patches to join to view 1. Defaults to 6.
        panel (int): Pixels per panel. Defaults to 320.
        features (tuple, optional): Predicted and target ``(L, D)``
            features; adds the second row. Defaults to None.

    Returns:
        dict: ``size`` (width, height), ``patches`` (the joined view-2
        patch indices), ``src`` and ``dst`` (their ``(y, x)`` pixels in
        view 2 and in view 1).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import ConnectionPatch, Rectangle

    from mmsiameseim.models.utils import RelPos

    size = pair['img_size']
    grid = size // patch_size
    rel = pair['rel_pos']
    src = patch_centres(grid, patch_size)
    dst = view2_centres_in_view1(rel, grid, patch_size)
    chosen = pick_patches(src, dst, size, num_lines)

    rows = 1 if features is None else 2
    dpi = 100
    width, height = figure_size(rows, panel)
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    fs = max(6., panel / 34)
    H, W = img_rgb.shape[:2]

    ax0 = _axes(fig, 0, 0, rows)
    _show(ax0, img_rgb, f'original {W}x{H}\nred: crop 1, cyan: crop 2', fs)
    for k, params in enumerate(pair['params']):
        top, left, h, w = box_in_original(params, W)
        ax0.add_patch(
            Rectangle((left, top), w, h, fill=False, lw=2, ec=VIEW_COLOURS[k]))
        label = f'{k + 1}' + (' (flipped)' if params[0] else '')
        # Label 1 inside the top-left corner, label 2 inside the bottom-left
        # one, so that they do not cover each other when the boxes touch.
        ax0.text(
            left + 0.5,
            top + 0.5 if k == 0 else top + h - 0.5,
            label,
            color='white',
            fontsize=fs * 0.9,
            ha='left',
            va='top' if k == 0 else 'bottom',
            bbox=dict(fc=VIEW_COLOURS[k], ec='none', pad=1, alpha=.8))

    ax1 = _axes(fig, 0, 1, rows)
    mask = pair['mask']
    _show(ax1, pair['views'][0],
          f'view 1 (online): {int(mask.sum())}/{mask.size} masked', fs)
    overlay = np.zeros(mask.shape + (4, ))
    overlay[mask] = (0., 0., 0., 0.6)
    ax1.imshow(overlay, extent=(0, size, size, 0), interpolation='nearest')
    ax1.set_xlim(0, size)
    ax1.set_ylim(size, 0)
    for edge in np.arange(1, grid) * patch_size:
        ax1.axhline(edge, color='w', lw=0.4, alpha=0.3)
        ax1.axvline(edge, color='w', lw=0.4, alpha=0.3)

    ax2 = _axes(fig, 0, 2, rows)
    geo = RelPos(*(float(v) for v in rel))
    d_h, d_w = geo.dh, geo.dw
    _show(
        ax2, pair['views'][1], f'view 2 (target)  Δh={d_h:.2f} Δw={d_w:.2f}\n'
        f'Δi={geo.di:.2f} Δj={geo.dj:.2f} rflip={int(geo.rflip)}', fs)
    colours = plt.get_cmap('tab10')
    for n, idx in enumerate(chosen):
        colour = colours(n % 10)
        (y2, x2), (y1, x1) = src[idx], dst[idx]
        half = patch_size / 2
        ax2.add_patch(
            Rectangle((x2 - half, y2 - half),
                      patch_size,
                      patch_size,
                      fill=False,
                      ec=colour,
                      lw=1.5))
        fh, fw = patch_size * d_h, patch_size * d_w
        ax1.add_patch(
            Rectangle((x1 - fw / 2, y1 - fh / 2),
                      fw,
                      fh,
                      fill=False,
                      ec=colour,
                      lw=1.5))
        ax1.plot([x1], [y1], 'o', ms=3, color=colour)
        ax2.plot([x2], [y2], 'o', ms=3, color=colour)
        fig.add_artist(
            ConnectionPatch(
                xyA=(x2, y2),
                coordsA=ax2.transData,
                xyB=(x1, y1),
                coordsB=ax1.transData,
                color=colour,
                lw=1.2,
                alpha=0.9))
    if not chosen:
        ax2.text(
            size / 2,
            size / 2,
            'no overlap with view 1',
            ha='center',
            color='yellow',
            fontsize=fs)

    if features is not None:
        pred, target = features
        pred_rgb, target_rgb = pca_rgb(pred, target)
        cos = cosine_map(pred, target)
        ax = _axes(fig, 1, 0, rows)
        _show(ax, pred_rgb, 'predicted features of view 2\n(joint PCA)', fs)
        ax = _axes(fig, 1, 1, rows)
        _show(ax, target_rgb, 'target features of view 2\n(joint PCA)', fs)
        ax = _axes(fig, 1, 2, rows)
        _show(
            ax,
            cos,
            f'cosine(pred, target) per patch\nmean {cos.mean():.3f}',
            fs,
            cmap='viridis',
            vmin=-1,
            vmax=1)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return dict(
        size=(width, height), patches=chosen, src=src[chosen], dst=dst[chosen])


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------
def load_image(args: argparse.Namespace) -> Tuple[np.ndarray, str]:
    """The RGB input image and a short description of it."""
    if args.dataset_index is not None:
        from mmpretrain.datasets import FashionMNIST
        dataset = FashionMNIST(
            data_root=args.data_root,
            split=args.split,
            test_mode=args.split == 'test',
            download=False)
        info = dataset.get_data_info(args.dataset_index)
        img = np.repeat(info['img'][..., None], 3, axis=2)  # gray -> RGB
        return img, (f'Fashion-MNIST {args.split}[{args.dataset_index}'
                     f'] label {int(info["gt_label"])}')
    import mmcv
    img = mmcv.imread(args.img, channel_order='rgb')
    if img is None:
        raise FileNotFoundError(f'cannot read image {args.img}')
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3]), args.img


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    """Entry point; returns :func:`render`'s summary."""
    args = parse_args(argv)
    import mmsiameseim  # noqa: F401
    img, name = load_image(args)
    cfg = None
    if args.config is not None:
        from mmengine.config import Config
        cfg = Config.fromfile(args.config)
        views_cfg, mask_cfg = transforms_from_config(cfg)
        grid = mask_cfg.get('input_size', 14)
        if isinstance(grid, (tuple, list)):
            grid = grid[0]
        patch_size = views_cfg.get('img_size', 224) // grid
    else:
        small = args.dataset_index is not None
        img_size = args.img_size or (32 if small else 224)
        patch_size = args.patch_size or (4 if small else 16)
        views_cfg, mask_cfg = default_transforms(img_size, patch_size,
                                                 args.crop_scale,
                                                 args.mask_ratio)
    pair = make_views(views_cfg, mask_cfg, img, args.seed)
    features = None
    if args.checkpoint is not None:
        model = load_model(cfg, args.checkpoint[1], args.trusted_checkpoint,
                           args.device)
        features = dense_features(model, pair)
    summary = render(img, pair, patch_size, args.out, args.num_lines,
                     args.panel_size, features)
    print(f'{name}: wrote {args.out} ({summary["size"][0]}x'
          f'{summary["size"][1]}), rel_pos='
          f'{np.round(pair["rel_pos"], 3).tolist()}, boxes (flip, '
          f'(top, left, h, w)) = {pair["params"]}')
    return summary


if __name__ == '__main__':
    main()

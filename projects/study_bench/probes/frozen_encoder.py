"""A frozen pretrained backbone for the offline probes.

:func:`build_frozen_encoder` builds ``model.backbone`` and the data
preprocessor of any mmpretrain self-supervised *pretraining* config
(SiameseIM, MAE, MoCo v3, ...) and loads a checkpoint's encoder through the
plugin's checkpoint API (:func:`mmsiameseim.checkpoints.read_checkpoint`,
:func:`~mmsiameseim.checkpoints.convert_checkpoint`). The
:class:`FrozenEncoder` it returns is read by the plugin's one feature
extractor: :func:`mmsiameseim.evaluation.extract_features` (pooled
features of a dataloader) and :func:`~mmsiameseim.evaluation.
backbone_tokens` (cls token and patch map, nothing masked, whatever the
backbone's ``out_type``).
"""
import copy
import logging
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

POOLS = ('avg', 'cls')
Device = Union[str, torch.device]


class FrozenEncoder(nn.Module):
    """A frozen backbone and its data preprocessor.

    A model as :func:`mmsiameseim.evaluation.extract_features` reads one
    (``.backbone``, ``.data_preprocessor``), in eval mode for good.

    Args:
        backbone (nn.Module): The backbone. mmpretrain
            :class:`VisionTransformer` subclasses (``SiameseIMViT``,
            ``MAEViT``, ``MoCoV3ViT``, ...) give a cls token and a patch
            map (:func:`~mmsiameseim.evaluation.backbone_tokens`);
            backbones returning ``(B, C, H, W)`` maps (CNNs) a patch map.
        data_preprocessor (nn.Module, optional): Normalises a uint8 batch
            (mmpretrain's ``SelfSupDataPreprocessor`` and friends). None
            only casts to float.
    """

    def __init__(self,
                 backbone: nn.Module,
                 data_preprocessor: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.data_preprocessor = data_preprocessor
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> 'FrozenEncoder':
        """Stay in eval mode: the encoder is frozen."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        """Device of the first parameter (CPU without parameters)."""
        for p in self.parameters():
            return p.device
        return torch.device('cpu')

    @torch.no_grad()
    def preprocess(self, images: Tensor) -> Tensor:
        """Normalise ``(B, 3, H, W)`` images (uint8 or float, 0-255).

        Args:
            images (Tensor): Raw images in channel order of the dataset.

        Returns:
            Tensor: float32 ``(B, 3, H, W)`` on the encoder's device.
        """
        images = images.to(self.device)
        if self.data_preprocessor is None:
            return images.float()
        data = self.data_preprocessor(
            dict(inputs=images, data_samples=None), False)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[0]
        return inputs.float()


def preprocessor_cfg(cfg) -> dict:
    """The data preprocessor a pretraining config normalises with.

    ``model.data_preprocessor``, else the top-level ``data_preprocessor``,
    else mmpretrain's self-supervised one with the ImageNet statistics.
    """
    dp_cfg = cfg.model.get('data_preprocessor') or cfg.get(
        'data_preprocessor')
    if dp_cfg is None:
        dp_cfg = dict(
            type='SelfSupDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375])
    return copy.deepcopy(dp_cfg)


def quiet_init_weights(module: nn.Module) -> None:
    """``module.init_weights()`` without mmengine's per-parameter log."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        module.init_weights()
    finally:
        logger.setLevel(level)


def build_frozen_encoder(config: str,
                         checkpoint: Optional[str] = None,
                         device: Device = 'cpu',
                         seed: int = 0,
                         trusted: bool = False
                         ) -> Tuple[FrozenEncoder, Dict[str, object]]:
    """Build the frozen backbone of a pretraining config.

    Only ``model.backbone`` and the data preprocessor
    (``model.data_preprocessor`` or the top-level ``data_preprocessor``)
    are built, so algorithms with targets that need extra weights still
    work. With ``checkpoint`` None or ``'none'`` the backbone gets its own
    ``init_weights()`` after ``torch.manual_seed(seed)`` (the random-init
    baseline); otherwise the online encoder is read by
    :func:`mmsiameseim.checkpoints.convert_checkpoint` (our checkpoints, the
    official release, mmpretrain models, bare backbones) and every backbone
    parameter must be found in it.

    Args:
        config (str): Pretraining config path.
        checkpoint (str, optional): Checkpoint path or ``'none'``.
        device (str | torch.device): Where the encoder runs.
            Defaults to ``'cpu'``.
        seed (int): Seed of the random init. Defaults to 0.
        trusted (bool): Read the checkpoint with full pickle (see
            :func:`mmsiameseim.checkpoints.read_checkpoint`). Defaults to
            False.

    Returns:
        tuple: The encoder (eval mode, no grads) and a dict of facts
        (``backbone`` type, ``embed_dims``, ``img_size``, ``patch_size``,
        ``checkpoint_loaded``, ``unexpected_keys``).

    Raises:
        ValueError: If the config has no backbone, or the checkpoint lacks
            backbone parameters (the message names the file).
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import mmsiameseim  # noqa: F401  registers our modules
    from mmsiameseim.checkpoints import (check_loaded_weights,
                                         convert_checkpoint, read_checkpoint,
                                         refuse_other_shapes,
                                         resize_pos_embed)

    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.get('model')
    if model_cfg is None or 'backbone' not in model_cfg:
        raise ValueError(f'{config} has no model.backbone')
    torch.manual_seed(seed)
    backbone = MODELS.build(copy.deepcopy(model_cfg['backbone']))
    data_preprocessor = MODELS.build(preprocessor_cfg(cfg))
    info: Dict[str, object] = dict(backbone=type(backbone).__name__)
    if checkpoint is None or str(checkpoint).lower() == 'none':
        quiet_init_weights(backbone)
        info.update(checkpoint_loaded=False, unexpected_keys=0)
    else:
        loaded = read_checkpoint(checkpoint, trusted=trusted)
        try:
            state = convert_checkpoint(
                loaded, layout='mmpretrain', prefix='').state_dict
        except (ValueError, TypeError) as e:
            raise ValueError(f'{checkpoint}: {e}') from e
        refuse_other_shapes(checkpoint, state, backbone.state_dict(),
                            info['backbone'], skip='pos_embed')
        result = backbone.load_state_dict(state, strict=False)
        params = {name for name, _ in backbone.named_parameters()}
        missing = sorted(set(result.missing_keys) & params)
        if missing:
            raise ValueError(
                f'{checkpoint} lacks {len(missing)} backbone parameters of '
                f'{info["backbone"]} (e.g. {missing[:3]}): wrong config or '
                'not an mmpretrain checkpoint')
        # load_state_dict's pre-hooks may transform tensors (mmpretrain
        # resizes pos_embed): compare what arrived with the file.
        report = check_loaded_weights(
            backbone.state_dict(),
            state,
            transforms={r'pos_embed': resize_pos_embed})
        if report.mismatched or report.shape_mismatch:
            raise ValueError(
                f'{checkpoint}: tensors differ after loading into '
                f'{info["backbone"]}: '
                f'{sorted(report.mismatched) + sorted(report.shape_mismatch)}')
        info.update(
            checkpoint_loaded=True,
            unexpected_keys=len(result.unexpected_keys))
    if hasattr(backbone, 'with_cp'):
        backbone.with_cp = False  # inference only; keeps pos-embed resizing
    encoder = FrozenEncoder(backbone, data_preprocessor)
    encoder.to(device)
    info['embed_dims'] = getattr(backbone, 'embed_dims', None)
    img_size = getattr(backbone, 'img_size', None)
    info['img_size'] = int(img_size[0]) if isinstance(
        img_size, (tuple, list)) else img_size
    patch = getattr(getattr(backbone, 'patch_embed', None), 'projection',
                    None)
    info['patch_size'] = int(patch.stride[0]) if patch is not None else None
    return encoder, info

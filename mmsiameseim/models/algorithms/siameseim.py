"""The SiameseIM self-supervised algorithm."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.models.utils import CosineEMA
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ...arg_checks import check_choice
from ..heads.siameseim_predictor import SiameseIMPrediction
from .siameseim_sizes import build_parts, check_data_pipeline, check_part_sizes


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """``(B, 3, H, W)`` -> ``(B, L, patch_size**2 * 3)``, raster order."""
    B, C, H, W = images.shape
    h, w = H // patch_size, W // patch_size
    x = images.reshape(B, C, h, patch_size, w, patch_size)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(B, h * w, -1)


@MODELS.register_module()
class SiameseIM(BaseSelfSupervisor):
    """Siamese Image Modeling (CVPR 2023): docs/method.md §3.

    The online branch (backbone on masked view 1, projector, predictor)
    predicts the dense features of view 2 from an EMA copy of backbone +
    projector that keeps its own BN statistics; ``target_type`` and the
    head's ``loss_type`` / ``loss_tokens`` give the ablation rows
    (docs/design.md).

    Args:
        backbone (dict): :class:`SiameseIMViT` config.
        neck (dict): :class:`SiameseIMProjector` config.
        head (dict): :class:`SiameseIMPredictor` config (holds the loss);
            sizes neck and head leave out follow the part before.
        target_type (str): ``'feature'`` or ``'pixel'``. Defaults to
            ``'feature'``.
        loss_type (str, optional): Sets ``head.loss_type``.
        loss_tokens (str, optional): Sets ``head.loss_tokens``.
        base_momentum (float): EMA weight of the online model at the start
            (0.005 = momentum 0.995). Defaults to 0.005.
        end_momentum (float): The same at the end. Defaults to 0.
        sync_free_ema (bool): Keep the EMA step count on the host.
            Defaults to True.
        pretrained (str, optional): Checkpoint of the whole model.
        data_preprocessor (dict, optional): Defaults to
            ``SelfSupDataPreprocessor``.
        init_cfg (dict | list, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 target_type: str = 'feature',
                 loss_type: Optional[str] = None,
                 loss_tokens: Optional[str] = None,
                 base_momentum: float = 0.005,
                 end_momentum: float = 0.,
                 sync_free_ema: bool = True,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        check_choice(target_type, 'SiameseIM: target_type',
                     ('feature', 'pixel'))
        head = dict(head)
        for name, value in (('loss_type', loss_type), ('loss_tokens',
                                                       loss_tokens)):
            if value is not None:
                if head.get(name, value) != value:
                    raise ValueError(
                        f'SiameseIM: {name}={value!r} disagrees with '
                        f'head.{name}={head[name]!r}')
                head[name] = value
        backbone, neck, head = build_parts(backbone, neck, head, target_type)
        super().__init__(
            backbone,
            neck,
            head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.target_type = target_type
        if target_type == 'pixel' and self.head.loss_type == 'global':
            raise ValueError('SiameseIM: a pixel target has no global form; '
                             "use loss_type='dense'")
        check_part_sizes(self)
        self.sync_free_ema = sync_free_ema
        # host copy of target_encoder.steps (a plain dict: not a submodule,
        # parameter or buffer, so state dicts are unchanged)
        self._ema_steps_cache: dict = {}
        # the gate the next EMA update will use (None: the online weights
        # changed); see set_ema_gate
        self.ema_gate: Optional[Union[bool, torch.Tensor]] = None
        if target_type == 'feature':
            self.target_encoder = CosineEMA(
                nn.Sequential(self.backbone, self.neck),
                momentum=base_momentum,
                end_momentum=end_momentum)

    def check_data_pipeline(self, transforms: Sequence) -> None:
        """Check the training pipeline against the model's sizes (the train
        loop calls it before any step; ``siameseim_sizes``)."""
        check_data_pipeline(self, transforms)

    @staticmethod
    def gather_meta(data_samples: List[DataSample],
                    device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
        """Masks and relative geometry of a batch, stacked on ``device``."""
        masks, rel = [], []
        for sample in data_samples:
            if 'mask' not in sample or 'rel_pos' not in sample:
                raise KeyError('SiameseIM needs `mask` and `rel_pos` in every '
                               'data sample: the pipeline must run '
                               'SiameseIMViews and a mask generator, and '
                               "PackInputs(algorithm_keys=['rel_pos'])")
            masks.append(torch.as_tensor(sample.mask))
            rel.append(torch.as_tensor(np.asarray(sample.rel_pos)))
        mask = torch.stack(masks).flatten(1).to(torch.bool)
        rel_pos = torch.stack(rel).to(torch.float32)
        return (mask.to(device, non_blocking=True),
                rel_pos.to(device, non_blocking=True))

    def set_ema_gate(self, gate: Optional[Union[bool, torch.Tensor]]) -> None:
        """Whether the online weights changed since the last EMA update
        (``NumericsGuardHook``, docs/operations.md §4): ``False`` leaves the
        target's parameters alone at the next update, a 0-dim tensor (1 =
        changed) decides on the device."""
        self.ema_gate = gate

    def _momentum_step(self) -> None:
        if MessageHub.get_current_instance().get_info('max_iters') is None:
            raise RuntimeError(
                'SiameseIM: the momentum schedule (CosineEMA) reads '
                "`max_iters` from mmengine's MessageHub; outside a Runner "
                "call MessageHub.get_current_instance().update_info("
                "'max_iters', N) first")
        gate, self.ema_gate = self.ema_gate, None
        online = nn.Sequential(self.backbone, self.neck)
        if self.sync_free_ema:
            self._sync_free_ema_update(online, gate)
            return
        if isinstance(gate, torch.Tensor):
            gate = bool(gate.item())
        if gate is False:
            self.target_encoder.steps.add_(1)
            return
        # mmengine's averaged model copies the online buffers into the
        # target when ``update_buffers=False``; the target keeps its own BN
        # running statistics here (they come from target batches alone, as
        # in the original), so they are put back after the update.
        buffers = [b.clone() for b in self.target_encoder.module.buffers()]
        self.target_encoder.update_parameters(online)
        for b_avg, saved in zip(self.target_encoder.module.buffers(), buffers):
            b_avg.copy_(saved)

    def _ema_host_steps(self) -> int:
        """``target_encoder.steps`` as a host int, re-read only when the
        buffer was replaced or written to."""
        steps = self.target_encoder.steps
        cache = self._ema_steps_cache
        if (cache.get('tensor') is not steps
                or cache.get('version') != steps._version):
            cache.update(
                tensor=steps, version=steps._version, value=int(steps))
        return cache['value']

    @torch.no_grad()
    def _sync_free_ema_update(
            self,
            online: nn.Module,
            gate: Optional[Union[bool, torch.Tensor]] = None) -> None:
        """``BaseAveragedModel.update_parameters`` with the step count on the
        host (docs/design.md); buffers stay the target's own."""
        ema = self.target_encoder
        steps = self._ema_host_steps()
        src = (
            online.state_dict()
            if ema.update_buffers else dict(online.named_parameters()))
        if steps == 0:
            for k, p_avg in ema.avg_parameters.items():
                p_avg.data.copy_(src[k].data)
        elif steps % ema.interval == 0 and gate is not False:
            host_steps = torch.tensor(steps, dtype=ema.steps.dtype)
            gated = isinstance(gate, torch.Tensor)
            for k, p_avg in ema.avg_parameters.items():
                if p_avg.dtype.is_floating_point:
                    old = p_avg.data.clone() if gated else None
                    ema.avg_func(p_avg.data, src[k].data.to(p_avg.device),
                                 host_steps)
                    if gated:  # lerp(old, new, 1) == new, (.., 0) == old
                        p_avg.data.copy_(
                            torch.lerp(old, p_avg.data,
                                       gate.to(old.device, old.dtype)))
        ema.steps.add_(1)
        self._ema_steps_cache.update(
            tensor=ema.steps, version=ema.steps._version, value=steps + 1)

    @property
    def loss_type(self) -> str:
        """``head.loss_type``: ``'dense'`` or ``'global'``."""
        return self.head.loss_type

    @property
    def loss_tokens(self) -> str:
        """``head.loss_tokens``: ``'all'`` or ``'masked'``."""
        return self.head.loss_tokens

    def compute_targets(self,
                        view2: torch.Tensor,
                        update_target: bool = True) -> torch.Tensor:
        """Targets for view 2 ``(B, 3, H, W)``: EMA tokens ``(B, 1 + L, C)``
        or pixels; ``update_target`` steps the EMA encoder first."""
        if self.target_type == 'pixel':
            patch = self.backbone.patch_embed.projection.kernel_size[0]
            return patchify(view2, patch)
        with torch.no_grad():
            if update_target:
                self._momentum_step()
            return self.target_encoder(view2)

    def predict_dense(self,
                      inputs: List[torch.Tensor],
                      data_samples: List[DataSample],
                      update_target: bool = False) -> SiameseIMPrediction:
        """Both branches on one batch, in a training step's order (the one
        forward of training and the tools; docs/design.md).

        Args:
            inputs (list[Tensor]): ``[view1, view2]``, each ``(B, 3, H, W)``.
            data_samples (list[DataSample]): With ``mask`` and ``rel_pos``.
            update_target (bool): Step the momentum encoder first. Defaults
                to False.

        Returns:
            SiameseIMPrediction: Predictions and targets (unnormalised).
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise TypeError('SiameseIM expects inputs=[view1, view2]; check '
                            'that the pipeline uses SiameseIMViews')
        view1, view2 = inputs
        mask, rel_pos = self.gather_meta(data_samples, view1.device)
        latent = self.neck(self.backbone(view1, mask))
        cls_pred, pred = self.head(latent, mask, rel_pos)
        target = self.compute_targets(view2, update_target)
        cls_target = None
        if self.target_type == 'feature':
            cls_target, target = target[:, :1], target[:, 1:]
        # the masked count is known from the number of visible tokens
        num_masked = mask.shape[1] + 1 - latent.shape[1]
        return SiameseIMPrediction(pred, target, cls_pred, cls_target, mask,
                                   rel_pos, num_masked)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """``dict(loss=...)``: :meth:`predict_dense` + ``head.loss``."""
        prediction = self.predict_dense(
            inputs, data_samples, update_target=True)
        return dict(loss=self.head.loss(prediction))

"""The linear probe: the linear-probing config, run by mmengine's Runner.

:data:`LINEAR_CONFIG` is the paper's protocol at the bench's size (the
ImageNet linear config's pieces: frozen encoder in eval mode, average
pooling, parameter-free ``ln2``, non-affine ``ClsBatchNormNeck``, linear
head, mmpretrain's ``LARS`` lr 6.4 with the bias excluded, warm-up then
cosine; 10,240 train images for 10 epochs, all 10,000 test images).
:func:`linear_probe_config` points it at the encoder of any pretraining
config and checkpoint (SiameseIM, MAE, MoCo v3): the encoder's sizes and
normalisation, its weights converted by the plugin's checkpoint API and
checked on load (``PretrainedLoadCheckHook``); :func:`linear_probe` runs
it and returns the test top-1 as a record.
"""
import inspect
import os
import os.path as osp
import tempfile
import time
from typing import Optional

from ..cli import append_jsonl
from ..config_files import load_config
from ..sizes import rescale_schedule, vit_arch
from .common import ProbeRun, resolve_device
from .frozen_encoder import preprocessor_cfg

#: What a linear probe run may change of the config's schedule.
SCHEDULE = ('epochs', 'warmup_epochs', 'probe_batch_size', 'lr')
LINEAR_CONFIG = ('projects/study_bench/configs/evaluation/'
                 'vit-mini-p4_1xb256-linear-coslr-10e_fashion-mnist.py')


def _final_norm(backbone: dict) -> bool:
    """The pretraining backbone's ``final_norm`` (its class's default)."""
    if 'final_norm' in backbone:
        return bool(backbone['final_norm'])
    from mmpretrain.registry import MODELS
    params = inspect.signature(MODELS.get(backbone['type'])).parameters
    return bool(params['final_norm'].default)


def save_encoder(checkpoint: str,
                 path: str,
                 trusted: bool = False,
                 backbone: Optional[dict] = None) -> str:
    """The online encoder of ``checkpoint`` as a ``backbone.`` file.

    Read with the plugin's trust policy and converted to mmpretrain's
    ``VisionTransformer`` names (ours, the official release, mmpretrain's
    MAE and MoCo v3 models). Given the ``backbone`` config, tensors of
    other shapes (but the resized ``pos_embed``) stop it with one line
    naming the file, before any training.

    Returns:
        str: ``path``.
    """
    import torch
    from mmpretrain.registry import MODELS

    from mmsiameseim.checkpoints import (convert_checkpoint, read_checkpoint,
                                         refuse_other_shapes)
    report = convert_checkpoint(
        read_checkpoint(checkpoint, trusted=trusted), layout='mmpretrain')
    if backbone is not None:
        with torch.device('meta'):  # shapes only
            own = MODELS.build(backbone).state_dict()
        refuse_other_shapes(
            checkpoint, {k[len('backbone.'):]: v
                         for k, v in report.state_dict.items()},
            own, backbone['type'], skip='pos_embed')
    torch.save(dict(state_dict=report.state_dict,
                    meta=dict(converted_from=osp.abspath(checkpoint))), path)
    return path


def linear_probe_config(run: ProbeRun, work_dir: str, **schedule):
    """:data:`LINEAR_CONFIG` for the encoder and images of ``run``.

    The backbone is the config's ``SiameseIMViT`` (mmpretrain's ViT blocks;
    unmasked, any of the three methods' encoders loads into it) at the
    pretraining encoder's arch, input size, patch size and final norm,
    frozen; the neck and head follow its width; the data preprocessor
    normalises as the pretraining did.

    Args:
        run (ProbeRun): The encoder and images (``train_size`` None: the
            config's 10,240; ``test_size`` None: all; ``pool``: ``'avg'``
            (``ln2`` of the averaged patches) or ``'cls'``).
        work_dir (str): The run's folder (the converted encoder goes
            there).
        **schedule: ``epochs``, ``warmup_epochs`` (the schedule rescaled),
            ``probe_batch_size`` (training batch), ``lr`` (peak LARS
            learning rate); missing or None: the config's.

    Returns:
        Config: Ready for the Runner.
    """
    cfg = load_config(LINEAR_CONFIG)
    pre = load_config(run.config)
    source = pre.model.backbone
    arch = vit_arch(source)
    img_size = run.img_size or source.get('img_size', 224)
    backbone = dict(
        type='SiameseIMViT',
        arch=arch,
        img_size=img_size,
        patch_size=source.get('patch_size', 16),
        out_type='avg_featmap' if run.pool == 'avg' else 'cls_token',
        final_norm=_final_norm(source),
        frozen_stages=arch['num_layers'],
        init_cfg=None)
    if str(run.checkpoint).lower() == 'none':
        cfg.custom_hooks = [h for h in cfg.custom_hooks
                            if h.type != 'PretrainedLoadCheckHook']
    else:
        os.makedirs(work_dir, exist_ok=True)
        encoder = save_encoder(run.checkpoint, osp.join(work_dir, 'enc.pth'),
                               run.trusted_checkpoint, backbone)
        backbone['init_cfg'] = dict(type='Pretrained', checkpoint=encoder,
                                    prefix='backbone.')
    cfg.model.backbone = backbone
    cfg.model.neck.input_features = arch['embed_dims']
    cfg.model.head.in_channels = arch['embed_dims']
    normalise = preprocessor_cfg(pre)
    for key in ('mean', 'std', 'to_rgb'):
        if key in normalise:
            cfg.model.data_preprocessor[key] = normalise[key]
    for name, size in (('train_dataloader', run.train_size),
                       ('val_dataloader', run.test_size)):
        dataset = cfg[name].dataset
        dataset.data_root = run.data_root
        if name == 'val_dataloader' or size is not None:
            dataset.indices = size
        for transform in dataset.pipeline:
            if transform.type == 'Resize':
                transform.scale = (img_size, img_size)
    cfg.test_dataloader = cfg.val_dataloader
    epochs, warmup = schedule.get('epochs'), schedule.get('warmup_epochs')
    if epochs or warmup:
        rescale_schedule(cfg, epochs or cfg.train_cfg.max_epochs, warmup)
    if schedule.get('probe_batch_size'):
        cfg.train_dataloader.batch_size = schedule['probe_batch_size']
    if schedule.get('lr'):
        cfg.optim_wrapper.optimizer.lr = schedule['lr']
    cfg.randomness = dict(seed=run.seed)
    cfg.work_dir = work_dir
    cfg.default_hooks.checkpoint = None  # the record is the result
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    return cfg


def linear_probe(config: str,
                 checkpoint: str,
                 work_dir: Optional[str] = None,
                 **inputs) -> dict:
    """Run the linear probe; print, append (``out``) and return its record.

    Args:
        config (str): The pretraining config.
        checkpoint (str): Its checkpoint, or ``'none'``.
        work_dir (str, optional): The Runner's folder. Defaults to a
            temporary one.
        **inputs: The schedule of :func:`linear_probe_config`
            (``epochs``, ``warmup_epochs``, ``probe_batch_size``, ``lr``)
            and the fields of :class:`~.common.ProbeRun` (``batch_size``
            does not apply: the Runner encodes each training batch;
            ``device``: the Runner takes CUDA when available).

    Returns:
        dict: ``metric='linear_top1'``, ``value`` and the run's facts.
    """
    from mmengine.registry import RUNNERS

    import mmsiameseim  # noqa: F401  registers the Runner and the hook
    schedule = {key: inputs.pop(key, None) for key in SCHEDULE}
    run = ProbeRun(config, checkpoint, **inputs)
    start = time.time()
    resolve_device(run.device)  # fails early without the asked device
    with tempfile.TemporaryDirectory() as tmp:
        cfg = linear_probe_config(run, work_dir or tmp, **schedule)
        runner = RUNNERS.build(cfg)
        runner.train()
        top1 = runner.message_hub.get_scalar('val/accuracy/top1').current()
        record = dict(
            tool='linear_probe',
            config=run.config,
            checkpoint=run.checkpoint,
            backbone=load_config(run.config).model.backbone.type,
            checkpoint_loaded=cfg.model.backbone.init_cfg is not None,
            metric='linear_top1',
            value=float(top1),
            linear_config=LINEAR_CONFIG,
            pool=run.pool,
            train_size=len(runner.train_dataloader.dataset),
            test_size=len(runner.val_dataloader.dataset),
            img_size=cfg.model.backbone.img_size,
            feat_dim=cfg.model.head.in_channels,
            epochs=cfg.train_cfg.max_epochs,
            warmup_epochs=cfg.param_scheduler[0].end,
            probe_batch_size=cfg.train_dataloader.batch_size,
            probe_lr=cfg.optim_wrapper.optimizer.lr,
            steps=runner.iter,
            optimizer=cfg.optim_wrapper.optimizer.type,
            seed=run.seed,
            device=next(runner.model.parameters()).device.type,
            seconds=round(time.time() - start, 2))
    append_jsonl(run.out, record)
    return record

"""Training-step throughput of SiameseIM, MAE and MoCo-v3 (ViT-B/16).

Builds each model from its config (SiameseIM from ours, MAE and MoCo-v3 from
the configs shipped inside mmpretrain), builds the optimizer wrapper with
mmengine's ``build_optim_wrapper`` and times full training steps
(``model.train_step``: data preprocessor, forward, loss, backward, gradient
clipping where configured, optimizer step) on one batch of random images
(SiameseIM's made by its config's own view, mask and packing transforms,
:func:`make_batch`), one process, one device. SyncBN is reverted to BN;
SiameseIM's TokenBN runs single-process.
Every step is bracketed by ``torch.cuda.synchronize()`` for timing only; the
reported ``img_per_s`` is ``batch / median step time`` over ``--steps`` steps
after ``--warmup`` steps. ``tflops`` is the achieved rate from the analytic
training FLOPs per image (:func:`train_gflops_per_image`; 1 MAC = 2 FLOPs,
backward = 2x forward for trained layers; docs/benchmarks.md).

One JSON line per (model, batch, dtype, compile) goes to stdout and, with
``--out``, is appended to that file. Eager configurations run first, then
the compiled ones (``--compile``, or only the models of
``--compile-models``); ``--deadline-s`` skips configurations that would
start late, so a long compilation costs compiled rows only.

Examples:
    # the GPU table (see tools/benchmarks/run_gpu_benchmarks.sh)
    python tools/benchmarks/pretrain_throughput.py --device cuda \\
        --models siameseim,mae,mocov3 --batch-sizes 64,128,256 \\
        --dtypes fp16,bf16 --steps 30 --warmup 10 --out results.jsonl
    # the short GPU command (see tools/benchmarks/gpu/throughput.sh)
    python tools/benchmarks/pretrain_throughput.py --device cuda \\
        --models siameseim,mae,mocov3 --compile-models siameseim,mae \\
        --batch-sizes 128 --dtypes bf16 --deadline-s 150 --out t.jsonl
    # CPU smoke test with tiny widths
    python tools/benchmarks/pretrain_throughput.py --device cpu --tiny \\
        --batch-sizes 4 --steps 2 --warmup 1
"""
import argparse
import copy
import datetime
import gc
import json
import math
import os
import os.path as osp
import platform
import statistics
import sys
import time
import traceback
import warnings
from typing import Dict, List, Optional, Sequence


import numpy as np
import torch

MODEL_NAMES = ('siameseim', 'mae', 'mocov3')
CONFIGS = dict(
    siameseim='configs/siameseim/'
    'siameseim_vit-base-p16_32xb128-amp-coslr-1600e_in1k.py',
    mae='mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py',
    mocov3='mmpretrain::mocov3/'
    'mocov3_vit-base-p16_16xb256-amp-coslr-300e_in1k.py')
DTYPES = dict(fp16='float16', bf16='bfloat16', fp32='float32')
REQUIRED_KEYS = ('model', 'batch', 'dtype', 'compile', 'img_per_s',
                 'peak_mem_gib', 'tflops', 'device', 'torch', 'date')

# ViT-B/16 at 224 and the heads of the three recipes (the paper's, mmpretrain
# configs). ``tiny`` (the CPU smoke test) holds the sizes of
# projects/study_bench/configs/_base_/sizes/tiny.py, read from that file.
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ARCH = dict(
    base=dict(
        img=224, patch=16, dims=768, depth=12, heads=12, ffn=3072,
        siam_dims=768, siam_heads=16, siam_ffn=3072, proj_depth=2,
        pred_depth=4, num_masked=118, mae_ratio=0.75, mae_dims=512,
        mae_depth=8, mae_heads=16, mae_ffn=2048, moco_hid=4096,
        moco_out=256))


def tiny_arch() -> dict:
    """:data:`ARCH` entry of the tiny sizes file (projector / predictor at
    the encoder width with mlp ratio 4, MAE's mask ratio 0.75, as the
    configs the file is merged into)."""
    from mmengine.config import Config
    from projects.study_bench.sizes import TINY_SIZES
    s = Config.fromfile(TINY_SIZES)
    enc, mae = s.encoder, s.mae_model.neck
    return dict(
        img=s.img_size, patch=s.patch_size, dims=enc.embed_dims,
        depth=enc.num_layers, heads=enc.num_heads,
        ffn=enc.feedforward_channels, siam_dims=enc.embed_dims,
        siam_heads=s.model.neck.num_heads, siam_ffn=4 * enc.embed_dims,
        proj_depth=s.model.neck.depth, pred_depth=s.model.head.depth,
        num_masked=s.num_masked, mae_ratio=0.75,
        mae_dims=mae.decoder_embed_dim, mae_depth=mae.decoder_depth,
        mae_heads=mae.decoder_num_heads,
        mae_ffn=int(mae.decoder_embed_dim * mae.mlp_ratio),
        moco_hid=s.mocov3_model.neck.hid_channels,
        moco_out=s.mocov3_model.neck.out_channels)


ARCH['tiny'] = tiny_arch()


# --------------------------------------------------------------------------
# FLOP counting (1 MAC = 2 FLOPs; docs/benchmarks.md)
# --------------------------------------------------------------------------
def block_macs(tokens: int, dims: int, ffn: int) -> int:
    """MACs of one pre-norm transformer block on ``tokens`` tokens.

    qkv + output projection ``4 d^2``, MLP ``2 d ffn`` per token, plus the two
    attention matmuls ``2 n^2 d``; with ``ffn = 4d`` this is the usual
    ``n (12 d^2) + 2 n^2 d``. Norms, softmax and GELU are ignored.
    """
    return tokens * (4 * dims * dims + 2 * dims * ffn) + 2 * tokens**2 * dims


def siameseim_macs(img: int = 224,
                   patch: int = 16,
                   dims: int = 768,
                   depth: int = 12,
                   ffn: int = 3072,
                   siam_dims: int = 768,
                   siam_ffn: int = 3072,
                   proj_depth: int = 2,
                   pred_depth: int = 4,
                   num_masked: int = 118,
                   batch: Optional[int] = None,
                   nxn_neg: bool = False,
                   **unused) -> Dict[str, float]:
    """Per-image MACs of one SiameseIM training step.

    Args:
        img, patch, dims, depth, ffn: Encoder geometry.
        siam_dims, siam_ffn, proj_depth, pred_depth: Projector/predictor.
        num_masked (int): Masked patches of view 1.
        batch (int, optional): Per-device batch, only for ``nxn_neg``.
        nxn_neg (bool): Count the negative term as officially coded (the
            diagonal of an ``N x N`` matrix, N = batch x patches) instead of
            the row-wise form this package uses.

    Returns:
        dict: ``online``, ``target``, ``loss`` forward MACs and ``train``
        (forward + backward of the online branch without the frozen patch
        embedding's backward, target forward, loss).
    """
    L = (img // patch)**2
    n_online = 1 + L - num_masked
    patch_embed = L * 3 * patch * patch * dims
    encoder = depth * block_macs(n_online, dims, ffn)
    projector = (n_online * dims * siam_dims +
                 proj_depth * block_macs(n_online, siam_dims, siam_ffn))
    rel_mlp = L * 2 * siam_dims * siam_dims
    n_pred = n_online + L
    predictor = (pred_depth * block_macs(n_pred, siam_dims, siam_ffn) +
                 n_pred * siam_dims * siam_dims)
    online = patch_embed + encoder + projector + rel_mlp + predictor
    target = (patch_embed + depth * block_macs(1 + L, dims, ffn) +
              (1 + L) * dims * siam_dims +
              proj_depth * block_macs(1 + L, siam_dims, siam_ffn))
    loss = 2 * L * siam_dims * siam_dims  # C = Y^T Y and (P C) . P
    train = 3 * (online - patch_embed) + patch_embed + target + loss
    if nxn_neg:
        if batch is None:
            raise ValueError('nxn_neg needs the per-device batch')
        train += 3 * batch * L * L * siam_dims
    return dict(online=online, target=target, loss=loss, train=train)


def mae_macs(img: int = 224,
             patch: int = 16,
             dims: int = 768,
             depth: int = 12,
             ffn: int = 3072,
             mae_ratio: float = 0.75,
             mae_dims: int = 512,
             mae_depth: int = 8,
             mae_ffn: int = 2048,
             **unused) -> Dict[str, float]:
    """Per-image MACs of one MAE training step (trainable patch embedding:
    forward + weight gradient)."""
    L = (img // patch)**2
    n_vis = 1 + int(L * (1 - mae_ratio))
    patch_embed = L * 3 * patch * patch * dims
    encoder = depth * block_macs(n_vis, dims, ffn)
    decoder = (n_vis * dims * mae_dims +
               mae_depth * block_macs(1 + L, mae_dims, mae_ffn) +
               (1 + L) * mae_dims * 3 * patch * patch)
    forward = patch_embed + encoder + decoder
    train = 3 * (forward - patch_embed) + 2 * patch_embed
    return dict(forward=forward, train=train)


def mocov3_macs(img: int = 224,
                patch: int = 16,
                dims: int = 768,
                depth: int = 12,
                ffn: int = 3072,
                moco_hid: int = 4096,
                moco_out: int = 256,
                batch: Optional[int] = None,
                **unused) -> Dict[str, float]:
    """Per-image MACs of one MoCo-v3 step: two views, each through the
    online encoder + 3-layer projector + 2-layer predictor (trained; frozen
    patch embedding) and the momentum encoder + projector; the two
    symmetric contrastive logits ``q k^T`` over the batch."""
    L = (img // patch)**2
    patch_embed = L * 3 * patch * patch * dims
    encoder = depth * block_macs(1 + L, dims, ffn)
    projector = dims * moco_hid + moco_hid * moco_hid + moco_hid * moco_out
    predictor = 2 * moco_hid * moco_out
    online = patch_embed + encoder + projector + predictor
    momentum = patch_embed + encoder + projector
    logits = 2 * (batch or 0) * moco_out  # two losses, per image
    train = 2 * (3 * (online - patch_embed) + patch_embed + momentum) + \
        3 * logits
    return dict(online=online, momentum=momentum, train=train)


def vit_inference_macs(img: int = 224,
                       patch: int = 16,
                       dims: int = 768,
                       depth: int = 12,
                       ffn: int = 3072,
                       **unused) -> float:
    """Forward MACs of a plain ViT on one image (cls + all patches)."""
    L = (img // patch)**2
    return L * 3 * patch * patch * dims + depth * block_macs(1 + L, dims, ffn)


def train_gflops_per_image(model: str,
                           batch: Optional[int] = None,
                           tiny: bool = False) -> float:
    """Training GFLOPs per image (1 MAC = 2 FLOPs) of ``model``.

    ViT-B values: SiameseIM 141.8, MAE 58.4 (≈ 29 GMAC), MoCo-v3 ≈ 280.4
    (docs/benchmarks.md).
    """
    arch = ARCH['tiny' if tiny else 'base']
    fn = dict(siameseim=siameseim_macs, mae=mae_macs, mocov3=mocov3_macs)
    return 2 * fn[model](batch=batch, **arch)['train'] / 1e9


# --------------------------------------------------------------------------
# Models, inputs, optimizer wrappers
# --------------------------------------------------------------------------
def resolve_config(path: str) -> str:
    """Turn ``mmpretrain::x/y.py`` into the file inside the installed
    package (``mmpretrain/.mim/configs/x/y.py``); others are repo-relative
    unless absolute."""
    if path.startswith('mmpretrain::'):
        import mmpretrain
        root = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs')
        return osp.join(root, path[len('mmpretrain::'):])
    return path if osp.isabs(path) else osp.join(REPO_ROOT, path)


def load_config(name: str, tiny: bool, cfg_options: Optional[dict] = None):
    """The config of ``name`` (ViT-B/16, or tiny), with overrides."""
    from mmengine.config import Config
    cfg = Config.fromfile(resolve_config(CONFIGS[name]))
    if cfg.get('data_preprocessor') and \
            'data_preprocessor' not in cfg.model:
        cfg.model.data_preprocessor = cfg.data_preprocessor
    if tiny:
        from projects.study_bench.sizes import TINY_SIZES, apply_sizes
        apply_sizes(cfg, TINY_SIZES, model_key=dict(
            siameseim='model', mae='mae_model',
            mocov3='mocov3_model')[name])
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def build_model(name: str, cfg, device: torch.device) -> torch.nn.Module:
    """Build, initialise, revert SyncBN and move the model to ``device``."""
    from mmengine.model import revert_sync_batchnorm
    from mmpretrain.registry import MODELS
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    model = revert_sync_batchnorm(model)
    return model.to(device).train()


def build_optim_wrapper(model, cfg, dtype: str, device: torch.device,
                        fused_adamw: bool):
    """mmengine's ``build_optim_wrapper`` on the config's optimizer, with
    AMP in ``dtype`` on accelerators (bf16: loss scaling off) and a plain
    ``OptimWrapper`` in fp32 (or on the CPU)."""
    from mmengine.optim import build_optim_wrapper as build
    ow = copy.deepcopy(cfg.optim_wrapper)
    if device.type == 'cpu' or dtype == 'fp32':
        ow.type = 'OptimWrapper'
        ow.pop('loss_scale', None)
        ow.pop('dtype', None)
    else:
        ow.type = 'AmpOptimWrapper'
        ow.dtype = DTYPES[dtype]
        if dtype == 'bf16':
            ow.loss_scale = dict(enabled=False)
    if fused_adamw:
        ow.optimizer.fused = True
    return build(model, ow)


def siameseim_transforms(cfg) -> list:
    """The config's own SiameseIM transforms after image loading.

    ``SiameseIMViews`` (with its colour ops), the mask generator and
    ``PackInputs`` of ``train_dataloader.dataset.pipeline``; with ``--tiny``
    :func:`load_config` has already resized the view size and mask grid.
    """
    from mmpretrain.registry import TRANSFORMS
    return [
        TRANSFORMS.build(copy.deepcopy(t))
        for t in cfg.train_dataloader.dataset.pipeline
        if 'Load' not in t['type']  # the images are made here
    ]


def make_batch(name: str,
               batch: int,
               device: torch.device,
               tiny: bool,
               seed: int = 0,
               cfg=None,
               model=None) -> dict:
    """A collated batch as the dataloader would give it.

    uint8 images already on ``device`` (no host-to-device copy is timed).
    SiameseIM's samples come from the config's own transforms
    (:func:`siameseim_transforms`: two views with their geometry, the
    mask, ``PackInputs``) run on random images and collated with
    ``default_collate``; ``model.check_data_pipeline`` checks them against
    the model first. MAE and MoCo-v3 take random images (their losses need
    no metadata).

    Args:
        name (str): One of :data:`MODEL_NAMES`.
        batch (int): Batch size.
        device (torch.device): Where the images go.
        tiny (bool): :data:`ARCH` ``['tiny']`` sizes.
        seed (int): Seed of the images and the transforms. Defaults to 0.
        cfg (Config, optional): The config (SiameseIM only).
        model (SiameseIM, optional): The model (SiameseIM only).
    """
    arch = ARCH['tiny' if tiny else 'base']
    size = arch['img']
    g = torch.Generator().manual_seed(seed)
    if name == 'siameseim':
        from mmcv.transforms import Compose
        from mmengine.dataset import default_collate
        transforms = siameseim_transforms(cfg)
        model.check_data_pipeline(transforms)
        pipeline = Compose(transforms)
        np.random.seed(seed)  # the transforms draw from NumPy's global RNG
        images = torch.randint(
            0, 256, (batch, size + size // 4, size + size // 2, 3),
            generator=g, dtype=torch.uint8).numpy()
        data = default_collate([pipeline(dict(img=img)) for img in images])
        data['inputs'] = [v.to(device) for v in data['inputs']]
        return data
    num_views = 1 if name == 'mae' else 2
    views = [
        torch.randint(0, 256, (batch, 3, size, size), generator=g,
                      dtype=torch.uint8).to(device)
        for _ in range(num_views)
    ]
    inputs = views[0] if name == 'mae' else views
    from mmpretrain.structures import DataSample
    return dict(
        inputs=inputs, data_samples=[DataSample() for _ in range(batch)])


def compile_model(model: torch.nn.Module,
                  target: str,
                  backend: str = 'inductor') -> torch.nn.Module:
    """``torch.compile`` the model.

    ``modules``: ``nn.Module.compile()`` (in place, state-dict keys kept) on
    ``backbone``, ``neck``, ``head`` and every momentum encoder's module; the
    loss, EMA update and optimizer stay eager. NumPy-scalar drop-path rates
    are turned into Python floats first (same value; avoids a graph break
    per block in mmpretrain's ViTs). ``train_step``: what
    mmengine's Runner does for ``cfg.compile = True``
    (``model.train_step = torch.compile(model.train_step)``).
    """
    from mmengine.model import BaseAveragedModel

    from mmsiameseim.models.utils import float_drop_path_rates

    # SiameseIMViT converts its own rates; do the same for MAE / MoCo-v3.
    float_drop_path_rates(model)
    if target == 'train_step':
        model.train_step = torch.compile(model.train_step, backend=backend)
        return model
    for name in ('backbone', 'neck', 'head'):
        module = getattr(model, name, None)
        if module is not None:
            module.compile(backend=backend)
    for module in model.modules():
        if isinstance(module, BaseAveragedModel):
            module.module.compile(backend=backend)
    return model


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------
def round_sig(value: float, digits: int = 4) -> float:
    """Round to ``digits`` significant digits (tiny runs stay non-zero)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def device_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return f'{cpu} ({os.cpu_count()} logical CPUs, ' \
        f'{torch.get_num_threads()} torch threads)'


def count_host_syncs(step, device: torch.device) -> Optional[int]:
    """Synchronising CUDA calls of one step (``set_sync_debug_mode``)."""
    if device.type != 'cuda':
        return None
    torch.cuda.synchronize(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try:
            step()
        finally:
            torch.cuda.set_sync_debug_mode('default')
    return sum('synchroniz' in str(w.message).lower() for w in caught)


def time_steps(step, device: torch.device, steps: int,
               warmup: int) -> List[float]:
    """Seconds per step of ``steps`` steps after ``warmup`` steps."""
    cuda = device.type == 'cuda'
    times = []
    for i in range(warmup + steps):
        if cuda:
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def run_one(name: str, batch: int, dtype: str, compile_target: str,
            args: argparse.Namespace, device: torch.device,
            cfg_options: Optional[dict]) -> dict:
    """Build, warm up and time one configuration; returns its record."""
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info(
        'max_iters', 10 * (args.steps + args.warmup + 2))
    cfg = load_config(name, args.tiny, cfg_options)
    model = build_model(name, cfg, device)
    if compile_target:
        model = compile_model(model, compile_target, args.compile_backend)
    optim_wrapper = build_optim_wrapper(model, cfg, dtype, device,
                                        args.fused_adamw)
    data = make_batch(name, batch, device, args.tiny, args.seed, cfg, model)
    last = {}

    def step():
        last['log_vars'] = model.train_step(data, optim_wrapper)

    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times = time_steps(step, device, args.steps, args.warmup)
    peak = None
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device) / 2**30
    syncs = count_host_syncs(step, device) if args.sync_debug else None
    loss = float(last['log_vars']['loss'].detach())
    median = statistics.median(times)
    gflops = train_gflops_per_image(name, batch, args.tiny)
    img_per_s = batch / median
    return dict(
        model=name,
        batch=batch,
        dtype=dtype,
        compile=compile_target or False,
        img_per_s=round(img_per_s, 2),
        step_ms=round(1e3 * median, 3),
        step_ms_min=round(1e3 * min(times), 3),
        steps=len(times),
        warmup=args.warmup,
        peak_mem_gib=None if peak is None else round(peak, 3),
        gflop_per_img=round_sig(gflops),
        tflops=round_sig(img_per_s * gflops / 1e3),
        host_syncs=syncs,
        loss=loss if math.isfinite(loss) else str(loss),
        optim_wrapper=type(optim_wrapper).__name__,
        fused_adamw=args.fused_adamw,
        tf32=args.tf32,
        tiny=args.tiny,
        config=CONFIGS[name],
        cfg_options=cfg_options or None,
        status='ok')


def environment(device: torch.device) -> dict:
    import mmengine
    import mmpretrain
    return dict(
        device=device_name(device),
        torch=torch.__version__,
        cuda=torch.version.cuda,
        mmengine=mmengine.__version__,
        mmpretrain=mmpretrain.__version__,
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds'))


def summarize(path: str) -> str:
    """A markdown table of the JSON lines in ``path``."""
    head = ('| model | batch | dtype | compile | options | img/s | step ms '
            '| peak GiB | TFLOP/s | host syncs | status |')
    rows = [head, '|' + '---|' * head.count(' | ') + '---|']
    with open(path) as f:
        records = [json.loads(line) for line in f if line.startswith('{')]
    for r in records:
        opts = [f'{k.split(".")[-1]}={v}'
                for k, v in (r.get('cfg_options') or {}).items()]
        opts += [k for k in ('fused_adamw', 'tf32') if r.get(k)]
        cells = [
            r['model'], r['batch'], r['dtype'], r['compile'] or 'eager',
            ', '.join(opts) or '-', r.get('img_per_s'), r.get('step_ms'),
            r.get('peak_mem_gib'), r.get('tflops'), r.get('host_syncs'),
            r['status']
        ]
        rows.append('| ' + ' | '.join(
            '-' if c is None else str(c) for c in cells) + ' |')
    if records:
        r = records[0]
        rows.append(f"\n{r['device']}, torch {r['torch']}, "
                    f"mmpretrain {r['mmpretrain']}, {r['date']}")
    return '\n'.join(rows)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------
def _csv(kind, choices=None):

    def parse(text: str):
        items = [kind(t) for t in text.split(',') if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError('empty list')
        if choices is not None:
            bad = [t for t in items if t not in choices]
            if bad:
                raise argparse.ArgumentTypeError(
                    f'unknown {bad}; choose from {list(choices)}')
        return items

    return parse


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Pretraining step throughput (JSON lines).')
    parser.add_argument(
        '--models',
        type=_csv(str, MODEL_NAMES),
        default=list(MODEL_NAMES),
        help='comma-separated subset of siameseim,mae,mocov3')
    parser.add_argument(
        '--batch-sizes',
        type=_csv(int),
        default=[64, 128, 256],
        help='per-device batch sizes, e.g. 64,128,256')
    parser.add_argument(
        '--dtypes',
        type=_csv(str, DTYPES),
        default=['fp16', 'bf16'],
        help='AMP dtypes (fp16, bf16) or fp32; the CPU runs fp32 only')
    parser.add_argument('--steps', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument(
        '--compile',
        action='store_true',
        help='also time each configuration with torch.compile')
    parser.add_argument(
        '--compile-only',
        action='store_true',
        help='time only the compiled runs (implies --compile)')
    parser.add_argument(
        '--compile-models',
        type=_csv(str, MODEL_NAMES),
        default=None,
        help='models that also get a compiled run (implies --compile; '
        'default with --compile: all of --models)')
    parser.add_argument(
        '--deadline-s',
        type=float,
        default=None,
        help='start no configuration but the first later than this many '
        'seconds after the first started; those get a status="skipped" '
        'record')
    parser.add_argument(
        '--compile-target',
        choices=('modules', 'train_step'),
        default='modules',
        help='what --compile compiles (see compile_model)')
    parser.add_argument(
        '--compile-backend',
        default='inductor',
        help="torch.compile backend ('eager' checks tracing only)")
    parser.add_argument('--device', default='cuda')
    parser.add_argument(
        '--tiny',
        action='store_true',
        help='tiny widths and 32 px images (CPU smoke test)')
    parser.add_argument(
        '--tf32',
        action='store_true',
        help='allow TF32 matmuls/convolutions (off by default, as upstream)')
    parser.add_argument(
        '--fused-adamw',
        action='store_true',
        help='AdamW(fused=True) instead of the default foreach AdamW')
    parser.add_argument(
        '--sync-debug',
        action='store_true',
        help='after timing, count synchronising CUDA calls of one step')
    parser.add_argument(
        '--siameseim-cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides of the SiameseIM config, e.g. '
        'model.backbone.num_masked=118 model.sync_free_ema=False')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='append the JSON lines to this file')
    parser.add_argument(
        '--summarize',
        metavar='JSONL',
        help='only print a markdown table of an earlier output file')
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        parser.error('--steps must be >= 1 and --warmup >= 0')
    if args.compile_models is not None:
        args.compile = True
        unknown = [m for m in args.compile_models if m not in args.models]
        if unknown:
            parser.error(f'--compile-models {unknown} not in --models')
    if args.compile_only:
        args.compile = True
    if args.deadline_s is not None and args.deadline_s <= 0:
        parser.error('--deadline-s must be > 0')
    return args


def run_plan(args: argparse.Namespace,
             dtypes: Sequence[str]) -> List[tuple]:
    """``(model, batch, dtype, compile target)`` in the order they run.

    Every eager configuration comes first and every compiled one after, so
    that a compilation that runs long (or past ``--deadline-s``) costs only
    compiled rows. ``''`` is eager.
    """
    compiled = args.compile_models if args.compile_models is not None \
        else args.models
    eager = [] if args.compile_only else [
        (name, batch, dtype, '') for name in args.models
        for batch in args.batch_sizes for dtype in dtypes
    ]
    if not args.compile:
        return eager
    return eager + [(name, batch, dtype, args.compile_target)
                    for name in args.models if name in compiled
                    for batch in args.batch_sizes for dtype in dtypes]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.summarize:
        print(summarize(args.summarize))
        return 0
    if args.steps < 20 and not args.tiny:
        print('warning: --steps < 20; the median is noisy', file=sys.stderr)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        print('error: CUDA is not available; use --device cpu --tiny',
              file=sys.stderr)
        return 2
    dtypes = args.dtypes
    if device.type == 'cpu' and dtypes != ['fp32']:
        print('note: AMP needs an accelerator; the CPU runs fp32',
              file=sys.stderr)
        dtypes = ['fp32']
    if device.type == 'cuda':
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cudnn.benchmark = True

    import logging

    from mmengine.logging import MMLogger
    from mmpretrain.utils import register_all_modules

    import mmsiameseim  # noqa: F401  registers our modules
    register_all_modules(init_default_scope=True)
    # mmengine logs to stdout: keep stdout for the JSON lines
    MMLogger.get_instance('mmengine').setLevel(logging.ERROR)
    env = environment(device)
    failures = 0
    start = time.monotonic()
    for index, (name, batch, dtype, target) in enumerate(
            run_plan(args, dtypes)):
        cfg_options = args.siameseim_cfg_options if name == 'siameseim' \
            else None
        torch.manual_seed(args.seed)
        elapsed = time.monotonic() - start
        if index and args.deadline_s is not None and \
                elapsed > args.deadline_s:
            record = dict(
                model=name, batch=batch, dtype=dtype, compile=target or False,
                img_per_s=None, peak_mem_gib=None, tflops=None,
                status='skipped',
                error=f'not started: {elapsed:.0f} s > --deadline-s '
                f'{args.deadline_s:g}')
        else:
            try:
                record = run_one(name, batch, dtype, target, args, device,
                                 cfg_options)
            except torch.cuda.OutOfMemoryError as exc:
                record = dict(
                    model=name, batch=batch, dtype=dtype,
                    compile=target or False, img_per_s=None,
                    peak_mem_gib=None, tflops=None, status='oom',
                    error=str(exc).splitlines()[0])
            except Exception as exc:  # keep the table going
                failures += 1
                traceback.print_exc()
                record = dict(
                    model=name, batch=batch, dtype=dtype,
                    compile=target or False, img_per_s=None,
                    peak_mem_gib=None, tflops=None, status='error',
                    error=f'{type(exc).__name__}: {exc}'[:500])
        record['seconds'] = round(time.monotonic() - start - elapsed, 3)
        record.update(env)
        line = json.dumps(record, sort_keys=False)
        print(line, flush=True)
        if args.out:
            os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
            with open(args.out, 'a') as f:
                f.write(line + '\n')
        gc.collect()
        if device.type == 'cuda':
            torch.cuda.empty_cache()
        if target:
            torch._dynamo.reset()
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())

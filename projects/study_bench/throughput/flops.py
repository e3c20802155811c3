"""Analytic training FLOPs of SiameseIM, MAE and MoCo v3 (1 MAC = 2 FLOPs;
docs/benchmarks.md).

The counters take the geometry of the model they count
(:func:`flop_sizes`), read from the very config that is timed (the ViT-B/16
configs, or the same configs at the tiny test size), so no size table
repeats what the configs say.
"""
from types import SimpleNamespace
from typing import Dict, Optional

from ..sizes import vit_arch


def block_macs(tokens: int, dims: int, ffn: int) -> int:
    """MACs of one pre-norm transformer block on ``tokens`` tokens.

    qkv + output projection ``4 d^2``, MLP ``2 d ffn`` per token, plus the two
    attention matmuls ``2 n^2 d``; with ``ffn = 4d`` this is the usual
    ``n (12 d^2) + 2 n^2 d``. Norms, softmax and GELU are ignored.
    """
    return tokens * (4 * dims * dims + 2 * dims * ffn) + 2 * tokens**2 * dims


def _patch_embed(s) -> tuple:
    """Patches per image and MACs of the patch embedding."""
    L = (s.img // s.patch)**2
    return L, L * 3 * s.patch * s.patch * s.dims


def siameseim_macs(sizes: dict,
                   batch: Optional[int] = None,
                   nxn_neg: bool = False) -> Dict[str, float]:
    """Per-image MACs of one SiameseIM training step.

    Args:
        sizes (dict): :func:`flop_sizes` of SiameseIM: encoder geometry
            (``img``, ``patch``, ``dims``, ``depth``, ``ffn``), projector /
            predictor (``siam_dims``, ``siam_ffn``, ``proj_depth``,
            ``pred_depth``) and ``num_masked`` (patches of view 1).
        batch (int, optional): Per-device batch, only for ``nxn_neg``.
        nxn_neg (bool): Count the negative term as officially coded (the
            diagonal of an ``N x N`` matrix, N = batch x patches) instead of
            the row-wise form this package uses.

    Returns:
        dict: ``online``, ``target``, ``loss`` forward MACs and ``train``
        (forward + backward of the online branch without the frozen patch
        embedding's backward, target forward, loss).
    """
    s = SimpleNamespace(**sizes)
    L, patch_embed = _patch_embed(s)
    n_online = 1 + L - s.num_masked
    encoder = s.depth * block_macs(n_online, s.dims, s.ffn)
    projector = (n_online * s.dims * s.siam_dims + s.proj_depth *
                 block_macs(n_online, s.siam_dims, s.siam_ffn))
    rel_mlp = L * 2 * s.siam_dims * s.siam_dims
    n_pred = n_online + L
    predictor = (s.pred_depth * block_macs(n_pred, s.siam_dims, s.siam_ffn) +
                 n_pred * s.siam_dims * s.siam_dims)
    online = patch_embed + encoder + projector + rel_mlp + predictor
    target = (patch_embed + s.depth * block_macs(1 + L, s.dims, s.ffn) +
              (1 + L) * s.dims * s.siam_dims +
              s.proj_depth * block_macs(1 + L, s.siam_dims, s.siam_ffn))
    loss = 2 * L * s.siam_dims * s.siam_dims  # C = Y^T Y and (P C) . P
    train = 3 * (online - patch_embed) + patch_embed + target + loss
    if nxn_neg:
        if batch is None:
            raise ValueError('nxn_neg needs the per-device batch')
        train += 3 * batch * L * L * s.siam_dims
    return dict(online=online, target=target, loss=loss, train=train)


def mae_macs(sizes: dict, batch: Optional[int] = None) -> Dict[str, float]:
    """Per-image MACs of one MAE training step (trainable patch embedding:
    forward + weight gradient); ``sizes``: :func:`flop_sizes` of MAE."""
    s = SimpleNamespace(**sizes)
    L, patch_embed = _patch_embed(s)
    n_vis = 1 + int(L * (1 - s.mae_ratio))
    encoder = s.depth * block_macs(n_vis, s.dims, s.ffn)
    decoder = (n_vis * s.dims * s.mae_dims +
               s.mae_depth * block_macs(1 + L, s.mae_dims, s.mae_ffn) +
               (1 + L) * s.mae_dims * 3 * s.patch * s.patch)
    forward = patch_embed + encoder + decoder
    train = 3 * (forward - patch_embed) + 2 * patch_embed
    return dict(forward=forward, train=train)


def mocov3_macs(sizes: dict, batch: Optional[int] = None) -> Dict[str, float]:
    """Per-image MACs of one MoCo-v3 step: two views, each through the
    online encoder + 3-layer projector + 2-layer predictor (trained; frozen
    patch embedding) and the momentum encoder + projector; the two
    symmetric contrastive logits ``q k^T`` over the batch; ``sizes``:
    :func:`flop_sizes` of MoCo v3."""
    s = SimpleNamespace(**sizes)
    _, patch_embed = _patch_embed(s)
    encoder = vit_inference_macs(sizes) - patch_embed
    projector = (s.dims * s.moco_hid + s.moco_hid * s.moco_hid +
                 s.moco_hid * s.moco_out)
    predictor = 2 * s.moco_hid * s.moco_out
    online = patch_embed + encoder + projector + predictor
    momentum = patch_embed + encoder + projector
    logits = 2 * (batch or 0) * s.moco_out  # two losses, per image
    train = 2 * (3 * (online - patch_embed) + patch_embed + momentum) + \
        3 * logits
    return dict(online=online, momentum=momentum, train=train)


def vit_inference_macs(sizes: dict) -> float:
    """Forward MACs of a plain ViT on one image (cls + all patches)."""
    s = SimpleNamespace(**sizes)
    L, patch_embed = _patch_embed(s)
    return patch_embed + s.depth * block_macs(1 + L, s.dims, s.ffn)


def vit_sizes(backbone: dict) -> Dict[str, int]:
    """``img``, ``patch``, ``dims``, ``depth``, ``heads``, ``ffn`` of an
    mmpretrain ViT backbone config."""
    arch = vit_arch(backbone)
    return dict(
        img=int(backbone.get('img_size', 224)),
        patch=int(backbone.get('patch_size', 16)),
        dims=arch['embed_dims'],
        depth=arch['num_layers'],
        heads=arch['num_heads'],
        ffn=arch['feedforward_channels'])


def flop_sizes(name: str, cfg) -> Dict[str, float]:
    """The keyword arguments of ``{name}_macs`` read from ``cfg.model``.

    Args:
        name (str): ``'siameseim'``, ``'mae'`` or ``'mocov3'``.
        cfg (Config): The model's config (at whatever size it is timed).

    Returns:
        dict: The encoder's geometry plus the method's own sizes.
    """
    model = cfg.model
    sizes = vit_sizes(model.backbone)
    if name == 'siameseim':
        # the projector / predictor widths follow the encoder unless given
        dims = model.neck.get('embed_dims', sizes['dims'])
        sizes.update(
            siam_dims=dims,
            siam_heads=model.neck.num_heads,
            siam_ffn=int(dims * model.neck.get('mlp_ratio', 4.)),
            proj_depth=model.neck.depth,
            pred_depth=model.head.depth,
            num_masked=model.backbone.num_masked)
    elif name == 'mae':
        neck = model.neck
        sizes.update(
            mae_ratio=model.backbone.get('mask_ratio', 0.75),
            mae_dims=neck.decoder_embed_dim,
            mae_depth=neck.decoder_depth,
            mae_heads=neck.decoder_num_heads,
            mae_ffn=int(neck.decoder_embed_dim * neck.get('mlp_ratio', 4.)))
    elif name == 'mocov3':
        sizes.update(moco_hid=model.neck.hid_channels,
                     moco_out=model.neck.out_channels)
    else:
        raise ValueError(f'no FLOP counter for {name!r}')
    return sizes


def train_gflops_per_image(name: str,
                           sizes: dict,
                           batch: Optional[int] = None) -> float:
    """Training GFLOPs per image (1 MAC = 2 FLOPs) of ``name``.

    ViT-B values: SiameseIM 141.8, MAE 58.4 (≈ 29 GMAC), MoCo-v3 ≈ 280.4
    (docs/benchmarks.md).

    Args:
        name (str): ``'siameseim'``, ``'mae'`` or ``'mocov3'``.
        sizes (dict): From :func:`flop_sizes`.
        batch (int, optional): Per-device batch (MoCo v3's logits).
    """
    fn = dict(siameseim=siameseim_macs, mae=mae_macs, mocov3=mocov3_macs)
    return 2 * fn[name](sizes, batch=batch)['train'] / 1e9

"""The fast (sync-free) paths compute exactly what the plain paths compute.

Covers the speed work of the "pretraining speed" issue: the gather that
replaces boolean indexing of visible tokens, the predictor's table gather,
the ``loss_tokens='masked'`` gather, the host-side EMA step count, and the
attention kernel mmpretrain's blocks use (``F.scaled_dot_product_attention``
against an explicit softmax reference written here). A meta-device run shows
that one training step reads no tensor value back to the host.
"""
import contextlib
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmpretrain.models.utils.attention import MultiheadAttention
from test_models.siameseim_tiny import EMBED, GRID, build_tiny, make_batch

from mmsiameseim.models.utils import unmasked_index


@pytest.fixture(autouse=True)
def max_iters():
    MessageHub.get_current_instance().update_info('max_iters', 100)
    yield


def _random_masks(batch, length, count, seed):
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(batch, length, dtype=torch.bool)
    for b in range(batch):
        mask[b, torch.randperm(length, generator=g)[:count]] = True
    return mask


@pytest.mark.parametrize('batch,length,count', [(1, 4, 0), (3, 16, 9),
                                                (5, 196, 118), (2, 196, 195)])
def test_unmasked_index_gather_equals_boolean_indexing(batch, length, count):
    mask = _random_masks(batch, length, count, seed=length + count)
    x = torch.randn(batch, length, 7, requires_grad=True)
    index = unmasked_index(mask, length - count)
    assert index.dtype == torch.long
    assert index.shape == (batch, length - count)
    fast = x.gather(1, index[..., None].expand(-1, -1, 7))
    plain = x[~mask].reshape(batch, length - count, 7)
    assert torch.equal(fast, plain)
    w = torch.randn_like(plain)
    g_fast, = torch.autograd.grad((fast * w).sum(), x)
    g_plain, = torch.autograd.grad((plain * w).sum(), x)
    assert torch.equal(g_fast, g_plain)
    # raster order inside every row
    assert torch.all(index[:, 1:] > index[:, :-1])


def _plain_masked_forward(backbone, x, mask):
    """The boolean-indexing masked forward (the code before the change)."""
    B = x.shape[0]
    tokens, _ = backbone.patch_embed(x)
    tokens = tokens + backbone.pos_embed[:, 1:]
    tokens = tokens[~mask.reshape(B, -1)].reshape(B, -1, backbone.embed_dims)
    cls = (backbone.cls_token + backbone.pos_embed[:, :1]).expand(B, -1, -1)
    tokens = backbone.drop_after_pos(torch.cat([cls, tokens], dim=1))
    return backbone._run_layers(backbone.pre_norm(tokens))


@pytest.mark.parametrize('num_masked', [None, 9])
def test_backbone_masked_forward_equals_boolean_path(num_masked):
    torch.manual_seed(0)
    model = build_tiny(backbone=dict(num_masked=num_masked))
    backbone = model.backbone
    x = torch.randn(3, 3, 32, 32)
    mask = _random_masks(3, GRID * GRID, 9, seed=1)
    fast = backbone(x, mask)
    plain = _plain_masked_forward(backbone, x, mask)
    assert torch.equal(fast, plain)
    params = [p for p in backbone.parameters() if p.requires_grad]
    g_fast = torch.autograd.grad(fast.square().sum(), params)
    g_plain = torch.autograd.grad(plain.square().sum(), params)
    for a, b in zip(g_fast, g_plain):
        assert torch.equal(a, b)


def test_backbone_num_masked_is_checked_on_cpu():
    model = build_tiny(backbone=dict(num_masked=8))
    mask = _random_masks(2, GRID * GRID, 9, seed=2)
    with pytest.raises(ValueError, match='expected 8'):
        model.backbone(torch.randn(2, 3, 32, 32), mask)
    with pytest.raises(ValueError, match='num_masked'):
        build_tiny(backbone=dict(num_masked=GRID * GRID))


def _plain_predictor(head, latent, mask, rel_pos):
    """The predictor's forward with boolean indexing (before the change)."""
    from mmsiameseim.models.utils.relative_position import \
        relative_sincos_embedding
    B, num_tokens, C = latent.shape
    visible = ~mask.reshape(B, -1)
    table = head.pos_embed.to(latent.dtype)
    vis_pe = table[:, 1:].expand(B, -1, -1)[visible]
    vis_pe = vis_pe.reshape(B, num_tokens - 1, C)
    rel_code = relative_sincos_embedding(rel_pos.float(), head.grid_size,
                                         head.embed_dims)
    queries = head.mask_token + head.rel_pos_mlp(rel_code)
    z = torch.cat(
        [latent[:, :1] + table[:, :1], latent[:, 1:] + vis_pe, queries],
        dim=1)
    for block in head.blocks:
        z = block(z)
    z = head.out_proj(z)
    return z[:, :1], z[:, num_tokens:]


def test_predictor_gather_equals_boolean_path():
    torch.manual_seed(0)
    model = build_tiny()
    _, samples = make_batch(batch=3)
    mask, rel = model.gather_meta(samples, torch.device('cpu'))
    latent = torch.randn(3, 1 + GRID * GRID - 9, EMBED)
    fast = model.head(latent, mask, rel)
    plain = _plain_predictor(model.head, latent, mask, rel)
    for a, b in zip(fast, plain):
        assert torch.equal(a, b)


def test_masked_loss_tokens_gather_equals_boolean_path():
    torch.manual_seed(0)
    model = build_tiny(loss_tokens='masked')
    views, samples = make_batch(batch=3)
    loss = model.loss(views, samples)['loss']
    # recompute with boolean indexing, same weights, same (fresh) EMA state
    torch.manual_seed(0)
    ref = build_tiny(loss_tokens='masked')
    mask, rel = ref.gather_meta(samples, torch.device('cpu'))
    latent = ref.neck(ref.backbone(views[0], mask))
    _, pred = ref.head(latent, mask, rel)
    target = ref.compute_targets(views[1])[:, 1:]
    pred = pred[mask].reshape(3, -1, pred.shape[-1])
    target = target[mask].reshape(3, -1, target.shape[-1])
    assert pred.shape[1] == 9
    assert torch.equal(loss, ref.head.loss_module(pred, target))


def _train_steps(model, steps=3, lr=0.05):
    """A few SGD steps; returns the losses and the EMA state per step."""
    optim = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=lr)
    views, samples = make_batch(batch=4)
    losses, states = [], []
    for _ in range(steps):
        loss = model.loss(views, samples)['loss']
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.detach())
        states.append(copy.deepcopy(model.target_encoder.state_dict()))
    return losses, states


def test_sync_free_ema_equals_cosine_ema_update_parameters():
    torch.manual_seed(0)
    fast = build_tiny(sync_free_ema=True)
    plain = copy.deepcopy(fast)
    plain.sync_free_ema = False
    fast_losses, fast_states = _train_steps(fast)
    plain_losses, plain_states = _train_steps(plain)
    for a, b in zip(fast_losses, plain_losses):
        assert torch.equal(a, b)
    for sa, sb in zip(fast_states, plain_states):
        assert sa.keys() == sb.keys()
        for k in sa:
            assert torch.equal(sa[k], sb[k]), k
    assert int(fast.target_encoder.steps) == 3


def test_sync_free_ema_rereads_steps_after_state_dict_load():
    torch.manual_seed(0)
    model = build_tiny()
    _train_steps(model, steps=2)
    assert model._ema_host_steps() == 2
    state = copy.deepcopy(model.target_encoder.state_dict())
    state['steps'] = torch.tensor(0)  # e.g. resuming another checkpoint
    model.target_encoder.load_state_dict(state)
    assert model._ema_host_steps() == 0
    model.target_encoder.steps = torch.tensor(7)  # buffer replaced
    assert model._ema_host_steps() == 7


def _explicit_attention(attn, x):
    """Softmax attention written out, with the max subtracted (as the
    original implementation)."""
    B, N, _ = x.shape
    heads, dims = attn.num_heads, attn.head_dims
    qkv = attn.qkv(x).reshape(B, N, 3, heads, dims).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    logits = (q @ k.transpose(-2, -1)) * dims**-0.5
    logits = logits - logits.amax(-1, keepdim=True)
    weights = logits.exp()
    weights = weights / weights.sum(-1, keepdim=True)
    out = (weights @ v).transpose(1, 2).reshape(B, N, heads * dims)
    return attn.proj(out)


def test_blocks_use_sdpa_and_match_explicit_attention():
    torch.manual_seed(0)
    model = build_tiny()
    attns = [m for m in model.modules() if isinstance(m, MultiheadAttention)]
    assert len(attns) == 2 + 1 + 1 + 3  # backbone, neck, head, EMA copy
    for attn in attns:
        assert attn.scaled_dot_product_attention is \
            F.scaled_dot_product_attention
    attn = MultiheadAttention(embed_dims=96, num_heads=2).eval()
    x = torch.randn(3, 79, 96)
    torch.testing.assert_close(
        attn(x), _explicit_attention(attn, x), rtol=1e-5, atol=1e-5)


def test_training_step_reads_nothing_back_on_meta_device(monkeypatch):
    """On the meta device any ``.item()``, ``nonzero`` or ``tolist`` fails.

    With the mask count configured (``num_masked``) and after the first
    EMA step (whose step count is read once), a whole training step runs
    without reading a tensor value back to the host, so on a GPU it queues
    kernels without waiting for the device.
    """
    autocast = torch.autocast

    def meta_autocast(device_type, *args, **kwargs):
        if device_type == 'meta':  # autocast has no meta backend
            return contextlib.nullcontext()
        return autocast(device_type, *args, **kwargs)

    monkeypatch.setattr(torch, 'autocast', meta_autocast)
    torch.manual_seed(0)
    model = build_tiny(backbone=dict(num_masked=9))
    views, samples = make_batch(batch=2)
    model.loss(views, samples)['loss'].backward()  # EMA steps: 0 -> 1
    model.to('meta')
    ema = model.target_encoder
    # cpu -> meta swaps the Parameter objects (cpu -> cuda keeps them)
    ema.avg_parameters = dict(ema.module.named_parameters())
    model._ema_steps_cache.update(
        tensor=ema.steps, version=ema.steps._version, value=1)
    for sample in samples:
        sample.set_mask(sample.mask.to('meta'))
    meta_views = [v.to('meta') for v in views]
    loss = model.loss(meta_views, samples)['loss']
    loss.backward()
    assert loss.device.type == 'meta'
    # Without the configured count the backbone reads the mask once.
    model.backbone.num_masked = None
    with pytest.raises((NotImplementedError, RuntimeError)):
        model.loss(meta_views, samples)


def test_sync_free_flags_keep_results_of_default_model():
    """``num_masked`` changes nothing numerically."""
    torch.manual_seed(0)
    a = build_tiny()
    b = copy.deepcopy(a)
    b.backbone.num_masked = 9
    views, samples = make_batch(batch=3)
    assert torch.equal(
        a.loss(views, samples)['loss'],
        b.loss(views, samples)['loss'])


def test_drop_path_rates_are_python_floats():
    model = build_tiny(backbone=dict(drop_path_rate=0.1))
    rates = [
        m.drop_prob for m in model.backbone.modules()
        if hasattr(m, 'drop_prob')
    ]
    assert rates and all(type(r) is float for r in rates)
    assert max(rates) == pytest.approx(0.1) and min(rates) == 0.


def test_compiled_step_has_no_graph_breaks_with_fixed_mask_count():
    """``torch.compile`` traces backbone, neck and head in whole graphs."""
    from torch._dynamo.utils import counters
    torch._dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    model = build_tiny(backbone=dict(num_masked=9))
    ref = copy.deepcopy(model)
    for module in (model.backbone, model.neck, model.head,
                   model.target_encoder.module):
        module.compile(backend='eager')
    views, samples = make_batch(batch=2)
    try:
        loss = model.loss(views, samples)['loss']
        loss.backward()
        assert dict(counters['graph_break']) == {}
    finally:
        torch._dynamo.reset()
    assert torch.equal(loss, ref.loss(views, samples)['loss'])

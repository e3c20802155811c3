"""The SiameseIM algorithm: numbers, not only shapes."""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from test_models.siameseim_tiny import EMBED, GRID, build_tiny, make_batch

from mmsiameseim.models.utils import RelPos


@pytest.fixture(autouse=True)
def max_iters():
    MessageHub.get_current_instance().update_info('max_iters', 100)
    yield


def _reference_loss(pred, target, lam=0.02):
    p = pred.detach().double().reshape(-1, pred.shape[-1])
    y = torch.nn.functional.layer_norm(target.detach().double(),
                                       target.shape[-1:]).reshape(p.shape)
    c = y.t() @ y / y.shape[0]
    pos = ((p - y)**2).sum(-1).mean()
    neg = ((p @ c) * p).sum(-1).mean()
    return ((pos + lam * neg) / p.shape[1]).item()


def test_loss_at_init_equals_manual_pipeline():
    torch.manual_seed(0)
    model = build_tiny()
    views, samples = make_batch()
    loss = model.loss(views, samples)['loss']
    assert torch.isfinite(loss)
    # Manual recomputation from the parts. At step 0 the EMA is an exact copy
    # of the online branch, so the target is the online branch on view 2.
    mask, rel = model.gather_meta(samples, torch.device('cpu'))
    with torch.no_grad():
        latent = model.neck(model.backbone(views[0], mask))
        _, pred = model.head(latent, mask, rel)
        target = model.neck(model.backbone(views[1]))[:, 1:]
    assert pred.shape == (3, GRID * GRID, EMBED)
    assert loss.item() == pytest.approx(_reference_loss(pred, target), 1e-5)
    for (name, p_ema), (_, p) in zip(
            model.target_encoder.module.named_parameters(),
            nn.Sequential(model.backbone, model.neck).named_parameters()):
        torch.testing.assert_close(p_ema, p, msg=name)


def test_gradients_online_only():
    model = build_tiny()
    views, samples = make_batch()
    model.loss(views, samples)['loss'].backward()
    for name, p in model.target_encoder.named_parameters():
        assert p.grad is None and not p.requires_grad, name
    assert model.backbone.patch_embed.projection.weight.grad is None
    assert model.backbone.pos_embed.grad is None
    assert model.head.pos_embed.grad is None
    for name in ('backbone.layers.0.attn.qkv.weight', 'backbone.cls_token',
                 'neck.proj.weight', 'head.mask_token',
                 'head.rel_pos_mlp.weight', 'head.out_proj.weight'):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_momentum_schedule_endpoints():
    hub = MessageHub.get_current_instance()
    hub.update_info('max_iters', 10)
    model = build_tiny()
    ema = model.target_encoder
    avg, new = torch.zeros(3), torch.ones(3)
    ema.avg_func(avg, new, steps=0)  # weight on new value = 1 - m
    torch.testing.assert_close(avg, torch.full((3, ), 0.005))
    avg = torch.zeros(3)
    ema.avg_func(avg, new, steps=10)
    torch.testing.assert_close(avg, torch.zeros(3))
    avg = torch.zeros(3)
    ema.avg_func(avg, new, steps=5)  # half-way: m = 1 - 0.005 / 2
    torch.testing.assert_close(avg, torch.full((3, ), 0.0025))


def test_ema_follows_online_after_step():
    model = build_tiny()
    views, samples = make_batch()
    optim = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.loss(views, samples)['loss'].backward()
    optim.step()
    online = dict(nn.Sequential(model.backbone, model.neck).named_parameters())
    before = {
        k: v.clone()
        for k, v in model.target_encoder.module.named_parameters()
    }
    model.loss(views, samples)  # second update: steps == 1
    m = 0.005 * (math.cos(math.pi * 1 / 100) + 1) / 2
    for k, v in model.target_encoder.module.named_parameters():
        torch.testing.assert_close(v, before[k] * (1 - m) + online[k] * m)


@pytest.mark.parametrize('sync_free_ema', [True, False])
def test_target_bn_statistics_come_from_target_batches_alone(sync_free_ema):
    """As in the original, only parameters are averaged: after N steps the
    target projector's BN running statistics are those of the target
    batches alone (running averages of the inputs its BN layers saw),
    independent of the online branch's statistics."""
    torch.manual_seed(0)
    model = build_tiny(sync_free_ema=sync_free_ema)
    model.train()
    optim = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.05)
    target_bns = [
        m for m in model.target_encoder.module[1].modules()
        if type(m).__name__ == 'TokenBatchNorm'
    ]
    assert len(target_bns) == 2  # one block, ln1 and ln2
    seen = {id(m): [] for m in target_bns}
    handles = [
        m.register_forward_pre_hook(
            lambda mod, args: seen[id(mod)].append(
                args[0].detach().reshape(-1, mod.num_features).double()))
        for m in target_bns
    ]
    steps = 4
    for step in range(steps):
        views, samples = make_batch(seed=step)
        loss = model.loss(views, samples)['loss']
        optim.zero_grad()
        loss.backward()
        optim.step()
    for h in handles:
        h.remove()
    for bn in target_bns:
        batches = seen[id(bn)]
        assert len(batches) == steps  # the target forward of every step
        mean = torch.zeros(bn.num_features, dtype=torch.float64)
        var = torch.ones(bn.num_features, dtype=torch.float64)
        for x in batches:  # PyTorch's running-average rule, momentum 0.1
            mean = 0.9 * mean + 0.1 * x.mean(0)
            var = 0.9 * var + 0.1 * x.var(0, unbiased=True)
        torch.testing.assert_close(bn.running_mean.double(), mean,
                                   rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(bn.running_var.double(), var,
                                   rtol=1e-5, atol=1e-6)
        assert int(bn.num_batches_tracked) == steps
    online_bn = model.neck.blocks[0].ln1
    assert online_bn.num_batches_tracked == steps
    assert not torch.allclose(online_bn.running_mean,
                              target_bns[0].running_mean, atol=1e-3)


def test_masked_forward_keeps_visible_tokens_in_raster_order():
    model = build_tiny()
    backbone = model.backbone
    # identity layers: compare the encoder's inputs (out_indices stay valid)
    backbone.layers = nn.ModuleList(nn.Identity() for _ in backbone.layers)
    x = torch.randn(2, 3, 32, 32)
    mask = torch.zeros(2, GRID * GRID, dtype=torch.bool)
    mask[0, [0, 5, 6]] = True
    mask[1, [3, 9, 15]] = True
    out = backbone(x, mask)
    full = backbone(x)[0]
    assert out.shape == (2, 1 + GRID * GRID - 3, EMBED)
    for b in range(2):
        keep = (~mask[b]).nonzero().flatten() + 1
        torch.testing.assert_close(out[b, 1:], full[b, keep])
        torch.testing.assert_close(out[b, 0], full[b, 0])


def test_unmasked_masked_forward_equals_full_forward():
    model = build_tiny()
    x = torch.randn(2, 3, 32, 32)
    no_mask = torch.zeros(2, GRID, GRID, dtype=torch.bool)
    torch.testing.assert_close(
        model.backbone(x, no_mask), model.backbone(x)[0])


def test_uneven_mask_rows_error():
    model = build_tiny()
    mask = torch.zeros(2, GRID * GRID, dtype=torch.bool)
    mask[0, 0] = True
    with pytest.raises(ValueError, match='same number'):
        model.backbone(torch.randn(2, 3, 32, 32), mask)


def test_fixed_tables_are_sincos_and_frozen():
    from mmpretrain.models.utils import build_2d_sincos_position_embedding
    model = build_tiny()
    table = build_2d_sincos_position_embedding(GRID, EMBED, cls_token=True)
    torch.testing.assert_close(model.backbone.pos_embed.data, table)
    torch.testing.assert_close(model.head.pos_embed.data, table)
    assert torch.all(table[0, 0] == 0)
    assert not model.backbone.pos_embed.requires_grad
    assert not model.backbone.patch_embed.projection.weight.requires_grad


def test_mask_queries_placed_by_relative_geometry():
    """Identity geometry: the query code equals the table at each patch."""
    model = build_tiny()
    head = model.head
    with torch.no_grad():
        head.rel_pos_mlp.weight.zero_()
        head.rel_pos_mlp.weight[:, :EMBED] = torch.eye(EMBED)
        head.rel_pos_mlp.bias.zero_()
    seen = {}
    head.blocks[0].register_forward_pre_hook(
        lambda mod, args: seen.setdefault('z', args[0].detach()))
    views, samples = make_batch(batch=2, identity=True)
    mask, rel = model.gather_meta(samples, torch.device('cpu'))
    latent = torch.randn(2, 1 + GRID * GRID - 9, EMBED)
    head(latent, mask, rel)
    queries = seen['z'][:, -GRID * GRID:]
    want = head.mask_token + head.pos_embed[:, 1:]
    torch.testing.assert_close(queries, want.expand(2, -1, -1))
    visible = seen['z'][:, 1:1 + GRID * GRID - 9]
    for b in range(2):
        keep = (~mask[b]).nonzero().flatten() + 1
        torch.testing.assert_close(visible[b],
                                   latent[b, 1:] + head.pos_embed[0, keep])


def test_metadata_errors_and_options():
    model = build_tiny()
    views, samples = make_batch()
    del samples[0].rel_pos
    with pytest.raises(KeyError, match='rel_pos'):
        model.loss(views, samples)
    with pytest.raises(TypeError, match='view1, view2'):
        model.loss(views[0], samples)
    with pytest.raises(ValueError, match='target_type'):
        build_tiny(target_type='pixels')
    with pytest.raises(ValueError, match='global'):
        build_tiny(target_type='pixel', loss_type='global')


@pytest.mark.parametrize('overrides', [
    dict(loss_type='global'),
    dict(loss_tokens='masked'),
    dict(
        target_type='pixel',
        head=dict(out_channels=8 * 8 * 3, loss=dict(
            type='UniGradDenseLoss', lambda_neg=0.))),
    dict(
        neck=dict(norm_cfg=dict(type='LN')),
        head=dict(norm_cfg=dict(type='LN'))),
])
def test_ablation_variants_train(overrides):
    torch.manual_seed(0)
    model = build_tiny(**overrides)
    views, samples = make_batch()
    optim = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(8):
        loss = model.loss(views, samples)['loss']
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    if overrides.get('target_type') == 'pixel':
        assert not hasattr(model, 'target_encoder')


PIXEL = dict(
    target_type='pixel',
    head=dict(
        out_channels=8 * 8 * 3,
        loss=dict(type='UniGradDenseLoss', lambda_neg=0.)))


@pytest.mark.parametrize('overrides', [
    dict(),
    dict(loss_type='global'),
    dict(loss_tokens='masked'),
    dict(PIXEL, loss_tokens='masked'),
], ids=['dense', 'global', 'masked', 'pixel-masked'])
def test_predict_dense_gives_exactly_the_loss(overrides):
    """``loss`` == ``head.loss(predict_dense(..., update_target=True))``
    bit for bit (EMA state too), and the predictions with the tokens picked
    by hand give the loss by the formula."""
    torch.manual_seed(0)
    model = build_tiny(**overrides)
    twin = copy.deepcopy(model)
    for step in range(2):  # the second step has a real EMA update
        views, samples = make_batch(seed=step)
        loss = model.loss(views, samples)['loss']
        out = twin.predict_dense(views, samples, update_target=True)
        assert torch.equal(twin.head.loss(out), loss)
    for (name, a), b in zip(model.state_dict().items(),
                            twin.state_dict().values()):
        assert torch.equal(a, b), name
    pixel = overrides.get('target_type') == 'pixel'
    assert out.pred.shape == (3, GRID * GRID, 8 * 8 * 3 if pixel else EMBED)
    assert out.target.shape == out.pred.shape
    assert (out.cls_target is None) == pixel
    assert out.num_masked == 9 and out.mask.sum(1).tolist() == [9] * 3
    rel = torch.stack([torch.as_tensor(s.rel_pos) for s in samples])
    torch.testing.assert_close(RelPos.unpack(out.rel_pos).dh, rel[:, 2])
    if overrides.get('loss_type') == 'global':
        pred, target = out.cls_pred, out.cls_target
    elif overrides.get('loss_tokens') == 'masked':
        pred = out.pred[out.mask].reshape(3, 9, -1)
        target = out.target[out.mask].reshape(3, 9, -1)
    else:
        pred, target = out.pred, out.target
    lam = 0. if pixel else 0.02
    assert loss.item() == pytest.approx(
        _reference_loss(pred, target, lam), rel=1e-5)


def test_predict_dense_alone_leaves_the_weights():
    model = build_tiny()
    views, samples = make_batch()
    model.loss(views, samples)  # step 0: the EMA copies the online weights
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    with torch.no_grad():
        out = model.predict_dense(views, samples)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    # the target is the momentum encoder on view 2, unchanged by the call
    with torch.no_grad():
        want = model.target_encoder(views[1])
    assert torch.equal(out.target, want[:, 1:])
    assert torch.equal(out.cls_target, want[:, :1])


def test_loss_switches_live_in_the_head():
    model = build_tiny(loss_type='global')
    assert model.head.loss_type == model.loss_type == 'global'
    assert build_tiny(head=dict(loss_tokens='masked')).loss_tokens == 'masked'
    with pytest.raises(ValueError, match="loss_tokens='all' disagrees with "
                       "head.loss_tokens='masked'"):
        build_tiny(loss_tokens='all', head=dict(loss_tokens='masked'))
    with pytest.raises(ValueError, match="loss_tokens='masked' needs"):
        build_tiny(loss_type='global', loss_tokens='masked')

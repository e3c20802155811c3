"""The optimisers of the fine-tuning and linear-probing configs.

Layer decay: the original fine-tuning scales the learning rate of a
parameter by ``decay^(L + 1 - id)`` with id 0 for patch_embed / cls / pos,
``i + 1`` for block ``i`` and ``L + 1`` for fc_norm / head (``L`` blocks):
mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` must give the
same scales. LARS: mmpretrain's, with the bias excluded, against the
original linear probe's update rule (MAE / MoCo v3 LARS), written here from
its published description: for tensors with more than one dimension,
``u = trust * ||p|| / ||g + wd p|| * (g + wd p)``, otherwise ``u = g``; then
``mu = m mu + u``, ``p -= lr mu``.
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS

from test_configs.config_pins import config_path

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BENCH = osp.join(ROOT, 'configs', 'siameseim', 'benchmarks')


def _build(name, layers, embed=16):
    cfg = Config.fromfile(config_path(name))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.arch = dict(
        embed_dims=embed,
        num_layers=layers,
        num_heads=2,
        feedforward_channels=2 * embed)
    model_cfg.backbone.init_cfg = None
    if model_cfg.backbone.get('frozen_stages', -1) > 0:
        model_cfg.backbone.frozen_stages = layers
    if model_cfg.get('neck'):
        model_cfg.neck.input_features = embed
    model_cfg.head.in_channels = embed
    model = MODELS.build(model_cfg)
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    if wrapper_cfg.get('type') == 'AmpOptimWrapper':
        wrapper_cfg.type = 'OptimWrapper'
    return model, build_optim_wrapper(model, wrapper_cfg), cfg


def _groups(wrapper, model):
    names = {id(p): n for n, p in model.named_parameters()}
    return {
        names[id(g['params'][0])]: g
        for g in wrapper.optimizer.param_groups
    }


@pytest.mark.parametrize('name,layers,rate', [
    ('vit-base-p16_8xb128-coslr-100e_in1k.py', 12, 0.65),
    ('vit-large-p16_8xb128-coslr-50e_in1k.py', 24, 0.75),
    ('vit-mini-p4_1xb64-coslr-2e_fashion-mnist.py', 4, 0.65),
])
def test_layer_decay_scales(name, layers, rate):
    model, wrapper, cfg = _build(name, layers)
    groups = _groups(wrapper, model)
    top = layers + 1
    base_lr = cfg.optim_wrapper.optimizer.lr
    expected = {
        'backbone.patch_embed.projection.weight': rate**top,  # id 0
        'backbone.layers.2.attn.qkv.weight': rate**(top - 3),  # id 3
        'head.fc.weight': 1.0,  # id L + 1
    }
    for param, scale in expected.items():
        assert groups[param]['lr_scale'] == pytest.approx(scale), param
        assert groups[param]['lr'] == pytest.approx(base_lr * scale)
    assert groups['backbone.cls_token']['lr_scale'] == pytest.approx(
        rate**top)
    assert groups['backbone.ln2.weight']['lr_scale'] == 1.0
    # the fixed sin-cos table is not trained at all
    assert 'backbone.pos_embed' not in groups
    assert not model.backbone.pos_embed.requires_grad
    # decay 0.05 on matrices, none on norms, biases, cls token
    assert groups['backbone.layers.2.attn.qkv.weight'][
        'weight_decay'] == 0.05
    for param in ('backbone.layers.2.attn.qkv.bias', 'backbone.ln2.weight',
                  'backbone.layers.0.ln1.weight', 'backbone.cls_token',
                  'head.fc.bias'):
        assert groups[param]['weight_decay'] == 0., param


def _original_lars(params, grads, lrs, momentum=0.9, trust=0.001):
    """The original linear probe's LARS, step by step."""
    params = [p.clone() for p in params]
    mus = [torch.zeros_like(p) for p in params]
    for step_grads, lr in zip(grads, lrs):
        for p, g, mu in zip(params, step_grads, mus):
            u = g
            if p.ndim > 1:
                p_norm, u_norm = p.norm(), g.norm()
                if p_norm > 0 and u_norm > 0:
                    u = g * (trust * p_norm / u_norm)
            mu.mul_(momentum).add_(u)
            p.sub_(lr * mu)
    return params


def _lars_steps(lrs, seed=0):
    """mmpretrain's LARS of the linear config vs the original rule on the
    head of a tiny linear-probing model."""
    model, wrapper, _ = _build(
        'vit-base-p16_8xb2048-linear-coslr-90e_in1k.py', layers=2)
    fc = model.head.fc
    torch.manual_seed(seed)
    fc.weight.data.normal_()
    fc.bias.data.normal_()
    start = [fc.weight.detach().clone(), fc.bias.detach().clone()]
    g = torch.Generator().manual_seed(seed + 1)
    grads = [[torch.randn(fc.weight.shape, generator=g),
              torch.randn(fc.bias.shape, generator=g)] for _ in lrs]
    optimizer = wrapper.optimizer
    for (gw, gb), lr in zip(grads, lrs):
        for group in optimizer.param_groups:
            group['lr'] = lr
        fc.weight.grad, fc.bias.grad = gw.clone(), gb.clone()
        optimizer.step()
    return [fc.weight.detach(), fc.bias.detach()], \
        _original_lars(start, grads, lrs), (model, wrapper), grads


def test_linear_config_optimises_only_the_head_with_lars():
    model, wrapper = _lars_steps([1.0])[2]
    assert type(wrapper.optimizer).__name__ == 'LARS'
    groups = _groups(wrapper, model)
    assert set(groups) == {'head.fc.weight', 'head.fc.bias'}
    assert not groups['head.fc.weight'].get('lars_exclude', False)
    assert groups['head.fc.bias']['lars_exclude'] is True
    assert groups['head.fc.bias']['weight_decay'] == 0.
    defaults = wrapper.optimizer.defaults
    assert (defaults['momentum'], defaults['eta'],
            defaults['weight_decay']) == (0.9, 0.001, 0.)


def test_lars_matches_the_original_at_a_constant_lr():
    ours, original, _, _ = _lars_steps([6.4] * 5)
    for a, b in zip(ours, original):  # float32 round-off only
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_lars_differs_from_the_original_while_the_lr_changes():
    """mmpretrain keeps lr inside the momentum buffer
    (p -= sum_k m^k lr_{t-k} u_{t-k}); the original multiplies the buffer
    by the current lr (p -= lr_t sum_k m^k u_{t-k}). By hand, for the bias
    (u = g) after two steps at lr 1 then 2: ours moves by
    0.9 * 1 * g1 + 2 * g2 on step 2, the original by 2 * (0.9 g1 + g2)."""
    ours, original, _, grads = _lars_steps([1.0, 2.0])
    (_, g1), (_, g2) = grads
    diff = ours[1] - original[1]
    by_hand = (2 * (0.9 * g1 + g2)) - (0.9 * g1 + 2 * g2)  # = 0.9 g1
    torch.testing.assert_close(diff, by_hand, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(ours[0], original[0])

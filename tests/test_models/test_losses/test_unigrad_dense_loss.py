"""UniGradDenseLoss against independent references."""
import numpy as np
import pytest
import torch
from dist_utils import run_distributed

from mmsiameseim.models.losses import UniGradDenseLoss


def reference_loss(pred, target, lam, target_norm='ln', eps=1e-5):
    """float64 numpy restatement with explicit per-token loops."""
    p = pred.detach().double().numpy().reshape(-1, pred.shape[-1])
    y = target.detach().double().numpy().reshape(-1, pred.shape[-1])
    if target_norm == 'ln':
        mu = y.mean(-1, keepdims=True)
        var = y.var(-1, keepdims=True)
        y = (y - mu) / np.sqrt(var + eps)
    n, d = p.shape
    c = np.zeros((d, d))
    for row in y:
        c += np.outer(row, row)
    c /= n
    pos = np.mean([np.sum((p[i] - y[i])**2) for i in range(n)])
    neg = np.mean([p[i] @ c @ p[i] for i in range(n)])
    return (pos + lam * neg) / d


@pytest.mark.parametrize('target_norm', ['ln', 'none'])
@pytest.mark.parametrize('lam', [0.02, 0.0, 1.5])
def test_matches_float64_reference(target_norm, lam):
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(3, 7, 16, generator=g)
    target = torch.randn(3, 7, 16, generator=g) * 3 + 1
    loss = UniGradDenseLoss(lambda_neg=lam, target_norm=target_norm)
    got = loss(pred, target).item()
    want = reference_loss(pred, target, lam, target_norm)
    assert got == pytest.approx(want, rel=1e-5)


def test_equals_n_by_n_form():
    g = torch.Generator().manual_seed(1)
    pred = torch.randn(2, 9, 12, generator=g)
    target = torch.randn(2, 9, 12, generator=g)
    loss = UniGradDenseLoss(lambda_neg=0.02)
    p = pred.reshape(-1, 12)
    y = torch.nn.functional.layer_norm(target, (12, )).reshape(-1, 12)
    c = y.t() @ y / y.shape[0]
    full = p @ c @ p.t()  # the N x N matrix the official code builds
    pos = ((p - y)**2).sum(-1).mean()
    want = (pos + 0.02 * torch.diagonal(full).mean()) / 12
    assert loss(pred, target).item() == pytest.approx(want.item(), rel=1e-6)


def test_gradient_only_through_pred_and_analytic():
    g = torch.Generator().manual_seed(2)
    pred = torch.randn(2, 5, 8, generator=g, requires_grad=True)
    target = torch.randn(2, 5, 8, generator=g, requires_grad=True)
    lam = 0.3
    UniGradDenseLoss(lambda_neg=lam)(pred, target).backward()
    assert target.grad is None
    p = pred.detach().reshape(-1, 8)
    y = torch.nn.functional.layer_norm(target.detach(), (8, )).reshape(-1, 8)
    n, d = p.shape
    c = y.t() @ y / n
    want = (2 * (p - y) + 2 * lam * p @ c) / (n * d)
    torch.testing.assert_close(pred.grad.reshape(-1, 8), want)


def test_low_precision_inputs_computed_in_fp32():
    g = torch.Generator().manual_seed(3)
    pred = torch.randn(2, 6, 8, generator=g).bfloat16()
    target = torch.randn(2, 6, 8, generator=g).bfloat16()
    loss = UniGradDenseLoss()
    out = loss(pred, target)
    assert out.dtype == torch.float32
    want = reference_loss(pred.float(), target.float(), 0.02)
    assert out.item() == pytest.approx(want, rel=1e-5)


def test_bad_options_and_shapes():
    with pytest.raises(ValueError, match='target_norm'):
        UniGradDenseLoss(target_norm='bn')
    with pytest.raises(ValueError, match='lambda_neg'):
        UniGradDenseLoss(lambda_neg=-1)
    with pytest.raises(ValueError, match='shape'):
        UniGradDenseLoss()(torch.zeros(2, 3, 4), torch.zeros(2, 4, 4))


def _ddp_loss(rank, world_size, pred, target):
    torch.manual_seed(0)
    local_p = pred.chunk(world_size)[rank].clone().requires_grad_(True)
    local_y = target.chunk(world_size)[rank]
    loss = UniGradDenseLoss(lambda_neg=0.02)(local_p, local_y)
    # DDP averages gradients over ranks: emulate it on the loss.
    (loss / world_size).backward()
    return loss.detach(), local_p.grad


def test_two_process_loss_equals_concatenated_batch():
    g = torch.Generator().manual_seed(4)
    pred = torch.randn(4, 6, 8, generator=g)
    target = torch.randn(4, 6, 8, generator=g)
    results = run_distributed(_ddp_loss, 2, pred, target)
    full_p = pred.clone().requires_grad_(True)
    full = UniGradDenseLoss(lambda_neg=0.02)(full_p, target)
    full.backward()
    mean_loss = sum(r[0] for r in results) / 2
    assert mean_loss.item() == pytest.approx(full.item(), rel=1e-6)
    grads = torch.cat([r[1] for r in results])
    torch.testing.assert_close(grads, full_p.grad)
    # a rank alone (its local C) would give a different value
    local = UniGradDenseLoss(lambda_neg=0.02)(pred[:2], target[:2])
    assert abs(local.item() - results[0][0].item()) > 1e-6

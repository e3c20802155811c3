"""TokenBN against nn.BatchNorm1d, in one and in two processes."""
import pytest
import torch
import torch.nn as nn
from dist_utils import run_distributed

from mmsiameseim.models.utils import TokenBatchNorm


def _pair(channels=6):
    ours = TokenBatchNorm(channels)
    ref = nn.BatchNorm1d(channels)
    with torch.no_grad():
        ours.weight.uniform_(0.5, 1.5)
        ours.bias.uniform_(-1, 1)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def test_matches_batchnorm1d_train_and_eval():
    ours, ref = _pair()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 5, 6, generator=g) * 2 + 3
    # a weighting of every output (a per-channel one would make the weight
    # gradients sums of normalised values, zero up to rounding)
    w = torch.randn(4, 5, 6, generator=g)
    x1 = x.clone().requires_grad_(True)
    x2 = x.clone().requires_grad_(True)
    out = ours(x1)
    want = ref(x2.transpose(1, 2)).transpose(1, 2)
    torch.testing.assert_close(out, want)
    (out * w).sum().backward()
    (want * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad)
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    torch.testing.assert_close(ours.running_var, ref.running_var)
    ours.eval()
    ref.eval()
    torch.testing.assert_close(ours(x), ref(x.transpose(1, 2)).transpose(1, 2))
    assert set(ours.state_dict()) == set(ref.state_dict())


def test_low_precision_input_uses_fp32_statistics():
    ours, ref = _pair()
    x = (torch.randn(4, 5, 6) * 0.01 + 100).bfloat16()
    out = ours(x)
    assert out.dtype == torch.bfloat16
    want = ref(x.float().transpose(1, 2)).transpose(1, 2)
    torch.testing.assert_close(out.float(), want, atol=2e-2, rtol=1e-2)


def test_not_converted_by_sync_batchnorm():
    model = nn.Sequential(TokenBatchNorm(4))
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(converted[0], TokenBatchNorm)


def test_channel_mismatch_error():
    with pytest.raises(ValueError, match='channels'):
        TokenBatchNorm(4)(torch.zeros(2, 3, 5))


def _ddp_bn(rank, world_size, x, weight, bias):
    bn = TokenBatchNorm(x.shape[-1])
    with torch.no_grad():
        bn.weight.copy_(weight)
        bn.bias.copy_(bias)
    local = x.chunk(world_size)[rank].clone().requires_grad_(True)
    out = bn(local)
    # weight each output element so gradients are not trivially zero
    (out * torch.arange(out.numel()).reshape(out.shape).float().sin()
     ).sum().backward()
    return out.detach(), local.grad, bn.running_mean, bn.running_var


def test_two_processes_equal_one_process_on_concatenated_batch():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 5) * 2 + 1
    weight, bias = torch.rand(5) + 0.5, torch.randn(5)
    results = run_distributed(_ddp_bn, 2, x, weight, bias)
    ref = TokenBatchNorm(5)
    with torch.no_grad():
        ref.weight.copy_(weight)
        ref.bias.copy_(bias)
    full = x.clone().requires_grad_(True)
    out = ref(full)
    chunks = [out[:2], out[2:]]
    weights = [
        torch.arange(c.numel()).reshape(c.shape).float().sin() for c in chunks
    ]
    sum((c * w).sum() for c, w in zip(chunks, weights)).backward()
    torch.testing.assert_close(
        torch.cat([r[0] for r in results]), out.detach())
    torch.testing.assert_close(
        torch.cat([r[1] for r in results]), full.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(results[0][2], ref.running_mean)
    torch.testing.assert_close(results[1][3], ref.running_var)

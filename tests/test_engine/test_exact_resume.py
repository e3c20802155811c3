"""A run SIGKILLed mid-epoch and at an epoch boundary resumes exactly.

The demo config at tiny size (``train_runs.write_tiny_config``: 4
iterations per epoch, 3 epochs, one persistent dataloader worker, drop path
in the encoder, iteration checkpoints every 6 iterations plus epoch
checkpoints every 2 epochs and at the end)
is trained once without interruption, and once as a chain of three
``tools/train.py`` processes:

1. killed with SIGKILL right after the checkpoint of iteration 6, i.e. in
   the middle of epoch 2 (2 of its 4 batches done);
2. ``--resume`` (from ``iter_6.pth``), killed with SIGKILL right after the
   epoch-2 checkpoint, i.e. at the boundary between epochs 2 and 3;
3. ``--resume`` (from ``epoch_2.pth``) to the end.

Every iteration's loss, batch index and learning rate, and the final
training state (weights, EMA target with its step count and BN statistics,
optimizer moments), must equal the uninterrupted run's bit for bit.
"""
import os.path as osp

import torch
from train_runs import read_losses, run_train, state_tensors, write_tiny_config

from mmsiameseim.checkpoints import read_checkpoint


def _last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return osp.basename(f.read().strip())


def test_sigkilled_runs_resume_to_the_same_losses(tmp_path):
    cfg = write_tiny_config(tmp_path / 'tiny.py')
    ref, chain = str(tmp_path / 'ref'), str(tmp_path / 'chain')

    assert run_train([cfg, '--work-dir', ref]) == 0
    assert run_train([cfg, '--work-dir', chain], kill='iter:6') == -9
    assert _last_checkpoint(chain) == 'iter_6.pth'
    assert sorted(read_losses(chain)) == [1, 2, 3, 4, 5, 6]
    assert run_train([cfg, '--work-dir', chain, '--resume'],
                     kill='epoch:2') == -9
    assert _last_checkpoint(chain) == 'epoch_2.pth'
    assert run_train([cfg, '--work-dir', chain, '--resume']) == 0

    want, got = read_losses(ref), read_losses(chain)  # no duplicates
    assert sorted(want) == list(range(1, 13))
    assert sorted(got) == sorted(want)
    # (batch index, loss, lr) per iteration: the resumed epoch 2 continues
    # at batch 2, not at 0
    assert got[7][0] == 2
    diffs = [abs(got[i][1] - want[i][1]) for i in want]
    assert max(diffs) == 0.0, diffs
    assert got == want

    final_ref = read_checkpoint(osp.join(ref, 'epoch_3.pth'))
    final = read_checkpoint(osp.join(chain, 'epoch_3.pth'))
    a, b = state_tensors(final_ref), state_tensors(final)
    assert a.keys() == b.keys()
    assert 'model.target_encoder.steps' in a
    assert any('target_encoder.module.1' in k and 'running_mean' in k
               for k in a)
    unequal = [k for k in a if not torch.equal(a[k], b[k])]
    assert unequal == []
    assert final['param_schedulers'] == final_ref['param_schedulers']

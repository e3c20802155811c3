"""tools/dist_train.sh and tools/slurm_train.sh: the commands they run.

``DRY_RUN=1`` makes each script print its command as one shell-quoted line
instead of running it; the line is split back with ``shlex`` and compared
with the expected argument vector. (The DDP equivalence test runs
``dist_train.sh`` for real.)
"""
import os
import os.path as osp
import shlex
import subprocess

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DIST = osp.join(ROOT, 'tools', 'dist_train.sh')
SLURM = osp.join(ROOT, 'tools', 'slurm_train.sh')
TRAIN = osp.join(ROOT, 'tools', 'train.py')
EXTRA = ['--resume', '--cfg-options', 'model.backbone.num_masked=118',
         'train_dataloader.dataset.data_root=my data/in1k',
         "optim_wrapper.optimizer.betas=(0.9, 0.95)"]


def _run(script, args, **env):
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ('NNODES', 'NODE_RANK', 'PORT', 'MASTER_ADDR', 'PYTHON',
                     'GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS',
                     'PYTHONPATH')
    }
    environ.update(DRY_RUN='1', **env)
    return subprocess.run(['bash', script, *args], env=environ,
                          capture_output=True, text=True, timeout=60)


def _argv(script, args, **env):
    proc = _run(script, args, **env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    return shlex.split(lines[0])


def test_dist_train_defaults_and_passthrough():
    cfg = 'configs/my config.py'
    assert _argv(DIST, [cfg, '4', *EXTRA]) == [
        'env', f'PYTHONPATH={ROOT}', 'python', '-m', 'torch.distributed.run',
        '--nnodes=1', '--node_rank=0', '--master_addr=127.0.0.1',
        '--nproc_per_node=4', '--master_port=29500', TRAIN, cfg,
        '--launcher', 'pytorch', *EXTRA
    ]


def test_dist_train_multi_node_environment():
    argv = _argv(DIST, ['c.py', '8'], NNODES='2', NODE_RANK='1',
                 MASTER_ADDR='10.0.0.1', PORT='29601', PYTHON='/opt/py',
                 PYTHONPATH='/extra/site')
    assert argv[:12] == [
        'env', f'PYTHONPATH={ROOT}:/extra/site', '/opt/py', '-m',
        'torch.distributed.run', '--nnodes=2', '--node_rank=1',
        '--master_addr=10.0.0.1', '--nproc_per_node=8',
        '--master_port=29601', TRAIN, 'c.py'
    ]
    assert argv[12:] == ['--launcher', 'pytorch']


@pytest.mark.parametrize('args, message', [
    (['c.py'], 'Usage:'),
    (['c.py', '0'], "GPUS must be a positive integer, got '0'"),
    (['c.py', 'two'], "GPUS must be a positive integer, got 'two'"),
])
def test_dist_train_refuses_bad_arguments(args, message):
    proc = _run(DIST, args)
    assert proc.returncode == 1 and proc.stdout == ''
    assert message in proc.stderr


def test_slurm_train_defaults_and_passthrough():
    argv = _argv(SLURM, ['gpu', 'sim', 'c.py', 'work_dirs/sim', *EXTRA])
    assert argv == [
        'env', f'PYTHONPATH={ROOT}', 'srun', '-p', 'gpu', '--job-name=sim',
        '--gres=gpu:8', '--ntasks=8', '--ntasks-per-node=8',
        '--cpus-per-task=5', '--kill-on-bad-exit=1', 'python', '-u', TRAIN,
        'c.py', '--work-dir=work_dirs/sim', '--launcher=slurm', *EXTRA
    ]


def test_slurm_train_sizes_and_srun_args():
    argv = _argv(SLURM, ['p', 'j', 'c.py', 'w'], GPUS='16',
                 GPUS_PER_NODE='8', CPUS_PER_TASK='10',
                 SRUN_ARGS='--quotatype=auto --exclude=node1')
    assert argv[5:13] == [
        '--job-name=j', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8',
        '--cpus-per-task=10', '--kill-on-bad-exit=1', '--quotatype=auto',
        '--exclude=node1'
    ]
    # fewer GPUs than a node has: ask for that many, not a whole node
    argv = _argv(SLURM, ['p', 'j', 'c.py', 'w'], GPUS='2')
    assert argv[6:9] == ['--gres=gpu:2', '--ntasks=2', '--ntasks-per-node=2']


@pytest.mark.parametrize('args, env, message', [
    (['p', 'j', 'c.py'], {}, 'Usage:'),
    (['p', 'j', 'c.py', 'w'], dict(GPUS='0'),
     "GPUS must be a positive integer, got '0'"),
    (['p', 'j', 'c.py', 'w'], dict(CPUS_PER_TASK='x'),
     "CPUS_PER_TASK must be a positive integer, got 'x'"),
])
def test_slurm_train_refuses_bad_arguments(args, env, message):
    proc = _run(SLURM, args, **env)
    assert proc.returncode == 1 and proc.stdout == ''
    assert message in proc.stderr

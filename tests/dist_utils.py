"""Run a function in several CPU processes joined by a gloo group."""
import os
import socket
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank, world_size, port, fn, args, out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        result = fn(rank, world_size, *args)
        torch.save(result, os.path.join(out_dir, f'{rank}.pt'))
    finally:
        dist.destroy_process_group()


def run_distributed(fn, world_size: int, *args) -> list:
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` processes.

    ``fn`` must be importable (module level). Returns the per-rank results.
    """
    with tempfile.TemporaryDirectory() as out_dir:
        mp.spawn(
            _worker,
            args=(world_size, _free_port(), fn, args, out_dir),
            nprocs=world_size,
            join=True)
        return [
            torch.load(os.path.join(out_dir, f'{r}.pt'), weights_only=False)
            for r in range(world_size)
        ]

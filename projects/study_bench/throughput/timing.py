"""Timing pieces of the throughput benchmark: steps bracketed by
``torch.cuda.synchronize()``, host syncs of one step, the machine."""
import datetime
import math
import os
import platform
import time
import warnings
from typing import List, Optional

import torch


def round_sig(value: float, digits: int = 4) -> float:
    """Round to ``digits`` significant digits (tiny runs stay non-zero)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's with its core and thread counts."""
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


def environment(device: torch.device) -> dict:
    """Device, library versions and the UTC date of a run."""
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

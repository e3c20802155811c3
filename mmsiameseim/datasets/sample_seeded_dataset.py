"""The train loop's dataset wrapper: per-sample seeded RNGs, named
failures, crash records (docs/operations.md §1, §3)."""
import contextlib
import os
import os.path as osp
import random
from typing import Any, List, Optional, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

from .transforms.loading import BadImageError, pop_skipped_images

_RECORD_BYTES = 48
_IDLE = b'-'


class SampleLoadError(RuntimeError):
    """Preparing one sample failed; the message names the sample."""


@contextlib.contextmanager
def seeded_rngs(seed: Optional[int]):
    """Seed ``random``, ``np.random`` and torch's CPU RNG with a uint32
    ``seed`` (None: leave them alone); restore them on exit."""
    if seed is None:
        yield
        return
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch_state = torch.default_generator.get_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.default_generator.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.default_generator.set_state(torch_state)


def split_key(key: Any) -> Tuple[int, Optional[int]]:
    """``index`` or ``(index, seed)`` -> ``(index, seed or None)``."""
    if isinstance(key, (tuple, list)):
        if len(key) != 2:
            raise TypeError('SampleSeededDataset keys are an index or an '
                            f'(index, seed) pair, got {key!r}')
        return int(key[0]), int(key[1])
    return int(key), None


class SampleSeededDataset(Dataset):
    """Wrap a dataset: a key ``(index, seed)`` runs the pipeline under
    :func:`seeded_rngs`, errors name the sample (:class:`SampleLoadError`),
    skipped images go to the data sample's ``skipped_images``; other
    attributes are the wrapped dataset's.

    Args:
        dataset (Dataset): The dataset to wrap.
        record_dir (str, optional): Folder where each worker process
            writes the sample it is preparing. Defaults to None (none).
    """

    def __init__(self,
                 dataset: Dataset,
                 record_dir: Optional[str] = None) -> None:
        self.dataset = dataset
        self.record_dir = record_dir
        self._fd: Optional[int] = None
        self._fd_pid: Optional[int] = None

    def __getattr__(self, name: str) -> Any:
        # only called for attributes the wrapper lacks; never for the
        # wrapper's own fields (guards unpickling, before __dict__ exists)
        if name.startswith('__') or name in ('dataset', 'record_dir', '_fd',
                                             '_fd_pid'):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_fd=None, _fd_pid=None)  # a descriptor is per process
        return state

    def __len__(self) -> int:
        return len(self.dataset)

    def set_record_dir(self, record_dir: Optional[str]) -> None:
        """Keep "sample in progress" records in ``record_dir`` (or none)."""
        self.record_dir = record_dir
        self._fd = self._fd_pid = None

    def describe(self, index: int) -> str:
        """``'sample 12 (path/to/file.jpg)'``, or without the file name."""
        path = None
        get_info = getattr(self.dataset, 'get_data_info', None)
        if get_info is not None:
            try:
                info = get_info(index)
                path = info.get('img_path') or info.get('filename')
            except Exception:  # a message helper must not fail itself
                path = None
        return f'sample {index}' + (f' ({path})' if path else '')

    def _write_record(self, payload: bytes) -> None:
        if self.record_dir is None:
            return
        pid = os.getpid()
        if self._fd_pid != pid:
            self._fd = os.open(
                osp.join(self.record_dir, str(pid)),
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self._fd_pid = pid
        os.pwrite(self._fd, payload.ljust(_RECORD_BYTES), 0)

    def __getitem__(self, key: Any) -> Any:
        index, seed = split_key(key)
        self._write_record(f'{index} {seed}'.encode())
        try:
            with seeded_rngs(seed):
                data = self.dataset[index]
        except BadImageError:
            raise  # already names the file
        except Exception as e:
            raise SampleLoadError(f'{self.describe(index)}: '
                                  f'{type(e).__name__}: {e}') from e
        finally:
            self._write_record(_IDLE)
        skipped = pop_skipped_images()
        if skipped:
            sample = data.get('data_samples') if isinstance(data,
                                                            dict) else None
            if sample is not None and hasattr(sample, 'set_field'):
                sample.set_field(
                    skipped, 'skipped_images', field_type='metainfo')
        return data

    def samples_in_progress(self,
                            pids: Optional[List[int]] = None) -> List[str]:
        """``'worker pid 123: sample 7 (path)'`` per worker process of
        ``pids`` (None: all) that was inside a sample."""
        if self.record_dir is None or not osp.isdir(self.record_dir):
            return []
        names = [str(p) for p in pids] if pids else sorted(
            os.listdir(self.record_dir))
        lines = []
        for name in names:
            try:
                with open(osp.join(self.record_dir, name), 'rb') as f:
                    record = f.read(_RECORD_BYTES).strip()
            except OSError:
                continue
            if not record or record == _IDLE:
                continue
            index = int(record.split()[0])
            lines.append(f'worker pid {name}: {self.describe(index)}')
        return lines

"""An epoch-based train loop that resumes exactly, also mid-epoch: what
mmengine 0.10.7's ``EpochBasedTrainLoop`` lacks is in docs/operations.md
§1 and §3."""
import copy
import logging
import os
import os.path as osp
import random
import re
import shutil
import tempfile
import weakref
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dist import all_gather_object, all_reduce, get_dist_info
from mmengine.logging import print_log
from mmengine.registry import DATASETS
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import LOOPS
from torch.utils.data import BatchSampler, DataLoader

from ..datasets.sample_seeded_dataset import SampleSeededDataset
from .runner import data_error, unwrap_model

# torch's messages: "DataLoader worker (pid 12) is killed by signal: ..."
# and "DataLoader worker (pid(s) 12, 13) exited unexpectedly"
_WORKER_DIED = re.compile(r'DataLoader worker \(pid(?:\(s\))? ([\d, ]+)\)')

_RECORD_PREFIX = 'mmsiameseim-samples-'


def _make_record_dir() -> str:
    """A fresh records folder of this process, in RAM if it can (those of
    dead processes removed)."""
    root = '/dev/shm' if os.access('/dev/shm', os.W_OK) else \
        tempfile.gettempdir()
    for name in os.listdir(root):
        if not name.startswith(_RECORD_PREFIX):
            continue
        pid = name[len(_RECORD_PREFIX):].split('-')[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(osp.join(root, name), ignore_errors=True)
        except OSError:  # alive, another user's
            pass
    return tempfile.mkdtemp(prefix=f'{_RECORD_PREFIX}{os.getpid()}-', dir=root)


def capture_rng_state() -> dict:
    """The states of ``random``, ``np.random``, torch's CPU and CUDA RNGs
    as tensors and plain values (``weights_only`` loadable)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=dict(
            version=version,
            internal=torch.tensor(internal, dtype=torch.int64),
            gauss=gauss),
        numpy=dict(
            kind=kind,
            keys=torch.from_numpy(keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached=float(cached)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Put back the RNG states saved by :func:`capture_rng_state`."""
    py = state['python']
    random.setstate(
        (py['version'], tuple(py['internal'].tolist()), py['gauss']))
    npy = state['numpy']
    np.random.set_state((npy['kind'], npy['keys'].numpy().astype(np.uint32),
                         npy['pos'], npy['has_gauss'], npy['cached']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        saved = state['cuda']
        if len(saved) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(saved)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` (its arguments) with exact, also mid-epoch,
    resume; with ``train_dataloader.sampler = dict(type='ResumableSampler')``.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict], *args,
                 **kwargs) -> None:
        if isinstance(dataloader, dict):
            try:
                dataloader = self._wrap_dataset(dataloader)
            except (OSError, RuntimeError, AssertionError) as e:
                raise data_error('train_dataloader', dataloader['dataset'],
                                 e) from e
        super().__init__(runner, dataloader, *args, **kwargs)
        seed = runner.seed if isinstance(runner.seed, int) else 0
        self.dataloader.generator = torch.Generator().manual_seed(seed)
        self._record_dir = None
        dataset = self.dataloader.dataset
        if isinstance(dataset, SampleSeededDataset):
            self._record_dir = _make_record_dir()
            weakref.finalize(self, shutil.rmtree, self._record_dir, True)
            dataset.set_record_dir(self._record_dir)
        self._pending_rng: Optional[dict] = None
        self._skipped_epoch: List[str] = []
        self._skipped_logged: set = set()
        sampler = self.sampler
        if not (hasattr(sampler, 'skip')
                and getattr(sampler, 'seed_samples', False)):
            self._warn(f'the train sampler is {type(sampler).__name__}, not '
                       'ResumableSampler: a resumed run continues the '
                       'schedule, but its augmentations (and, mid-epoch, its '
                       'data order) will differ from the run it replaces.')
        self._check_pipeline()

    def _warn(self, text: str) -> None:
        print_log(
            f'{type(self).__name__}: {text}',
            logger='current',
            level=logging.WARNING)

    @staticmethod
    def _wrap_dataset(dataloader_cfg: dict) -> dict:
        cfg = copy.copy(dataloader_cfg)
        dataset = cfg['dataset']
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
            if hasattr(dataset, 'full_init'):
                dataset.full_init()
        if not isinstance(dataset, SampleSeededDataset):
            dataset = SampleSeededDataset(dataset)
        cfg['dataset'] = dataset
        return cfg

    @property
    def sampler(self):
        """The index sampler of the training dataloader."""
        batch_sampler = self.dataloader.batch_sampler
        return getattr(batch_sampler, 'sampler', self.dataloader.sampler)

    def _check_pipeline(self) -> None:
        model = unwrap_model(self.runner.model)
        check = getattr(model, 'check_data_pipeline', None)
        pipeline = getattr(self.dataloader.dataset, 'pipeline', None)
        if check is not None and pipeline is not None:
            check(getattr(pipeline, 'transforms', pipeline))

    def state_dict(self) -> dict:
        """What a resumed run needs (every rank's ``rng``, ``sampler``,
        ``num_batches``, ``world_size``); called on every rank."""
        rank, world_size = get_dist_info()
        rng = capture_rng_state()
        rngs = all_gather_object(rng) if world_size > 1 else [rng]
        sampler = self.sampler
        return dict(
            rng=rngs,
            sampler=sampler.state_dict()
            if hasattr(sampler, 'state_dict') else None,
            num_batches=len(self.dataloader),
            world_size=world_size)

    def load_state_dict(self, state: dict) -> None:
        """Take over a saved loop state (after mmengine set epoch and iter);
        a ``ValueError`` for a mid-epoch state of another data split."""
        rank, world_size = get_dist_info()
        num_batches = len(self.dataloader)
        mid_epoch = self._iter != self._epoch * num_batches
        problems = []
        if state.get('num_batches') != num_batches:
            problems.append(f'{state.get("num_batches")} batches per epoch '
                            f'then, {num_batches} now')
        sampler_state = state.get('sampler')
        if sampler_state is not None and hasattr(self.sampler,
                                                 'load_state_dict'):
            try:
                self.sampler.load_state_dict(sampler_state)
            except ValueError as e:
                problems.append(str(e))
                self.sampler.seed = int(sampler_state['seed'])
        if problems:
            text = ('the checkpoint was written with another data split: ' +
                    '; '.join(problems))
            if mid_epoch:
                raise ValueError(
                    f'{type(self).__name__}: cannot resume in the middle '
                    f'of epoch {self._epoch + 1}: {text}. Resume from an '
                    'epoch checkpoint, or keep the batch size, dataset and '
                    'number of processes of the interrupted run.')
            self._warn(f'{text}; the resumed run is not an exact '
                       'continuation.')
        rngs = state.get('rng') or []
        if len(rngs) != world_size:
            self._warn(f'RNG states of {len(rngs)} ranks saved, {world_size} '
                       'ranks now.')
        self._pending_rng = rngs[rank % len(rngs)] if rngs else None

    def _restore_rng(self) -> None:
        if self._pending_rng is not None:
            restore_rng_state(self._pending_rng)
            self._pending_rng = None

    def _start_after(self, num_batches: int):
        """An iterator over this epoch's batches after the first ones."""
        sampler, batch_sampler = self.sampler, self.dataloader.batch_sampler
        batch_size = getattr(batch_sampler, 'batch_size', None)
        can_skip = (
            hasattr(sampler, 'skip') and type(batch_sampler) is BatchSampler
            and batch_size is not None)
        if can_skip:
            sampler.skip(num_batches * batch_size)
        iterator = iter(self.dataloader)
        if not can_skip:
            self._warn(f'{type(sampler).__name__} cannot start mid-epoch; '
                       f'loading and discarding {num_batches} batches to '
                       'reach the resume point.')
            for _ in range(num_batches):
                next(iterator)
        return iterator

    def _name_dead_worker_samples(self, error: RuntimeError) -> None:
        """Re-raise torch's "worker died" error with what the worker was
        reading; other errors unchanged."""
        match = _WORKER_DIED.search(str(error))
        if type(error) is not RuntimeError or match is None:
            raise error
        pids = [int(p) for p in re.findall(r'\d+', match.group(1))]
        dataset = self.dataloader.dataset
        lines = []
        if isinstance(dataset, SampleSeededDataset):
            lines = dataset.samples_in_progress(pids)
        what = ('It was preparing: ' + '; '.join(lines) if lines else
                'No sample was in progress in that worker (see its output '
                'above).')
        raise RuntimeError(f'{str(error).rstrip(".")}. {what}') from error

    def run(self):
        """Train (mmengine's loop), then remove the progress records."""
        try:
            return super().run()
        finally:
            if self._record_dir is not None:
                shutil.rmtree(self._record_dir, ignore_errors=True)

    def run_epoch(self) -> None:
        """Iterate one epoch (the rest of it, right after a resume)."""
        num_batches = len(self.dataloader)
        done = self._iter - self._epoch * num_batches
        if not 0 <= done <= num_batches:
            raise RuntimeError(
                f'{type(self).__name__}: iteration {self._iter} is not in '
                f'epoch {self._epoch + 1} of {num_batches} batches; the '
                'dataloader changed since the checkpoint was written')
        if done == 0:
            self._restore_rng()
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        try:
            if done:
                iterator = self._start_after(done)
                self._restore_rng()
            else:
                iterator = iter(self.dataloader)
            for idx, data_batch in enumerate(iterator, start=done):
                self.run_iter(idx, data_batch)
        except RuntimeError as e:
            self._name_dead_worker_samples(e)
        self._report_skipped()
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        """One iteration, noting images skipped while loading its batch."""
        self._note_skipped(data_batch)
        super().run_iter(idx, data_batch)

    def _note_skipped(self, data_batch) -> None:
        samples = data_batch.get('data_samples') if isinstance(
            data_batch, dict) else None
        for sample in samples or ():
            records = getattr(sample, 'metainfo', {}).get('skipped_images')
            for path, reason in records or ():
                self._skipped_epoch.append(path)
                if path not in self._skipped_logged:
                    self._skipped_logged.add(path)
                    self.runner.logger.warning(
                        f'Skipped a bad image (logged once): {reason}')

    def _report_skipped(self) -> None:
        rank, world_size = get_dist_info()
        count = torch.tensor([len(self._skipped_epoch)], dtype=torch.int64)
        names = sorted(set(self._skipped_epoch))
        if world_size > 1:
            all_reduce(count)
            per_rank = all_gather_object(names)
            if rank == 0:
                for path in sorted(set().union(*per_rank[1:])):
                    if path not in self._skipped_logged:
                        self._skipped_logged.add(path)
                        self.runner.logger.warning(
                            f'Skipped a bad image on another rank: {path}')
        total = int(count.item())
        if total:
            self.runner.logger.warning(
                f'Epoch {self._epoch + 1}: {total} bad image(s) skipped '
                f'and replaced by other samples; {len(self._skipped_logged)}'
                ' distinct file(s) skipped since the run started (each '
                'named once in the log).')
        self._skipped_epoch.clear()

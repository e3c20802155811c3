"""An epoch-based train loop that resumes exactly, also mid-epoch.

Why not mmengine 0.10.7's ``EpochBasedTrainLoop``: resumed from a
checkpoint written in the middle of an epoch, it restarts that epoch's data
from the first batch while the iteration counter continues, so the run
trains on the epoch's first batches twice and the batch numbers, the
schedules and the data no longer line up with the run it replaces; the
random state of the augmentations lives in the dataloader workers and is
lost; the process RNGs are reseeded, not restored. This loop

* wraps the training dataset in :class:`~mmsiameseim.datasets.
  SampleSeededDataset`, so that with :class:`~mmsiameseim.datasets.
  ResumableSampler` every sample's augmentations depend on (seed, epoch,
  index) only;
* on resume, starts the sampler after the samples of the current epoch that
  were already trained on and numbers the batches from there;
* saves its state in every checkpoint (through
  :class:`~mmsiameseim.engine.SafeResumeRunner`): the sampler's seed and
  epoch and every rank's RNG states (Python, NumPy, torch CPU and CUDA), and
  restores the RNGs where the interrupted run would have continued;
* gives the dataloader iterators their own generator, so that starting a
  pass (which draws the workers' base seed) does not consume the global
  torch RNG the model uses;
* logs every image skipped by ``RobustLoadImageFromFile(on_error='skip')``
  once, with a count at the end of each epoch;
* turns a dataloader worker that died without a Python error into an error
  naming the sample and file it was preparing;
* checks the model against its data pipeline when it is built
  (``model.check_data_pipeline``, e.g. :meth:`SiameseIM.check_data_pipeline`).

Exactness holds as long as nothing between two iterations consumes the
global RNGs differently in the two runs (e.g. a validation loop that draws
from them): the saved state is the one at the checkpoint.
"""
import copy
import logging
import os
import os.path as osp
import re
import shutil
import tempfile
import weakref
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.dist import all_gather_object, all_reduce, get_dist_info
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import DATASETS
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import LOOPS
from torch.utils.data import BatchSampler, DataLoader

from ..datasets.sample_seeded_dataset import SampleSeededDataset
from .rng_state import capture_rng_state, restore_rng_state

# torch's messages: "DataLoader worker (pid 12) is killed by signal: ..."
# and "DataLoader worker (pid(s) 12, 13) exited unexpectedly"
_WORKER_DIED = re.compile(r'DataLoader worker \(pid(?:\(s\))? ([\d, ]+)\)')


_RECORD_PREFIX = 'mmsiameseim-samples-'


def _record_root() -> str:
    """Prefer a RAM-backed folder for the per-sample progress records."""
    if os.access('/dev/shm', os.W_OK):
        return '/dev/shm'
    return tempfile.gettempdir()


def _make_record_dir() -> str:
    """A fresh records folder named after this process.

    Folders of processes that no longer exist (a run that was killed
    cannot clean up after itself) are removed first.
    """
    root = _record_root()
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
    return tempfile.mkdtemp(
        prefix=f'{_RECORD_PREFIX}{os.getpid()}-', dir=root)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` with exact (mid-epoch) resume.

    Same arguments as mmengine's ``EpochBasedTrainLoop``; see the module
    docstring for what it adds. Use it with
    ``train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=N)``
    and ``train_dataloader.sampler = dict(type='ResumableSampler')``.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The training dataloader or its
            config; a config's dataset is wrapped in
            :class:`SampleSeededDataset`.
        max_epochs (int): Number of epochs.
        val_begin (int): First epoch that validates. Defaults to 1.
        val_interval (int): Validation interval. Defaults to 1.
        dynamic_intervals (list[tuple[int, int]], optional): As mmengine's.
            Defaults to None.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_epochs: int,
                 val_begin: int = 1,
                 val_interval: int = 1,
                 dynamic_intervals: Optional[List] = None) -> None:
        if isinstance(dataloader, dict):
            dataloader = self._wrap_dataset(dataloader)
        super().__init__(runner, dataloader, max_epochs, val_begin,
                         val_interval, dynamic_intervals)
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
        if not (hasattr(sampler, 'skip') and getattr(
                sampler, 'seed_samples', False)):
            print_log(
                f'{type(self).__name__}: the train sampler is '
                f'{type(sampler).__name__}, not ResumableSampler: a resumed '
                'run continues the schedule, but its augmentations (and, '
                'mid-epoch, its data order) will differ from the run it '
                'replaces.',
                logger='current',
                level=logging.WARNING)
        self._check_pipeline()

    # ------------------------------------------------------------------
    # building
    # ------------------------------------------------------------------

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
        model = self.runner.model
        if is_model_wrapper(model):
            model = model.module
        check = getattr(model, 'check_data_pipeline', None)
        pipeline = getattr(self.dataloader.dataset, 'pipeline', None)
        if check is not None and pipeline is not None:
            check(getattr(pipeline, 'transforms', pipeline))

    # ------------------------------------------------------------------
    # state in checkpoints
    # ------------------------------------------------------------------

    def state_dict(self) -> dict:
        """What a resumed run needs; call it on every rank (it gathers).

        Returns:
            dict: ``rng`` (every rank's RNG states), ``sampler`` (its
            ``state_dict()``), ``num_batches`` and ``world_size``.
        """
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
        """Take over a saved loop state (after mmengine set epoch and iter).

        Args:
            state (dict): From :meth:`state_dict`.

        Raises:
            ValueError: If the checkpoint was written mid-epoch with a data
                split this run cannot continue (another number of batches
                per epoch, world size or sampler setting).
        """
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
            print_log(f'{type(self).__name__}: {text}; the resumed run is '
                      'not an exact continuation.', logger='current',
                      level=logging.WARNING)
        rngs = state.get('rng') or []
        if len(rngs) != world_size:
            print_log(f'{type(self).__name__}: RNG states of {len(rngs)} '
                      f'ranks saved, {world_size} ranks now.',
                      logger='current', level=logging.WARNING)
        self._pending_rng = rngs[rank % len(rngs)] if rngs else None

    def _restore_rng(self) -> None:
        if self._pending_rng is not None:
            restore_rng_state(self._pending_rng)
            self._pending_rng = None

    # ------------------------------------------------------------------
    # the loop
    # ------------------------------------------------------------------

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
            print_log(
                f'{type(self).__name__}: {type(sampler).__name__} cannot '
                f'start mid-epoch; loading and discarding {num_batches} '
                'batches to reach the resume point.',
                logger='current',
                level=logging.WARNING)
            for _ in range(num_batches):
                next(iterator)
        return iterator

    def _name_dead_worker_samples(self, error: RuntimeError) -> None:
        """Re-raise torch's "worker died" error with what it was reading.

        torch raises it from ``next()`` or, through its SIGCHLD handler,
        wherever the main process is (e.g. inside the training step).
        Other errors are re-raised unchanged.
        """
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

    # ------------------------------------------------------------------
    # skipped images
    # ------------------------------------------------------------------

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

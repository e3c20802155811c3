"""The one checkpoint service: reading, trust, unwrapping, backbone extraction.

Every part of the package and its tools reads checkpoint files through this
module: the Runner (:class:`SafeResumeRunner`: resume and ``load_from``),
the weight-check hook of the downstream configs, the probes, the converters
and the visualiser.

**Trust policy.** A ``.pth`` file is a pickle, and unpickling runs whatever
code the file names. So:

* a file is read with full pickle only when the user's own training run
  wrote it, or when the user names it as trusted (``trusted=True``; the
  tools' ``--trusted`` / ``--trusted-checkpoint`` flags, the config key
  ``load_from_trusted=True``);
* everything else is read with ``torch.load(weights_only=True)``, which
  admits tensors, containers and primitive values (plus
  ``argparse.Namespace``, which MAE-style scripts store under ``args``) and
  refuses any other pickled object before it is built.

"Written by the user's own run" is checked, not guessed from the folder:
:class:`SafeResumeRunner` records the SHA-256 of every checkpoint it saves
in a manifest next to it (:data:`MANIFEST_NAME`), and a file counts as the
run's own only while its bytes hash to the recorded digest. A file saved
into a work dir by other means (a download, a copy over an old checkpoint)
is not in the manifest and gets the safe loader, also for ``--resume``.

mmengine's own checkpoints hold Python objects (``message_hub`` keeps
``HistoryBuffer`` objects with numpy arrays), so mmengine 0.10.7's resume
fails under torch >= 2.6's ``weights_only`` default; resuming the run's
own files with full pickle is what makes resume work again.

**Unwrapping** (:func:`unwrap_state_dict`): ``state_dict`` (mmengine),
``model`` (the official release, MAE style) and ``module`` entries and
``module.`` (DDP) key prefixes. **Backbone extraction**
(:func:`backbone_state_dict`): the online encoder (``backbone.*``) or its
momentum copy (``target_encoder.module.0.*`` of SiameseIM,
``target_net.module.0.*`` of mmpretrain's MoCo v3 / BYOL), from our
checkpoints, from mmpretrain models and from the official release (renamed
by :mod:`mmsiameseim.utils.key_mapping`).
"""
import argparse
import contextlib
import datetime
import hashlib
import io
import json
import os
import os.path as osp
import pickle
import tempfile
import zipfile
from collections import OrderedDict
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

import torch
from mmengine.dist import is_main_process
from mmengine.fileio import get as fileio_get
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import BaseLoop, Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from ..config_scope import collate_fn_without_scope
from .key_mapping import (detect_layout, mmsiameseim_to_backbone,
                          unwrap_state_dict)

MapLocation = Union[str, torch.device, Callable, None]

#: File next to the checkpoints of a run: ``{file name: {sha256, bytes,
#: saved}}`` of every checkpoint :class:`SafeResumeRunner` wrote there.
MANIFEST_NAME = 'checkpoint_manifest.json'

_TRUST_HINT = (
    'Only a checkpoint written by your own training run (recorded in '
    f'{MANIFEST_NAME} next to it) is read with full pickle; any other file '
    'must be a plain state dict (tensors in dicts/lists), because '
    'unpickling arbitrary objects can execute code. If you trust this file, '
    'say so: `--trusted` (converters), `--trusted-checkpoint` (probes, '
    'tools/test.py, tools/train.py, the visualiser), `load_from_trusted = '
    'True` in a config, or `trusted=True` in Python. To share weights, '
    "save the plain state dict once: `torch.save(torch.load(path, "
    "weights_only=False)['state_dict'], new_path)`.")


class UntrustedCheckpointError(ValueError):
    """A checkpoint holds pickled objects and nobody vouched for it."""


# --------------------------------------------------------------------------
# The manifest of a run's own checkpoints
# --------------------------------------------------------------------------


def file_sha256(path: str, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def _manifest_path(path: str) -> str:
    return osp.join(osp.dirname(osp.abspath(path)), MANIFEST_NAME)


def _read_manifest(manifest: str) -> Dict[str, dict]:
    try:
        with open(manifest) as f:
            entries = json.load(f)
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def record_run_checkpoint(path: str) -> str:
    """Record ``path`` as written by this run (its SHA-256 in the manifest).

    The manifest is rewritten atomically; entries of files that no longer
    exist (removed by ``max_keep_ckpts``) are dropped.

    Args:
        path (str): A checkpoint file just saved by the run.

    Returns:
        str: The file's SHA-256.
    """
    manifest = _manifest_path(path)
    folder = osp.dirname(manifest)
    entries = {
        name: entry
        for name, entry in _read_manifest(manifest).items()
        if osp.isfile(osp.join(folder, name))
    }
    sha = file_sha256(path)
    entries[osp.basename(path)] = dict(
        sha256=sha,
        bytes=osp.getsize(path),
        saved=datetime.datetime.now().isoformat(timespec='seconds'))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.manifest.')
    with os.fdopen(fd, 'w') as f:
        json.dump(entries, f, indent=1, sort_keys=True)
    os.replace(tmp, manifest)
    return sha


def written_by_run(path: str) -> bool:
    """Whether this package's Runner wrote ``path`` (hash in the manifest).

    Args:
        path (str): A local checkpoint file.

    Returns:
        bool: True only if the manifest next to the file records its name
        with the SHA-256 and size of its current bytes.
    """
    if '://' in str(path) or not osp.isfile(path):
        return False
    entry = _read_manifest(_manifest_path(path)).get(osp.basename(path))
    if not isinstance(entry, dict) or 'sha256' not in entry:
        return False
    if entry.get('bytes') != osp.getsize(path):
        return False
    return entry['sha256'] == file_sha256(path)


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


def _allow_namespace():
    """Admit ``argparse.Namespace`` in ``weights_only`` loads (torch>=2.5)."""
    safe_globals = getattr(torch.serialization, 'safe_globals', None)
    if safe_globals is None:
        return contextlib.nullcontext()
    return safe_globals([argparse.Namespace])


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def read_checkpoint(path: str,
                    trusted: bool = False,
                    map_location: MapLocation = 'cpu') -> Any:
    """Read a checkpoint file under the package's trust policy.

    Args:
        path (str): Local path, or any URI mmengine's file backends read
            (``s3://``, ``http(s)://``, ...).
        trusted (bool): The user vouches for the file: read it with full
            pickle. Defaults to False, which reads with full pickle only
            the run's own files (:func:`written_by_run`) and everything else
            with ``weights_only=True``.
        map_location (str | torch.device | callable, optional): As in
            :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        Any: What the file holds (usually a dict).

    Raises:
        FileNotFoundError: If a local ``path`` does not exist.
        UntrustedCheckpointError: If an untrusted file holds pickled
            objects other than tensors and containers (the message names
            the file and how to trust it).
        ValueError: If the file is not a readable PyTorch checkpoint.
    """
    path = str(path)
    remote = '://' in path
    if not remote:
        path = osp.expanduser(path)
        if not osp.isfile(path):
            raise FileNotFoundError(f'checkpoint file {path} does not exist')
    full_pickle = trusted or written_by_run(path)
    try:
        source = io.BytesIO(fileio_get(path)) if remote else path
        if full_pickle:
            return torch.load(
                source, map_location=map_location, weights_only=False)
        with _allow_namespace():
            return torch.load(
                source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if not full_pickle and (remote or zipfile.is_zipfile(path)):
            raise UntrustedCheckpointError(
                f'checkpoint {path} holds pickled Python objects that are '
                f'not tensors ({_first_line(e)}); it was not read. '
                f'{_TRUST_HINT}') from e
        raise ValueError(f'{path} is not a readable PyTorch checkpoint '
                         f'(corrupt or truncated file?): {_first_line(e)}'
                         ) from e
    except (FileNotFoundError, MemoryError):
        raise
    except Exception as e:  # torch raises many types on damaged files
        raise ValueError(f'{path} is not a readable PyTorch checkpoint '
                         '(corrupt or truncated file?): '
                         f'{type(e).__name__}: {_first_line(e)}') from e


def read_state_dict(path: str,
                    trusted: bool = False) -> Tuple['OrderedDict', str]:
    """Read, unwrap and classify a checkpoint's state dict.

    Args:
        path (str): The checkpoint file.
        trusted (bool): See :func:`read_checkpoint`. Defaults to False.

    Returns:
        tuple: ``(state_dict, layout)`` with ``layout`` from
        :func:`~mmsiameseim.utils.key_mapping.detect_layout`.

    Raises:
        FileNotFoundError | ValueError: With a message naming ``path``.
    """
    ckpt = read_checkpoint(path, trusted=trusted)
    try:
        state_dict = unwrap_state_dict(ckpt)
        return state_dict, detect_layout(state_dict)
    except (ValueError, TypeError) as e:
        raise ValueError(f'{path}: {e}') from e


def backbone_state_dict(checkpoint: Mapping,
                        source: str = 'online') -> 'OrderedDict':
    """The encoder weights of a checkpoint, in bare mmpretrain names.

    Args:
        checkpoint (Mapping): A loaded checkpoint or state dict of ours, of
            an mmpretrain model, of the official release, or a bare
            backbone.
        source (str): ``'online'`` (the encoder trained by gradient, the
            one to transfer) or ``'target'`` (its momentum copy).
            Defaults to ``'online'``.

    Returns:
        OrderedDict: ``cls_token``, ``pos_embed``, ``patch_embed.*``,
        ``layers.*`` (and ``ln1.*`` if the source has a final norm).
    """
    return mmsiameseim_to_backbone(checkpoint, source=source, prefix='')


def load_backbone_weights(path: str,
                          source: str = 'online',
                          trusted: bool = False) -> 'OrderedDict':
    """:func:`read_checkpoint` + :func:`backbone_state_dict`.

    Args:
        path (str): The checkpoint file.
        source (str): ``'online'`` or ``'target'``. Defaults to
            ``'online'``.
        trusted (bool): See :func:`read_checkpoint`. Defaults to False.

    Returns:
        OrderedDict: Bare backbone weights.

    Raises:
        FileNotFoundError | ValueError: With a message naming ``path``.
    """
    ckpt = read_checkpoint(path, trusted=trusted)
    try:
        return backbone_state_dict(ckpt, source=source)
    except (ValueError, TypeError) as e:
        raise ValueError(f'{path}: {e}') from e


# --------------------------------------------------------------------------
# The Runner
# --------------------------------------------------------------------------


@RUNNERS.register_module()
class SafeResumeRunner(Runner):
    """mmengine's Runner, reading checkpoints through this service.

    * :meth:`save_checkpoint` records every checkpoint it writes in the
      manifest next to it, so the run's own files can later be read with
      full pickle (resume, evaluation, converters) and nothing else can.
    * :meth:`resume` and :meth:`load_checkpoint` read with
      :func:`read_checkpoint`: full pickle for the run's own files or when
      the config sets ``load_from_trusted=True``; ``weights_only=True``
      otherwise, which refuses pickled code with a message naming the file.

    * A train loop with ``state_dict()`` / ``load_state_dict()`` (e.g.
      :class:`~mmsiameseim.engine.ResumableEpochBasedTrainLoop`: sampler
      position and seed, RNG states) has its state saved in every
      checkpoint (``meta['train_loop']``) and restored by :meth:`resume`,
      which makes a resumed run continue exactly (docs/operations.md).

    Select it with ``runner_type = 'SafeResumeRunner'`` in a config
    (``tools/train.py`` uses it by default).
    """

    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """Save a checkpoint (mmengine) and record it in the manifest.

        Called on every rank (mmengine's method writes on rank 0 only); the
        train loop's state is gathered from all ranks here.

        Args:
            out_dir (str): Folder of the checkpoint.
            filename (str): File name.
            file_client_args (dict, optional): Deprecated mmengine argument.
                Defaults to None.
            save_optimizer (bool): Save the optimizer state. Defaults to
                True.
            save_param_scheduler (bool): Save the schedulers' state.
                Defaults to True.
            meta (dict, optional): Extra meta information. Defaults to None.
            by_epoch (bool): An epoch (True) or iteration checkpoint.
                Defaults to True.
            backend_args (dict, optional): File backend arguments. Defaults
                to None.
        """
        loop = self._train_loop
        if isinstance(loop, BaseLoop) and hasattr(loop, 'state_dict'):
            meta = dict(meta or {})
            meta['train_loop'] = loop.state_dict()
        super().save_checkpoint(
            out_dir,
            filename,
            file_client_args,
            save_optimizer=save_optimizer,
            save_param_scheduler=save_param_scheduler,
            meta=meta,
            by_epoch=by_epoch,
            backend_args=backend_args)
        path = osp.join(out_dir, filename)
        if is_main_process() and '://' not in path and osp.isfile(path):
            record_run_checkpoint(path)

    def resume(self, filename: str, *args, **kwargs) -> None:
        """mmengine's resume, then the train loop's saved state.

        Args:
            filename (str): The checkpoint.
            *args: Passed to :meth:`mmengine.runner.Runner.resume`.
            **kwargs: Passed to :meth:`mmengine.runner.Runner.resume`.
        """
        self._loaded_meta = None
        super().resume(filename, *args, **kwargs)
        loop = self.train_loop
        if not hasattr(loop, 'load_state_dict'):
            return
        state = (self._loaded_meta or {}).get('train_loop')
        if state is None:
            self.logger.warning(
                f'{filename} holds no train loop state (written by another '
                'loop or runner): the sampler position and RNG states are '
                'not restored, so the resumed run is not an exact '
                'continuation.')
            return
        loop.load_state_dict(state)

    def load_checkpoint(self,
                        filename: str,
                        map_location: MapLocation = 'cpu',
                        strict: bool = False,
                        revise_keys: Optional[list] = None) -> dict:
        """Load model weights from ``filename`` (``load_from`` and resume).

        mmengine's :meth:`~mmengine.runner.Runner.resume` reads its file
        through this method too, so both follow the trust policy.

        Args:
            filename (str): Checkpoint path or URI.
            map_location (str | callable): As in :func:`torch.load`.
                Defaults to ``'cpu'``.
            strict (bool): Require matching keys. Defaults to False.
            revise_keys (list, optional): ``(pattern, replacement)`` pairs
                applied to the keys. Defaults to None, i.e. stripping a
                leading ``module.``.

        Returns:
            dict: The loaded checkpoint.
        """
        if revise_keys is None:
            revise_keys = [(r'^module.', '')]
        trusted = bool(self.cfg.get('load_from_trusted', False))
        checkpoint = read_checkpoint(
            filename, trusted=trusted, map_location=map_location)
        meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
        self._loaded_meta = meta if isinstance(meta, dict) else None
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        checkpoint = _load_checkpoint_to_model(
            model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    @staticmethod
    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        """Build a dataloader as mmengine's Runner does.

        mmengine 0.10.7 turns ``collate_fn=dict(type=..., **kwargs)`` into
        ``partial(fn, **kwargs)``, so the ``_scope_`` key it adds to every
        dict of a ``pkg::`` base reaches the function (``TypeError:
        default_collate() got an unexpected keyword argument '_scope_'``).
        The scope means nothing to a plain function and is dropped here.

        Args:
            dataloader (DataLoader | dict): As in
                :meth:`mmengine.runner.Runner.build_dataloader`.
            seed (int, optional): Random seed. Defaults to None.
            diff_rank_seed (bool): Different seeds per rank. Defaults to
                False.

        Returns:
            DataLoader: The built dataloader.
        """
        return Runner.build_dataloader(
            collate_fn_without_scope(dataloader),
            seed=seed,
            diff_rank_seed=diff_rank_seed)

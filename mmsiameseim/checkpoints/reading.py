"""The one checkpoint reader and its trust policy: full pickle only for the
user's own run's files (:data:`MANIFEST_NAME`) or trusted ones
(docs/checkpoints.md)."""
import argparse
import contextlib
import datetime
import hashlib
import io
import json
import os
import os.path as osp
import pickle
import re
import tempfile
import zipfile
from typing import Any, Callable, Dict, Union

import torch
from mmengine.fileio import get as fileio_get

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
    """Record ``path`` as written by this run (the manifest rewritten
    atomically, without files that no longer exist); its SHA-256."""
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
    """Whether the manifest next to the local file ``path`` records its
    name with the SHA-256 and size of its current bytes."""
    if '://' in str(path) or not osp.isfile(path):
        return False
    entry = _read_manifest(_manifest_path(path)).get(osp.basename(path))
    if not isinstance(entry, dict) or 'sha256' not in entry:
        return False
    if entry.get('bytes') != osp.getsize(path):
        return False
    return entry['sha256'] == file_sha256(path)


def _allow_namespace():
    """Admit ``argparse.Namespace`` in ``weights_only`` loads (torch>=2.5)."""
    safe_globals = getattr(torch.serialization, 'safe_globals', None)
    if safe_globals is None:
        return contextlib.nullcontext()
    return safe_globals([argparse.Namespace])


def _first_line(error: Exception) -> str:
    """The gist of a torch error: its first line without colour codes, or
    for a refused pickle the global it names (torch's text around it
    advises ``weights_only=False``, which is not ours to give)."""
    text = re.sub(r'\x1b\[[0-9;]*m', '', str(error)).strip()
    refused = re.search(r'Unsupported global: GLOBAL [\w.]+', text)
    if refused:
        return refused.group(0)
    return text.splitlines()[0] if text else type(error).__name__


def read_checkpoint(path: str,
                    trusted: bool = False,
                    map_location: MapLocation = 'cpu') -> Any:
    """Read a checkpoint file under the package's trust policy.

    Args:
        path (str): Local path, or a URI mmengine's file backends read.
        trusted (bool): The user vouches for the file (full pickle).
            Defaults to False: full pickle only for :func:`written_by_run`.
        map_location (str | torch.device | callable, optional): As in
            :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        Any: What the file holds (usually a dict).

    Raises:
        FileNotFoundError | UntrustedCheckpointError | ValueError: A missing
            file, pickled objects nobody vouched for (the message says how
            to trust them), or not a readable PyTorch checkpoint.
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
        raise ValueError(f'{path} is not a PyTorch checkpoint (neither a '
                         'zip archive nor a pickle of tensors): a damaged '
                         'or other file') from e
    except (FileNotFoundError, MemoryError):
        raise
    except Exception as e:  # torch raises many types on damaged files
        raise ValueError(f'{path} is not a readable PyTorch checkpoint '
                         '(corrupt or truncated file?): '
                         f'{type(e).__name__}: {_first_line(e)}') from e

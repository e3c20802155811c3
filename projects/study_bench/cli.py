"""Command-line pieces the bench's tools share.

* :func:`csv_list`: an ``argparse`` type for comma-separated lists;
* :func:`append_jsonl`: print a JSON record and append it to a file;
* :func:`add_scene_args`: where Fashion-MNIST scenes take their items
  from and how many there are;
* :func:`machine`: the CPU the records say they ran on;
* :func:`source_commit`: the commit the records say they ran.
"""
import argparse
import json
import os
import os.path as osp
import platform
import subprocess
from typing import Callable, Optional, Sequence


def csv_list(kind: Callable = str,
             choices: Optional[Sequence] = None) -> Callable:
    """An ``argparse`` type: ``'a,b'`` -> ``[kind('a'), kind('b')]``.

    Args:
        kind (Callable): Converts one item. Defaults to ``str``.
        choices (Sequence, optional): The allowed items.

    Returns:
        Callable: Raises ``argparse.ArgumentTypeError`` on an empty list or
        an item outside ``choices``.
    """

    def parse(text: str):
        items = [kind(t) for t in text.split(',') if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError('empty list')
        if choices is not None:
            bad = [t for t in items if t not in choices]
            if bad:
                raise argparse.ArgumentTypeError(
                    f'unknown {bad}; choose from {list(choices)}')
        return items

    return parse


def append_jsonl(path: Optional[str], record: dict) -> str:
    """Print ``record`` as one JSON line and append it to ``path``; the
    record also gets the code that made it (``commit``,
    :func:`source_commit`) unless it names one.

    Args:
        path (str, optional): ``.jsonl`` file (parent folders are created);
            None only prints.
        record (dict): JSON-serialisable record.

    Returns:
        str: The line written (without newline).
    """
    record.setdefault('commit', source_commit())
    line = json.dumps(record)
    if path:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(path, 'a') as f:
            f.write(line + '\n')
    print(line, flush=True)
    return line


def add_scene_args(parser: argparse.ArgumentParser,
                   counts: Sequence[str] = ('--num-train', '--num-test'),
                   defaults: Sequence[int] = (2000, 1000),
                   source: str = '--data-root') -> argparse.ArgumentParser:
    """The Fashion-MNIST folder the scenes' items come from and the number
    of train and test scenes (the scene tools' and benchmarks' flags)."""
    parser.add_argument(source, default='data/fashion-mnist',
                        help='Fashion-MNIST IDX files')
    for flag, default, split in zip(counts, defaults, ('train', 'test')):
        parser.add_argument(flag, type=int, default=default,
                            help=f'{split} scenes. Defaults to {default}')
    return parser


def machine() -> str:
    """``'<arch> CPU x<logical CPUs>'``."""
    return f'{platform.machine()} CPU x{os.cpu_count()}'


def source_commit() -> Optional[str]:
    """The repository's commit (12 hex digits, ``-dirty`` when tracked
    files other than JSON-line records differ from it: the records a run
    appends are no change of code), or None outside a git checkout."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

    def git(*args: str) -> str:
        return subprocess.run(['git', '-C', root, *args], check=True,
                              capture_output=True, text=True).stdout.strip()

    try:
        commit = git('rev-parse', '--short=12', 'HEAD')
        dirty = git('status', '--porcelain', '--untracked-files=no', '--',
                    '.', ':!*.jsonl')
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ('-dirty' if dirty else '')

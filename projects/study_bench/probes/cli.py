"""Command line shared by ``knn_eval.py``, ``linear_probe.py`` and
``dense_probe.py``: the common arguments, the device, the frozen encoder
they describe, the Fashion-MNIST features and the JSON-line record.

The computations live in :mod:`mmsiameseim.evaluation`; this module only
turns a command line into calls and a record.
"""
import json
import os
import os.path as osp
from typing import Optional, Tuple

import torch

from .fashion_features import extract_split_features
from .frozen_encoder import POOLS, FrozenEncoder, build_frozen_encoder


def add_common_args(parser, train_help: str = 'images',
                    default_sizes: Tuple[Optional[int],
                                         Optional[int]] = (None, None)):
    """Add the command-line arguments every benchmark tool shares.

    Args:
        parser (argparse.ArgumentParser): The parser.
        train_help (str): What ``--train-size`` counts.
        default_sizes (tuple): Defaults of ``--train-size`` and
            ``--test-size`` (None: the whole split).

    Returns:
        argparse.ArgumentParser: The parser.
    """
    parser.add_argument('config', help='pretraining config')
    parser.add_argument(
        'checkpoint', help="checkpoint, or 'none' for the random init")
    parser.add_argument('--data-root', default='data/fashion-mnist')
    parser.add_argument(
        '--device',
        default=None,
        help='cpu or cuda. Defaults to cuda when available')
    parser.add_argument(
        '--train-size',
        type=int,
        default=default_sizes[0],
        help=f'number of train {train_help} (default: '
        f'{default_sizes[0] or "all"})')
    parser.add_argument(
        '--test-size',
        type=int,
        default=default_sizes[1],
        help=f'number of test {train_help} (default: '
        f'{default_sizes[1] or "all"})')
    parser.add_argument(
        '--img-size',
        type=int,
        default=None,
        help="input size (default: the backbone's img_size)")
    parser.add_argument(
        '--out', default=None, help='append the JSON record to this file')
    parser.add_argument('--pool', choices=POOLS, default='avg')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=256,
        help='images per forward when extracting features')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--trusted-checkpoint',
        action='store_true',
        help='the checkpoint was written by your own run: allow full '
        'pickle (automatic next to an mmengine last_checkpoint file)')
    return parser


def resolve_device(device: Optional[str]) -> str:
    """``device`` or, if None, ``'cuda'`` when available else ``'cpu'``."""
    if device is None:
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise RuntimeError('--device cuda requested but CUDA is unavailable')
    return device


def check_sizes(args) -> None:
    """Reject non-positive ``--train-size`` / ``--test-size``."""
    for name in ('train_size', 'test_size', 'img_size'):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise SystemExit(f'--{name.replace("_", "-")} must be >= 1')


def base_record(tool: str, args, info: dict, **fields) -> dict:
    """The fields every tool writes, followed by ``fields``."""
    record = dict(
        tool=tool,
        config=args.config,
        checkpoint=args.checkpoint,
        backbone=info.get('backbone'),
        checkpoint_loaded=info.get('checkpoint_loaded'))
    record.update(fields)
    return record


# --------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------
def append_jsonl(path: Optional[str], record: dict) -> str:
    """Print ``record`` as one JSON line and append it to ``path``.

    Args:
        path (str, optional): ``.jsonl`` file (parent folders are created);
            None only prints.
        record (dict): JSON-serialisable record.

    Returns:
        str: The line written (without newline).
    """
    line = json.dumps(record, sort_keys=False)
    if path:
        parent = osp.dirname(osp.abspath(path))
        os.makedirs(parent, exist_ok=True)
        with open(path, 'a') as f:
            f.write(line + '\n')
    print(line, flush=True)
    return line


def encoder_from_args(args, device: str) -> tuple:
    """The frozen encoder the common CLI describes, and its input size.

    Args:
        args (argparse.Namespace): Parsed by :func:`add_common_args`.
        device (str): From :func:`resolve_device`.

    Returns:
        tuple: ``(encoder, info, img_size)``.
    """
    encoder, info = build_frozen_encoder(
        args.config,
        args.checkpoint,
        device=device,
        pool=args.pool,
        seed=args.seed,
        trusted=args.trusted_checkpoint)
    return encoder, info, args.img_size or info['img_size'] or 32


def encode_classification_splits(encoder: FrozenEncoder, args,
                                 img_size: int) -> tuple:
    """Pooled features and labels of the CLI's train and test subsets.

    Returns:
        tuple: ``(train_feats, train_labels, test_feats, test_labels)``.
    """
    common = dict(img_size=img_size, batch_size=args.batch_size)
    train = extract_split_features(encoder, args.data_root, 'train',
                                   args.train_size, **common)
    test = extract_split_features(encoder, args.data_root, 'test',
                                  args.test_size, **common)
    return (*train, *test)

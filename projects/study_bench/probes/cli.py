"""The command lines of the offline probes.

``tools/benchmarks/{knn_eval,linear_probe,dense_probe,few_shot_logistic}.py``
are :func:`probe_main` of one entry of :data:`PROBES`: the arguments the
Fashion-MNIST probes share (the fields of :class:`~.common.ProbeRun`), the
probe's own, their lower bounds, then the probe function with the parsed
arguments as keywords.
"""
import argparse
import sys
from typing import Optional, Sequence

from mmsiameseim.cli import add_debug_flag, run_cli

from .dense_probe import DEFAULT_SCENES, dense_probe
from .few_shot import few_shot_probe
from .frozen_encoder import POOLS
from .knn import knn_probe
from .linear import linear_probe

TRUSTED_HELP = ('the checkpoint was written by your own run: allow full '
                'pickle (automatic next to an mmengine last_checkpoint '
                'file; see docs/checkpoints.md)')


def _encoder_args(parser, data_root: str, pool: str, batch_size: int):
    parser.add_argument('config', help='pretraining config')
    parser.add_argument(
        'checkpoint', help="checkpoint, or 'none' for the random init")
    parser.add_argument('--data-root', default=data_root)
    parser.add_argument('--device', default=None,
                        help='cpu or cuda. Defaults to cuda when available')
    parser.add_argument('--pool', choices=POOLS, default=pool)
    parser.add_argument('--batch-size', type=int, default=batch_size,
                        help='images per forward when encoding')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='append the JSON record to this file')
    parser.add_argument('--trusted-checkpoint', action='store_true',
                        help=TRUSTED_HELP)


def _fashion_args(parser, unit: str = 'images', sizes=(None, None)):
    """The fields of :class:`~.common.ProbeRun` as arguments."""
    _encoder_args(parser, 'data/fashion-mnist', 'avg', 256)
    for split, default in zip(('train', 'test'), sizes):
        parser.add_argument(
            f'--{split}-size', type=int, default=default,
            help=f'number of {split} {unit} (default: '
            f"{default or 'the whole split'})")
    parser.add_argument('--img-size', type=int,
                        help="input size (default: the backbone's img_size)")


def _knn_args(parser):
    _fashion_args(parser)
    parser.add_argument('--k', type=int, default=20)
    parser.add_argument('--temperature', type=float, default=0.07)


def _linear_args(parser):
    _fashion_args(parser)
    for name, kind, what in (('epochs', int, 'training epochs'),
                             ('warmup-epochs', int, 'warm-up epochs'),
                             ('probe-batch-size', int, 'training batch'),
                             ('lr', float, 'peak LARS learning rate')):
        parser.add_argument(f'--{name}', type=kind,
                            help=f"{what} (default: the config's)")
    parser.add_argument('--work-dir',
                        help="the Runner's folder (default: a temporary one)")


def _dense_args(parser):
    _fashion_args(parser, 'scenes', DEFAULT_SCENES)
    parser.add_argument('--canvas', type=int,
                        help='scene side in pixels (default: 2 x img-size)')
    parser.add_argument('--item-size', type=int, nargs=2,
                        metavar=('MIN', 'MAX'),
                        help='item side range (default: 5/8 and 5/4 of '
                        'img-size)')
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--lr', type=float, default=1e-2)
    parser.add_argument('--probe-batch-size', type=int, default=64,
                        help='scenes per step of the probe training')
    parser.add_argument('--dump-scenes', metavar='DIR',
                        help='also write the first --num-dump test scenes '
                        'as PNGs + json')
    parser.add_argument('--num-dump', type=int, default=32)


def _few_shot_args(parser):
    _encoder_args(parser, 'data/imagenet', 'cls', 64)
    parser.add_argument('--subset-list', required=True,
                        help='e.g. SimCLR 1percent.txt')
    parser.add_argument('--lambd', type=float, default=0.1,
                        help='L2 weight x N (0.1 for ViT-B, 0.01 for ViT-L)')
    parser.add_argument('--resize', type=int, default=256)
    parser.add_argument('--crop', type=int, default=224)
    parser.add_argument('--val-size', type=int,
                        help='first N validation images (default: all)')
    parser.add_argument('--num-workers', type=int, default=4)
    parser.add_argument('--max-iter', type=int, default=1000)


SIZES = dict(train_size=1, test_size=1, img_size=1)
#: name -> (probe, description, arguments, lower bounds of arguments)
PROBES = dict(
    knn_eval=(knn_probe, 'kNN evaluation of a frozen backbone on '
              'Fashion-MNIST', _knn_args, SIZES),
    linear_probe=(linear_probe, 'Linear probe (the linear-probing config) '
                  'of a frozen backbone on Fashion-MNIST', _linear_args,
                  dict(SIZES, epochs=1, probe_batch_size=2)),
    dense_probe=(dense_probe, 'Dense linear probe (mIoU) on Fashion-MNIST '
                 'scenes', _dense_args,
                 dict(SIZES, train_size=2, epochs=1, probe_batch_size=2)),
    few_shot_logistic=(few_shot_probe, '1 % ImageNet logistic regression '
                       'on frozen features', _few_shot_args,
                       dict(lambd=1e-12)),
)


def parse_probe_args(name: str,
                     argv: Optional[Sequence[str]] = None
                     ) -> argparse.Namespace:
    """Parse the command line of the probe ``name`` (a :data:`PROBES`
    key); an argument below its lower bound is a usage error."""
    _, description, add_args, minimums = PROBES[name]
    parser = argparse.ArgumentParser(description=description)
    add_args(parser)
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    for key, minimum in minimums.items():
        value = getattr(args, key)
        if value is not None and value < minimum:
            parser.error(f"--{key.replace('_', '-')} must be >= {minimum:g}")
    return args


def probe_main(name: str, argv: Optional[Sequence[str]] = None) -> dict:
    """Run the probe ``name`` on a command line; return its record."""
    args = vars(parse_probe_args(name, argv))
    args.pop('debug')
    return PROBES[name][0](**args)


def probe_cli(name: str, argv: Optional[Sequence[str]] = None) -> int:
    """The probe's script: a user error (a missing, damaged, untrusted or
    wrong-size checkpoint, a bad option value) ends in one line naming it,
    status 1; ``--debug`` shows the traceback. Returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return run_cli(lambda: probe_main(name, argv) and 0, f'{name}.py',
                   '--debug' in argv)

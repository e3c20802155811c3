"""Place Fashion-MNIST (MIT licence) where the demo's configs read it.

Copies the Debian package ``dataset-fashion-mnist`` (its four gzipped IDX
files) into DIR, default ``data/fashion-mnist`` under the current folder
(where the configs' ``data_root`` points), and writes the uncompressed
copies mmpretrain's ``FashionMNIST`` reads. Needs no root: the files come
from ``/usr/share/datasets/fashion-mnist`` if the package is installed,
otherwise from ``apt-get download`` + ``dpkg -x`` into a temporary folder.
Files already there and complete are kept.

Examples:
    python tools/data/fetch_fashion_mnist.py                # a clone
    mim run mmsiameseim fetch_fashion_mnist my_data         # after pip
    # then, for a folder of your choice:
    # --cfg-options train_dataloader.dataset.data_root=my_data
"""
import argparse
import glob
import gzip
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
from typing import List, Optional

SYSTEM_DIR = '/usr/share/datasets/fashion-mnist'
#: file -> (bytes of the package's .gz, bytes uncompressed)
FILES = {
    'train-images-idx3-ubyte': (26421856, 47040016),
    'train-labels-idx1-ubyte': (29491, 60008),
    't10k-images-idx3-ubyte': (4422079, 7840016),
    't10k-labels-idx1-ubyte': (5125, 10008),
}


def complete(folder: str, raw: bool) -> bool:
    """Whether ``folder`` holds every file at its size (gz or raw)."""
    for name, sizes in FILES.items():
        path = osp.join(folder, name if raw else name + '.gz')
        if not osp.isfile(path) or osp.getsize(path) != sizes[raw]:
            return False
    return True


def package_files(tmp: str, source: Optional[str] = None) -> str:
    """The folder of the package's ``.gz`` files (given, installed or
    unpacked)."""
    for folder in (source, SYSTEM_DIR):
        if folder and complete(folder, raw=False):
            return folder
    if source:
        raise RuntimeError(f'{source} does not hold the four gzipped IDX '
                           'files of dataset-fashion-mnist')
    print(f'[fetch_fashion_mnist] apt-get download dataset-fashion-mnist '
          f'-> {tmp}', flush=True)

    def download() -> List[str]:
        subprocess.run(['apt-get', 'download', 'dataset-fashion-mnist'],
                       cwd=tmp, check=False, capture_output=True)
        return glob.glob(osp.join(tmp, 'dataset-fashion-mnist_*.deb'))

    debs = download()
    if not debs and hasattr(os, 'geteuid') and os.geteuid() == 0:
        # a fresh machine may have empty package lists: refresh them
        print('[fetch_fashion_mnist] apt-get update', flush=True)
        subprocess.run(['apt-get', 'update', '-qq'], check=False,
                       capture_output=True)
        debs = download()
    if not debs:
        raise RuntimeError(
            "'apt-get download dataset-fashion-mnist' did not work (no "
            "Debian mirror? run 'apt-get update' as root), and "
            f'{SYSTEM_DIR} is not installed')
    subprocess.run(['dpkg', '-x', debs[0], osp.join(tmp, 'x')], check=True)
    return osp.join(tmp, 'x') + SYSTEM_DIR


def fetch(dest: str, source: Optional[str] = None) -> None:
    """Fill ``dest`` with the gzipped and the uncompressed IDX files."""
    os.makedirs(dest, exist_ok=True)
    if not complete(dest, raw=False):
        with tempfile.TemporaryDirectory() as tmp:
            src = package_files(tmp, source)
            for name in FILES:
                part = osp.join(dest, name + '.gz.part')
                shutil.copyfile(osp.join(src, name + '.gz'), part)
                os.replace(part, osp.join(dest, name + '.gz'))
    if not complete(dest, raw=True):
        for name in FILES:
            part = osp.join(dest, name + '.part')
            with gzip.open(osp.join(dest, name + '.gz'), 'rb') as f, \
                    open(part, 'wb') as g:
                shutil.copyfileobj(f, g)
            os.replace(part, osp.join(dest, name))
    if not (complete(dest, raw=False) and complete(dest, raw=True)):
        raise RuntimeError(f'incomplete files in {dest}')


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'dest', nargs='?', default=osp.join('data', 'fashion-mnist'),
        help='the folder (default: data/fashion-mnist under the current '
        'folder, where the configs look)')
    parser.add_argument(
        '--source',
        help="a folder that holds the package's four .gz files already "
        '(another copy of them); default: the installed package or apt')
    args = parser.parse_args(argv)
    try:
        fetch(args.dest, args.source)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
        print(f'fetch_fashion_mnist.py: error: {e}', file=sys.stderr)
        return 1
    print(f'[fetch_fashion_mnist] Fashion-MNIST in {osp.abspath(args.dest)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Prepare the short GPU commands: wheels, checks, the device calls.

The GPU machine (one H200, Python 3.12, torch 2.11 with CUDA,
torchvision, numpy, opencv; no network) lacks mmengine, mmcv-lite,
mmpretrain and a few pure-Python packages they import. This tool, run where
PyPI is reachable:

* ``download``: fetches :data:`WHEELS` (exact versions, ``--no-deps``,
  wheels for CPython 3.12 on manylinux x86-64) into ``.whl/`` (ignored by
  git);
* ``verify``: every wheel is pure Python (``py3-none-any`` or
  ``py2.py3-none-any``), accepts Python 3.12 (``Requires-Python``), and
  each project appears once (two versions stop the install there);
* ``check``: installs the wheels with Python 3.12 (when one is found) and
  byte-compiles them with the package and the tools; then builds a local
  "GPU-like" environment (a venv holding only the packages of the GPU
  image, :file:`h200_image_packages.txt`, linked from the project's
  ``.venv``) and runs both commands in it at toy size, installing the
  wheels exactly as on the GPU machine;
* ``calls``: prints the device calls (command, carry list, timeout) as JSON
  lines, with the size of what travels.

``bash tools/benchmarks/gpu/prepare.sh`` runs download, verify and calls.

Example:
    python tools/benchmarks/gpu/prepare.py download verify calls
    python tools/benchmarks/gpu/prepare.py check --venv .venv
"""
import argparse
import email.parser
import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(osp.dirname(HERE)))
WHEEL_DIR = '.whl'
# What mmengine, mmcv-lite and mmpretrain need beyond the GPU image
# (Requires-Dist of each, minus the image's packages; importlib-metadata 10
# needs lazy-importer). The versions are the project's .venv's.
WHEELS = (
    ('mmengine', '0.10.7'),
    ('mmcv-lite', '2.1.0'),
    ('mmpretrain', '1.2.0'),
    ('addict', '2.4.0'),
    ('yapf', '0.43.0'),
    ('termcolor', '3.3.0'),
    ('mat4py', '0.6.0'),
    ('modelindex', '0.0.2'),
    ('model-index', '0.1.11'),
    ('ordered-set', '4.1.0'),
    ('platformdirs', '4.14.8'),
    ('importlib-metadata', '10.2.0'),
    ('lazy-importer', '0.1.0'),
    # the dense probe's IoU areas are mmseg's IoUMetric's
    ('mmsegmentation', '1.2.2'),
    ('prettytable', '3.19.0'),
    ('wcwidth', '0.9.4'),
)
PLATFORMS = ('manylinux_2_28_x86_64', 'manylinux_2_17_x86_64',
             'manylinux2014_x86_64', 'manylinux1_x86_64')
DATA = 'data/fashion-mnist'
STUDY = 'bash tools/benchmarks/gpu/study.sh'
THROUGHPUT = 'bash tools/benchmarks/gpu/throughput.sh'
# The device calls. Timeouts: each script ends itself within about 290 s
# (throughput: benchmark killed at 260 s; study: runs terminated at 255 s,
# the script at 280 s) plus the wheel install.
CALLS = OrderedDict([
    ('throughput', dict(command=THROUGHPUT, carry=[WHEEL_DIR],
                        timeout_s=330)),
    ('study', dict(command=STUDY, carry=[WHEEL_DIR, DATA], timeout_s=330)),
    ('both', dict(command=f'{THROUGHPUT}; a=$?; {STUDY}; s=$?; '
                  'exit $(( a || s ))', carry=[WHEEL_DIR, DATA],
                  timeout_s=600)),
])
MAX_COMMAND = 2000
MAX_CARRY = 8
MAX_TREE_MIB = 64


def normalize(name: str) -> str:
    """PEP 503 project name (``Model_Index`` -> ``model-index``)."""
    return re.sub(r'[-_.]+', '-', name).lower()


def wheel_files(root: str = ROOT) -> List[str]:
    """The ``.whl`` files of ``root/.whl``, sorted."""
    return sorted(glob.glob(osp.join(root, WHEEL_DIR, '*.whl')))


# --------------------------------------------------------------------------
# download / verify
# --------------------------------------------------------------------------
def download(root: str = ROOT, python: str = sys.executable) -> List[str]:
    """``pip download`` the missing :data:`WHEELS` into ``root/.whl``."""
    dest = osp.join(root, WHEEL_DIR)
    os.makedirs(dest, exist_ok=True)
    have = {(normalize(parse_wheel_name(f)[0]), parse_wheel_name(f)[1])
            for f in wheel_files(root)}
    missing = [f'{n}=={v}' for n, v in WHEELS if (normalize(n), v) not in
               have]
    if missing:
        cmd = [python, '-m', 'pip', 'download', '--no-deps',
               '--only-binary=:all:', '--python-version', '3.12',
               '--implementation', 'cp', '-d', dest]
        for platform in PLATFORMS:
            cmd += ['--platform', platform]
        subprocess.run(cmd + missing, check=True)
    return wheel_files(root)


def parse_wheel_name(path: str) -> tuple:
    """``(project, version, python tag, abi tag, platform tag)``."""
    parts = osp.basename(path)[:-len('.whl')].split('-')
    if len(parts) not in (5, 6):
        raise ValueError(f'{path}: not a wheel file name')
    return parts[0], parts[1], parts[-3], parts[-2], parts[-1]


def _metadata(path: str):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist()
                    if n.endswith('.dist-info/METADATA'))
        return email.parser.Parser().parsestr(z.read(name).decode())


def python_ok(spec: Optional[str], version: str = '3.12') -> bool:
    """Whether a ``Requires-Python`` specifier admits ``version``."""
    from packaging.specifiers import SpecifierSet
    return not spec or SpecifierSet(spec).contains(version)


def verify(files: Sequence[str]) -> List[str]:
    """Problems with the wheels (empty if none).

    Checks: every project of :data:`WHEELS` at its version, nothing else,
    one file per project, pure-Python tags, Python 3.12 allowed.
    """
    problems = []
    seen: Dict[str, List[str]] = {}
    for path in files:
        name, version, py, abi, plat = parse_wheel_name(path)
        seen.setdefault(normalize(name), []).append(version)
        if abi != 'none' or plat != 'any' or not any(
                t in ('py3', 'py312', 'cp312') for t in py.split('.')):
            problems.append(f'{osp.basename(path)}: not pure Python for '
                            'CPython 3.12')
        requires = _metadata(path).get('Requires-Python')
        if not python_ok(requires):
            problems.append(f'{osp.basename(path)}: Requires-Python '
                            f'{requires} excludes 3.12')
    for name, versions in seen.items():
        if len(versions) > 1:
            problems.append(f'{name}: {len(versions)} versions {versions}')
    want = {normalize(n): v for n, v in WHEELS}
    for name, version in want.items():
        if seen.get(name) != [version]:
            problems.append(f'{name}=={version} missing (have '
                            f'{seen.get(name)})')
    for name in seen:
        if name not in want:
            problems.append(f'{name}: not in the wheel list')
    return problems


# --------------------------------------------------------------------------
# calls
# --------------------------------------------------------------------------
def _du(path: str) -> int:
    if osp.isfile(path):
        return osp.getsize(path)
    total = 0
    for folder, _, names in os.walk(path, followlinks=True):
        total += sum(osp.getsize(osp.join(folder, n)) for n in names
                     if osp.isfile(osp.join(folder, n)))
    return total


def tree_bytes(root: str = ROOT) -> int:
    """Bytes of the files that travel without being named: tracked and
    untracked-but-not-ignored files."""
    out = subprocess.run(
        ['git', 'ls-files', '-z', '--cached', '--others',
         '--exclude-standard'], cwd=root, capture_output=True, check=True)
    names = [n for n in out.stdout.decode().split('\0') if n]
    return sum(osp.getsize(osp.join(root, n)) for n in names
               if osp.isfile(osp.join(root, n)))


def device_calls(root: str = ROOT, sizes: bool = True) -> List[dict]:
    """The device calls with their limits checked and sizes added.

    Raises:
        ValueError: If a command or carry list breaks the tool's limits.
    """
    tree = tree_bytes(root) if sizes else None
    calls = []
    for name, call in CALLS.items():
        if len(call['command']) > MAX_COMMAND:
            raise ValueError(f'{name}: command longer than {MAX_COMMAND}')
        if len(call['carry']) > MAX_CARRY:
            raise ValueError(f'{name}: more than {MAX_CARRY} carry paths')
        record = dict(name=name, **call)
        if sizes:
            carried = {p: _du(osp.join(root, p)) for p in call['carry']}
            total = tree + sum(carried.values())
            record.update(
                tree_mib=round(tree / 2**20, 2),
                carry_mib={p: round(b / 2**20, 2)
                           for p, b in carried.items()},
                total_mib=round(total / 2**20, 2))
            missing = [p for p, b in carried.items() if b == 0]
            if missing:
                record['missing'] = missing
            if total > MAX_TREE_MIB * 2**20:
                raise ValueError(f'{name}: {total / 2**20:.1f} MiB travel, '
                                 f'over {MAX_TREE_MIB} MiB')
        calls.append(record)
    return calls


# --------------------------------------------------------------------------
# check
# --------------------------------------------------------------------------
def find_python312() -> Optional[str]:
    """A working CPython 3.12 interpreter on PATH or under ~/.pyenv.

    A candidate counts only if it runs and says it is 3.12 (a pyenv shim
    without that version selected does not)."""
    candidates = [shutil.which('python3.12')] + sorted(
        glob.glob(osp.expanduser('~/.pyenv/versions/3.12*/bin/python3.12')))
    for py in filter(None, candidates):
        try:
            out = subprocess.run([py, '-c', 'import sys; print(sys.version)'],
                                 capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.startswith('3.12'):
            return py
    return None


def check_python312(files: Sequence[str], workdir: str) -> str:
    """Install the wheels with Python 3.12 and byte-compile them together
    with ``mmsiameseim`` and ``tools``. Returns a one-line report."""
    py = find_python312()
    if py is None:
        return ('python 3.12: none found; checked the wheel tags and '
                'Requires-Python only')
    site = osp.join(workdir, 'site312')
    subprocess.run([py, '-m', 'pip', 'install', '-q', '--no-index',
                    '--no-deps', '--no-compile', '--target', site, *files],
                   check=True)
    targets = [osp.join(site, d) for d in os.listdir(site)
               if not d.endswith(('.dist-info', 'bin'))]
    targets += [osp.join(ROOT, 'mmsiameseim'), osp.join(ROOT, 'tools')]
    proc = subprocess.run([py, '-m', 'compileall', '-q', *targets],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError('compileall under Python 3.12 failed:\n' +
                           proc.stdout[-3000:] + proc.stderr[-3000:])
    version = subprocess.run([py, '--version'], capture_output=True,
                             text=True).stdout.strip()
    return (f'{version}: {len(files)} wheels install with pip --target; '
            'they, mmsiameseim/ and tools/ byte-compile')


# Local stand-ins for image packages that install the same modules under
# another project name.
ALIASES = {'opencv-python-headless': 'opencv-python'}


def image_packages() -> List[str]:
    """Project names of the GPU image (:file:`h200_image_packages.txt`),
    plus the local stand-ins of :data:`ALIASES`."""
    with open(osp.join(HERE, 'h200_image_packages.txt')) as f:
        names = [normalize(line.strip()) for line in f
                 if line.strip() and not line.startswith('#')]
    return names + [ALIASES[n] for n in names if n in ALIASES]


def gpu_like_venv(venv: str, dest: str) -> str:
    """A venv with only the GPU image's packages, linked from ``venv``.

    The interpreter is ``venv``'s base Python (same version, so the linked
    compiled packages load); each package of :func:`image_packages` that
    ``venv`` has is linked by its top-level names and its dist-info.

    Returns:
        str: The new environment's python.
    """
    base = subprocess.run(
        [osp.join(venv, 'bin', 'python'), '-c',
         'import sys; print(sys._base_executable)'],
        capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([base, '-m', 'venv', '--without-pip', dest], check=True)
    script = r'''
import importlib.metadata as md, json, os, re, sys
want = set(json.loads(sys.argv[1]))
paths = set()
for dist in md.distributions():
    name = re.sub(r'[-_.]+', '-', dist.metadata['Name']).lower()
    if name not in want:
        continue
    for f in dist.files or []:
        top = f.parts[0]
        if top in ('..', '__pycache__') or top.endswith('.pth'):
            continue
        paths.add(os.path.join(str(dist.locate_file('')), top))
print(json.dumps(sorted(paths)))
'''
    out = subprocess.run(
        [osp.join(venv, 'bin', 'python'), '-c', script,
         json.dumps(image_packages())],
        capture_output=True, text=True, check=True).stdout
    site = glob.glob(osp.join(dest, 'lib', 'python3*', 'site-packages'))[0]
    for path in json.loads(out):
        if osp.exists(path):
            link = osp.join(site, osp.basename(path))
            if not osp.lexists(link):
                os.symlink(path, link)
    return osp.join(dest, 'bin', 'python')


def check_gpu_like(venv: str, workdir: str) -> str:
    """Run both commands at toy size in the GPU-like environment, with
    the wheels installed as on the GPU machine. Returns a report line."""
    python = gpu_like_venv(venv, osp.join(workdir, 'gpu_like'))
    env = dict(os.environ, TOY='1', INSTALL='1', PYTHON=python,
               SITE=osp.join(workdir, 'site'),
               WORK_ROOT=osp.join(workdir, 'study_runs'))
    env.pop('PYTHONPATH', None)
    for script in ('throughput', 'study'):
        out = osp.join(workdir, 'out')
        proc = subprocess.run(
            ['bash', osp.join(HERE, f'{script}.sh'), out], env=env,
            cwd=ROOT, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(
                f'{script}.sh (toy, GPU-like environment) failed:\n' +
                proc.stdout[-4000:] + proc.stderr[-4000:])
    return ('GPU-like environment (only the image\'s packages + .whl): '
            'throughput.sh and study.sh ran at toy size')


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('steps', nargs='+',
                        choices=('download', 'verify', 'check', 'calls'))
    parser.add_argument('--venv', default=osp.join(ROOT, '.venv'),
                        help='project venv the GPU-like check links from')
    parser.add_argument('--workdir', default=None,
                        help='scratch folder of check (default: a temp dir)')
    parser.add_argument('--no-sizes', action='store_true',
                        help='calls: skip the size of what travels')
    args = parser.parse_args(argv)
    status = 0
    for step in args.steps:
        if step == 'download':
            files = download()
            print(f'[prepare] {len(files)} wheels in {WHEEL_DIR}/')
        elif step == 'verify':
            files = wheel_files()
            problems = verify(files)
            for path in files:
                print(f'[prepare] {osp.basename(path)} '
                      f'{osp.getsize(path) / 1024:.0f} KiB')
            for p in problems:
                print(f'[prepare] problem: {p}', file=sys.stderr)
            status |= bool(problems)
        elif step == 'check':
            workdir = args.workdir or tempfile.mkdtemp(prefix='gpu_check_')
            files = wheel_files()
            print('[prepare] ' + check_python312(files, workdir))
            print('[prepare] ' + check_gpu_like(args.venv, workdir))
        elif step == 'calls':
            for call in device_calls(sizes=not args.no_sizes):
                print(json.dumps(call))
    return status


if __name__ == '__main__':
    sys.exit(main())

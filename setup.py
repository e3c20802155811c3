"""Build hook: ship the configs, tools and model index inside the package.

The package metadata lives in ``pyproject.toml``; this file only extends
``build_py`` so that a built wheel (``pip install .``) carries, as
mmpretrain's does:

* ``mmsiameseim/.mim/configs/``, ``mmsiameseim/.mim/tools/`` and
  ``mmsiameseim/.mim/model-index.yml``, copied from the source tree at build
  time (nothing is duplicated in git). ``mim train/test/search mmsiameseim``
  and mmengine's ``mmsiameseim::`` config prefix look for them there;
* ``mmsiameseim-config-scope.pth`` at the top of ``site-packages``: it lets
  mmengine resolve ``mmsiameseim::`` in entry points that parse a config
  before importing any plugin (see ``mmsiameseim/config_scope.py``).

An editable install (``pip install -e .``) gets neither; docs/model_zoo.md
says what works there.
"""
import os
import os.path as osp
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = osp.dirname(osp.abspath(__file__))
PACKAGE = 'mmsiameseim'
#: What goes to ``mmsiameseim/.mim/``, relative to the source tree.
MIM_ITEMS = ('configs', 'tools', 'model-index.yml')
PTH_NAME = 'mmsiameseim-config-scope.pth'
# Run by ``site`` at every interpreter start (a .pth line that starts with
# ``import`` is executed): load config_scope.py by its path (importing the
# package would import torch) and install its import hook, with nothing
# but importlib.machinery (importlib.util would add milliseconds to every
# start). Any failure is swallowed so that a broken install can never
# break the interpreter.
PTH_CODE = '''\
try:
    import importlib.machinery as im, os
    s = im.PathFinder.find_spec('mmsiameseim')
    if s is not None and s.submodule_search_locations:
        n = '_mmsiameseim_config_scope'
        f = os.path.join(list(s.submodule_search_locations)[0],
                         'config_scope.py')
        m = type(sys)(n)
        m.__file__ = f
        im.SourceFileLoader(n, f).exec_module(m)
        m.install_import_hook()
except Exception:
    pass
'''


def _ignore_caches(folder, names):
    return [n for n in names if n == '__pycache__' or n.endswith('.pyc')]


class BuildPyWithMim(build_py):
    """``build_py`` that also writes ``.mim/`` and the ``.pth`` file."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            return
        mim_dir = osp.join(self.build_lib, PACKAGE, '.mim')
        if osp.isdir(mim_dir):
            shutil.rmtree(mim_dir)
        os.makedirs(mim_dir)
        for item in MIM_ITEMS:
            src = osp.join(ROOT, item)
            if not osp.exists(src):
                raise FileNotFoundError(
                    f'{src} is missing: a wheel of {PACKAGE} must ship '
                    f'{", ".join(MIM_ITEMS)} (see setup.py)')
            dst = osp.join(mim_dir, item)
            if osp.isdir(src):
                shutil.copytree(src, dst, ignore=_ignore_caches)
            else:
                shutil.copyfile(src, dst)
        with open(osp.join(self.build_lib, PTH_NAME), 'w') as f:
            f.write(f'import sys; exec({PTH_CODE!r})\n')


setup(cmdclass={'build_py': BuildPyWithMim})

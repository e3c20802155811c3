"""Let mmengine resolve ``mmsiameseim::`` config paths.

mmengine resolves ``_base_ = ['pkg::dir/file.py']`` only for the packages
named in its ``MODULE2PACKAGE`` table (``mmengine/config/utils.py``); for
any other prefix it stops with ``AssertionError: mmengine does not support
to load pkg config``. The config is parsed before its ``custom_imports``
run, so the entry must exist before ``Config.fromfile`` is called. Two
routes add it:

* :func:`register_config_scope`, called by ``import mmsiameseim``: covers
  this package's own tools (``tools/train.py``, ``tools/test.py``, and so
  ``mim train mmsiameseim``) and any script that imports the package first;
* :func:`install_import_hook`, called at interpreter start by the
  ``mmsiameseim-config-scope.pth`` file that a (non-editable) install puts
  into ``site-packages``: covers entry points that parse a config without
  importing plugins first (mmpretrain's, mmseg's and mmdet's
  ``tools/train.py``, hence ``mim train mmpretrain``). It imports nothing:
  it waits for ``mmengine.config.utils`` to be imported by whoever needs it
  and adds the entry then, so interpreters that never touch mmengine pay
  one string comparison per import, nothing more.

The ``.pth`` file loads this file by its path without importing the
``mmsiameseim`` package (which would pull in torch at every interpreter
start), so this module must import nothing from ``mmsiameseim`` or
``mmengine`` at module level. The configs themselves are shipped in the
installed package under ``mmsiameseim/.mim/configs`` (see ``setup.py``);
docs/model_zoo.md lists what works with which entry point.
"""
import sys

# Only ``sys`` at module level: the ``.pth`` file runs this module at every
# interpreter start, and ``typing`` or ``importlib.abc`` alone would cost
# several milliseconds there.

#: The prefix in ``'mmsiameseim::siameseim/...'`` (a module name).
SCOPE = 'mmsiameseim'
#: The distribution that holds ``mmsiameseim/.mim/configs``.
DISTRIBUTION = 'mmsiameseim'
_CONFIG_UTILS = 'mmengine.config.utils'


def _add_entry(table: dict) -> None:
    """Add our prefix to a ``MODULE2PACKAGE``-shaped table (idempotent)."""
    table.setdefault(SCOPE, DISTRIBUTION)


def register_config_scope() -> None:
    """Add ``mmsiameseim`` to mmengine's ``MODULE2PACKAGE`` now.

    Imports ``mmengine.config.utils`` (already loaded by anything that uses
    mmengine).
    """
    from mmengine.config import utils
    _add_entry(utils.MODULE2PACKAGE)


class _RegisterOnImport:
    """Finder that waits for ``mmengine.config.utils`` and patches it.

    It finds nothing itself: on the one import it watches it asks the other
    finders for the real spec, then extends that spec's loader so that the
    entry is added right after the module body ran. It removes itself from
    ``sys.meta_path`` the first time it sees that import.
    """

    #: marks the hook whichever copy of this module installed it (the
    #: ``.pth`` file loads this file under another module name)
    is_mmsiameseim_config_scope_hook = True

    def find_spec(self, fullname, path=None, target=None):
        """Return mmengine's own spec, its loader extended; else None.

        Args:
            fullname (str): The module being imported.
            path (list, optional): Unused (the protocol's argument).
            target (module, optional): Unused (the protocol's argument).
        """
        if fullname != _CONFIG_UTILS:
            return None
        _remove_hook()
        import importlib.util
        try:
            spec = importlib.util.find_spec(fullname)
        except Exception:  # let the normal import report the problem
            return None
        loader = getattr(spec, 'loader', None)
        if loader is None or not hasattr(loader, 'exec_module'):
            return None
        exec_module = loader.exec_module

        def exec_module_and_register(module):
            exec_module(module)
            _add_entry(module.MODULE2PACKAGE)

        # The loader object is made for this one spec; extending the
        # instance keeps ``module.__loader__`` mmengine's own loader.
        loader.exec_module = exec_module_and_register
        return spec


def _remove_hook() -> None:
    sys.meta_path[:] = [
        finder for finder in sys.meta_path
        if not getattr(finder, 'is_mmsiameseim_config_scope_hook', False)
    ]


def install_import_hook() -> None:
    """Register now if mmengine's config utils are loaded, else on import.

    Safe to call more than once: at most one hook is installed.
    """
    utils = sys.modules.get(_CONFIG_UTILS)
    if utils is not None and hasattr(utils, 'MODULE2PACKAGE'):
        _add_entry(utils.MODULE2PACKAGE)
        return
    _remove_hook()
    sys.meta_path.insert(0, _RegisterOnImport())


def collate_fn_without_scope(dataloader):
    """Return a dataloader config whose ``collate_fn`` has no ``_scope_``.

    mmengine adds ``_scope_`` to every top-level dict of a ``pkg::`` base
    that has a ``type``, including ``collate_fn=dict(type=...)`` inside a
    dataloader, and its Runner passes the remaining keys to the collate
    function. The input is not changed.

    Args:
        dataloader (dict | DataLoader): A dataloader config or a loader.

    Returns:
        dict | DataLoader: ``dataloader`` itself when there is nothing to
        drop, else a shallow copy whose ``collate_fn`` (a copy) lacks it.
    """
    if not isinstance(dataloader, dict):
        return dataloader
    collate = dataloader.get('collate_fn')
    if not isinstance(collate, dict) or '_scope_' not in collate:
        return dataloader
    collate = {k: v for k, v in collate.items() if k != '_scope_'}
    return {**dataloader, 'collate_fn': collate}

"""Let mmengine resolve ``mmsiameseim::`` config paths (docs/model_zoo.md).

:func:`register_config_scope` (``import mmsiameseim``) adds our entry to
mmengine's ``MODULE2PACKAGE`` now; :func:`install_import_hook` (run at
interpreter start by the ``.pth`` file of a non-editable install) adds it
when ``mmengine.config.utils`` is imported.
"""
# Only ``sys`` at module level: the ``.pth`` file runs this module at every
# interpreter start (``typing`` alone would cost milliseconds there).
import sys

#: The prefix in ``'mmsiameseim::siameseim/...'`` (a module name).
SCOPE = 'mmsiameseim'
#: The distribution that holds ``mmsiameseim/.mim/configs``.
DISTRIBUTION = 'mmsiameseim'
_CONFIG_UTILS = 'mmengine.config.utils'


def _add_entry(table: dict) -> None:
    """Add our prefix to a ``MODULE2PACKAGE``-shaped table (idempotent)."""
    table.setdefault(SCOPE, DISTRIBUTION)


def register_config_scope() -> None:
    """Add ``mmsiameseim`` to mmengine's ``MODULE2PACKAGE`` now."""
    from mmengine.config import utils
    _add_entry(utils.MODULE2PACKAGE)


class _RegisterOnImport:
    """Finder that waits for ``mmengine.config.utils`` and extends its
    loader to add our entry, then leaves ``sys.meta_path``."""

    #: marks the hook whichever copy of this module installed it (the
    #: ``.pth`` file loads this file under another module name)
    is_mmsiameseim_config_scope_hook = True

    def find_spec(self, fullname, path=None, target=None):
        """mmengine's own spec with its loader extended; else None."""
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
    """Register now if mmengine's config utils are loaded, else on import
    (at most one hook)."""
    utils = sys.modules.get(_CONFIG_UTILS)
    if utils is not None and hasattr(utils, 'MODULE2PACKAGE'):
        _add_entry(utils.MODULE2PACKAGE)
        return
    _remove_hook()
    sys.meta_path.insert(0, _RegisterOnImport())


def collate_fn_without_scope(dataloader):
    """``dataloader`` (a config or a loader) with a copy of ``collate_fn``
    without the ``_scope_`` mmengine marks a ``pkg::`` base's dicts with."""
    if not isinstance(dataloader, dict):
        return dataloader
    collate = dataloader.get('collate_fn')
    if not isinstance(collate, dict) or '_scope_' not in collate:
        return dataloader
    collate = {k: v for k, v in collate.items() if k != '_scope_'}
    return {**dataloader, 'collate_fn': collate}

"""Import a script of ``tools/`` (not a package) as a module, for tests."""
import importlib.util
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(path: str, name: str):
    """Execute the file ``path`` as a fresh module called ``name``.

    Args:
        path (str): The script, absolute or relative to the repository.
        name (str): The module name (distinct per test file, so that two
            test files get independent module objects).

    Returns:
        module: The executed module.
    """
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

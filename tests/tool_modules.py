"""Import a command-line tool of ``tools/`` by its module name, for tests.

The repository root is on the path (the editable install, or the test
run's ``conftest.py``), so ``tools/benchmarks/knn_eval.py`` is the module
``tools.benchmarks.knn_eval``.
"""
import importlib
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(path: str):
    """The module of a tool script, imported by its dotted name.

    Args:
        path (str): The script, absolute or relative to the repository.

    Returns:
        module: ``importlib.import_module('tools.<...>')``.
    """
    rel = osp.relpath(osp.join(ROOT, path), ROOT)
    return importlib.import_module(rel[:-len('.py')].replace(osp.sep, '.'))

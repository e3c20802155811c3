"""The package's layout rules (docs/design.md, Layout): imports between the
plugin's folders go one way, and no tool or bench module edits
``sys.path``."""
import ast
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _python_files(folder):
    for base, _, files in os.walk(osp.join(ROOT, folder)):
        for name in sorted(files):
            if name.endswith('.py'):
                yield osp.join(base, name)


def _parse(path):
    with open(path) as f:
        return ast.parse(f.read(), path)


def _imported_modules(path):
    """Absolute names of the modules ``path`` imports, at any depth (imports
    inside functions count), relative imports resolved."""
    rel = osp.relpath(path, ROOT)[:-len('.py')].split(osp.sep)
    package = rel[:-1]  # a module's package; for __init__.py, itself
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                mod = '.'.join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            yield mod
            for alias in node.names:
                yield f'{mod}.{alias.name}'


def folder_graph():
    """{folder: set of other folders of ``mmsiameseim/`` it imports}."""
    graph = {}
    for path in _python_files('mmsiameseim'):
        parts = osp.relpath(path, osp.join(ROOT, 'mmsiameseim')).split(osp.sep)
        if len(parts) == 1:
            continue  # top-level helpers (cli, arg_checks, config_scope)
        edges = graph.setdefault(parts[0], set())
        for mod in _imported_modules(path):
            names = mod.split('.')
            if (names[0] == 'mmsiameseim' and len(names) > 1
                    and osp.isdir(osp.join(ROOT, 'mmsiameseim', names[1]))
                    and names[1] != parts[0]):
                edges.add(names[1])
    return graph


def test_no_two_plugin_folders_import_each_other():
    graph = folder_graph()
    assert {'models', 'datasets', 'engine', 'checkpoints'} <= set(graph)
    back = sorted((a, b) for a, deps in graph.items() for b in deps
                  if a < b and a in graph.get(b, ()))
    assert back == [], f'folders that import each other: {back}'


def test_the_graph_sees_function_level_imports(tmp_path, monkeypatch):
    """The check counts an import inside a function as an arrow."""
    pkg = tmp_path / 'mmsiameseim'
    for folder, code in (('a', 'def f():\n    from mmsiameseim.b import x\n'),
                         ('b', 'from ..a import y\n')):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / 'mod.py').write_text(code)
    monkeypatch.setattr(sys.modules[__name__], 'ROOT', str(tmp_path))
    assert folder_graph() == {'a': {'b'}, 'b': {'a'}}


def test_tools_and_the_bench_leave_sys_path_alone():
    offenders = []
    for folder in ('tools', 'projects'):
        for path in _python_files(folder):
            for node in ast.walk(_parse(path)):
                if (isinstance(node, ast.Attribute) and node.attr == 'path'
                        and isinstance(node.value, ast.Name)
                        and node.value.id == 'sys'):
                    offenders.append(f'{osp.relpath(path, ROOT)}:'
                                     f'{node.lineno}')
    assert offenders == []

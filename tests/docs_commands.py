"""Read the shell command blocks of the docs and check that they fit.

A command block (```bash / ```shell / ```sh in README.md, docs/*.md and the
configs' and projects' READMEs) is read as a user would run it, top to
bottom. :func:`check_block` reports, for every command:

* a file it names that neither exists in the repository nor is produced by
  an earlier command of the same block;
* a checkpoint path inside a config it names (``model.pretrained``, a
  ``Pretrained`` ``init_cfg``, ``load_from``; after the command's own
  ``--cfg-options`` / ``--checkpoint``) that no earlier command of the
  block produces and that does not exist;
* flags the tool does not accept (parsed with the tool's own
  ``parse_args``), a missing script, a missing ``make`` target.

Stated exemptions: placeholders (words in capitals such as ``CKPT``,
``CONFIG``, ``DIR``; ``<...>``; ``[...]``; ``a|b`` alternatives) and data
under ``data/`` (fetched or downloaded by the user).
"""
import glob
import importlib
import os.path as osp
import re
import shlex
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
LANGUAGES = ('bash', 'shell', 'sh')
#: Where each tool writes, by the attribute names of its parsed arguments.
OUTPUT_ARGS = ('dst', 'out', 'out_dir', 'work_dir', 'work_root', 'output')
#: Launchers: script -> (positional names, the train/test tool they run).
LAUNCHERS = {
    'tools/dist_train.sh': (('config', 'gpus'), 'tools/train.py'),
    'tools/dist_test.sh': (('config', 'checkpoint', 'gpus'), 'tools/test.py'),
    'tools/slurm_train.sh':
    (('partition', 'job', 'config', 'work_dir'), 'tools/train.py'),
}
#: The tools that run a config as given: its checkpoint paths must exist or
#: be produced earlier (drivers such as the CPU transfer runs set their own).
CONFIG_RUNNERS = ('tools/train.py', 'tools/test.py',
                  'tools/analysis/check_pretrained_load.py')
#: Shell scripts that write a file: (its positional argument, the default).
SCRIPT_OUTPUTS = {
    'tools/benchmarks/run_reproduction.sh':
    (0, 'work_dirs/reproduction/results.jsonl'),
}
#: ``make`` targets and the folders they write.
MAKE_OUTPUTS = {'demo': ['work_dirs/demo'], 'test': [], 'env': ['.venv'],
                'data': ['data/fashion-mnist'], 'lint': []}
_PLACEHOLDER = re.compile(r'(^|[/_.-])[A-Z][A-Z0-9_]{1,}([/_.-]|$)|<|>|\[|\]|'
                          r'\||\$|\*')


def doc_files() -> List[str]:
    """README.md, docs/*.md and every README.md under configs/, projects/."""
    files = [osp.join(ROOT, 'README.md')]
    for pattern in ('docs/*.md', 'configs/**/README.md',
                    'projects/**/README.md'):
        files += sorted(glob.glob(osp.join(ROOT, pattern), recursive=True))
    return files


def command_blocks(path: str) -> Iterator[Tuple[int, str]]:
    """``(line number, text)`` of every shell block of a markdown file."""
    with open(path) as f:
        text = f.read()
    pattern = r'```(' + '|'.join(LANGUAGES) + r')\n(.*?)```'
    for match in re.finditer(pattern, text, re.S):
        yield text[:match.start()].count('\n') + 1, match.group(2)


def is_placeholder(token: str) -> bool:
    """Whether a token stands for a value the user chooses."""
    return bool(_PLACEHOLDER.search(token))


def commands(block: str) -> Iterator[List[str]]:
    """The commands of a block as token lists (continuations joined,
    comments dropped, ``;`` / ``&&`` split, loop keywords skipped, simple
    ``NAME=value`` lines substituted into later ``$NAME``)."""
    variables: Dict[str, str] = {}
    for line in re.sub(r'\\\n\s*', ' ', block).splitlines():
        for name, value in variables.items():
            line = re.sub(r'\$\{?%s\b\}?' % name, value, line)
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            tokens = line.split()
        current: List[str] = []
        for token in tokens + [';']:
            if token in (';', '&&', '||', 'do', 'done', 'then', 'fi'):
                if current and current[0] not in ('for', 'if', 'export',
                                                  'cd', 'echo'):
                    yield current
                current = []
            elif token.startswith('--') and not current:
                current = []  # an option list, not a command
                break
            else:
                current.append(token)
        if len(tokens) == 1 and re.fullmatch(r'[A-Za-z_]\w*=\S+', tokens[0]):
            name, value = tokens[0].split('=', 1)
            variables[name] = value
        if tokens[:1] == ['for'] and len(tokens) > 3 and tokens[2] == 'in':
            variables[tokens[1]] = tokens[3].rstrip(';')  # its first value


def _concrete(argv: Sequence[str], variant: int) -> List[str]:
    """Arguments with placeholders made parseable: ``[options]`` dropped,
    ``a|b`` -> ``a``; variant 1: capitalised words -> ``1`` (counts);
    variant 2: options whose value is a capitalised word dropped."""
    out: List[str] = []
    for arg in argv:
        if arg.startswith('[') and arg.endswith(']'):
            continue
        if '|' in arg and not arg.startswith('-'):
            arg = arg.split('|')[0]
        if re.fullmatch(r'[A-Z][A-Z0-9_]*', arg):
            if variant == 1:
                arg = '1'
            elif variant == 2 and out and out[-1].startswith('--'):
                out.pop()
                continue
        out.append(arg)
    return out


def _tool_parser_args(tool: str, argv: Sequence[str]) -> Optional[object]:
    """Parse ``argv`` with the tool's ``parse_args``; None if it has none.

    Raises:
        ValueError: If the tool rejects the arguments (argparse's message).
    """
    import contextlib
    import io
    module = importlib.import_module(tool[:-3].replace('/', '.'))
    parse = getattr(module, 'parse_args', None)
    if parse is None:
        return None
    for variant in (0, 1, 2):
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                return parse(_concrete(argv, variant))
        except SystemExit:
            message = err.getvalue().strip().splitlines()
    raise ValueError(f'{tool} rejects {" ".join(argv)!r}: '
                     f'{message[-1] if message else "usage error"}')


def _config_checkpoints(config: str, options: Sequence[str],
                        checkpoint: Optional[str]) -> List[str]:
    """Checkpoint files a config loads after the command's overrides."""
    from mmengine.config import Config, DictAction
    import argparse
    cfg = Config.fromfile(config)
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    known, _ = parser.parse_known_args(list(options))
    if known.cfg_options:
        cfg.merge_from_dict(known.cfg_options)
    if checkpoint:
        return [checkpoint]
    found = []

    def visit(obj):
        if isinstance(obj, dict):
            if obj.get('type') == 'Pretrained' and obj.get('checkpoint'):
                found.append(obj['checkpoint'])
            if isinstance(obj.get('pretrained'), str):
                found.append(obj['pretrained'])
            for value in obj.values():
                visit(value)
        elif isinstance(obj, (list, tuple)):
            for value in obj:
                visit(value)

    visit(cfg.to_dict().get('model', {}))
    if cfg.get('load_from'):
        found.append(cfg.load_from)
    return found


class BlockChecker:
    """Runs through one block, remembering what earlier commands wrote."""

    def __init__(self) -> None:
        self.produced: Set[str] = set()
        self.problems: List[str] = []

    def available(self, path: str) -> bool:
        path = osp.normpath(path)
        if path.startswith('data' + osp.sep) or path == 'data':
            return True
        if osp.exists(osp.join(ROOT, path)) or is_placeholder(path):
            return True
        return any(path == p or path.startswith(p + osp.sep)
                   for p in self.produced)

    def need(self, path: str, what: str) -> None:
        if path and not self.available(path):
            self.problems.append(f'{what} {path} neither exists nor is '
                                 'produced by an earlier command')

    def produce(self, path: Optional[str]) -> None:
        if isinstance(path, str) and path:
            self.produced.add(osp.normpath(path))

    def check(self, tokens: List[str]) -> None:
        while tokens and re.fullmatch(r'[A-Za-z_]\w*=.*', tokens[0]):
            tokens = tokens[1:]  # environment assignments
        if not tokens:
            return
        head, rest = tokens[0], tokens[1:]
        if head.endswith('python') or head.endswith('python3'):
            self.check_python(rest)
        elif head in ('bash', 'sh') and rest[:1] != ['-c']:
            self.check_script(rest[0], rest[1:])
        elif head.endswith('.sh'):
            self.check_script(head, rest)
        elif head == 'make':
            for target in rest:
                if target not in MAKE_OUTPUTS:
                    self.problems.append(f'make has no target {target!r}')
                for out in MAKE_OUTPUTS.get(target, []):
                    self.produce(out)
        elif head == 'mim' and rest[:1] in (['train'], ['test']):
            self.check_mim(rest)

    def check_python(self, args: List[str]) -> None:
        if not args or args[0] in ('-c', '-m'):
            return
        tool, argv = args[0], args[1:]
        if not osp.isfile(osp.join(ROOT, tool)):
            self.problems.append(f'no script {tool}')
            return
        if tool.startswith('tools/'):
            self.check_tool(tool, argv)

    def check_tool(self, tool: str, argv: List[str]) -> None:
        try:
            parsed = _tool_parser_args(tool, argv)
        except ValueError as e:
            self.problems.append(str(e))
            return
        # positional inputs, and the values of key=value overrides
        inputs = [a.split('=', 1)[-1] for a in argv if not a.startswith('-')]
        values = vars(parsed) if parsed is not None else {
            flag[2:].replace('-', '_'): value
            for flag, value in zip(argv, argv[1:]) if flag.startswith('--')
        }
        outputs = {values.get(k) for k in OUTPUT_ARGS}
        for token in inputs:
            if '/' in token and token not in outputs and \
                    not token.startswith(('http', '/')) and \
                    ('.' in osp.basename(token) or token.endswith('/')):
                self.need(token, f'{tool}: input')
        config = values.get('config')
        if tool in CONFIG_RUNNERS and isinstance(config, str) and \
                config.endswith('.py') and osp.isfile(osp.join(ROOT, config)):
            checkpoint = values.get('checkpoint') if tool.startswith(
                'tools/analysis') else None
            for ckpt in _config_checkpoints(
                    osp.join(ROOT, config), argv, checkpoint):
                self.need(ckpt, f'{config} loads the checkpoint')
            if tool == 'tools/train.py' and not values.get('work_dir'):
                self.produce(osp.join('work_dirs',
                                      osp.basename(config)[:-3]))
        for out in outputs:
            self.produce(out)

    def check_script(self, script: str, argv: List[str]) -> None:
        if not osp.isfile(osp.join(ROOT, script)):
            self.problems.append(f'no script {script}')
            return
        if script in SCRIPT_OUTPUTS:
            index, default = SCRIPT_OUTPUTS[script]
            positional = [a for a in argv if not a.startswith('-')]
            self.produce(positional[index] if len(positional) > index
                         else default)
        if script not in LAUNCHERS:
            return
        names, tool = LAUNCHERS[script]
        positional, options = argv[:len(names)], argv[len(names):]
        values = dict(zip(names, positional))
        if tool == 'tools/train.py':
            self.check_tool(tool, [values['config']] + options +
                            (['--work-dir', values['work_dir']]
                             if 'work_dir' in values else []))
        else:
            self.check_tool(tool,
                            [values['config'], values['checkpoint']] +
                            options)

    def check_mim(self, args: List[str]) -> None:
        if len(args) < 3:
            return
        package, config = args[1], args[2]
        if package == 'mmsiameseim' and not is_placeholder(config):
            names = {osp.basename(p) for p in glob.glob(
                osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)}
            if osp.basename(config) not in names and \
                    not osp.isfile(osp.join(ROOT, config)):
                self.problems.append(f'mim: no config {config} in configs/')
        elif '/' in config:
            self.need(config, 'mim: config')


def check_block(block: str) -> List[str]:
    """The problems of one command block (empty when it fits)."""
    checker = BlockChecker()
    for tokens in commands(block):
        checker.check(tokens)
    return checker.problems

"""The docs speak to the reader about the project.

On a955673 the reproduction table's cells said "not measured — no GPU lent
to this task": where the numbers were not measured, not what is missing.
A doc says what a missing number needs (a GPU run, and its command), and
names no folder of one machine.
"""
import os.path as osp
import re

import pytest

from docs_commands import doc_files

ROOT = osp.dirname(osp.abspath(__file__))
#: Phrases about who ran what where, and paths of one machine.
NOT_ABOUT_THE_PROJECT = re.compile(
    r'\blent\b|\bthis task\b|\bthe task that\b|\bthis session\b|'
    r'\bmeasured here\b|(?<![\w.$])/(?:tmp|work|root|home)/')


@pytest.mark.parametrize(
    'path', doc_files(), ids=lambda p: osp.relpath(p, osp.dirname(ROOT)))
def test_docs_say_what_is_missing_not_where(path):
    with open(path) as f:
        lines = f.read().splitlines()
    bad = [f'{i}: {line.strip()[:100]}' for i, line in enumerate(lines, 1)
           if NOT_ABOUT_THE_PROJECT.search(line)]
    assert not bad, '\n'.join(bad)


def test_the_empty_study_tables_name_their_command():
    with open(osp.join(osp.dirname(ROOT), 'docs', 'reproduction.md')) as f:
        text = f.read()
    results = text[text.index('## Results'):text.index('## GPU runs')]
    assert 'needs the GPU run' in results
    flat = ' '.join(results.split())
    assert 'tools/benchmarks/run_reproduction.sh' in flat
    assert 'tools/benchmarks/summarize_reproduction.py' in flat

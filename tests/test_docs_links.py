"""Every relative link of the repository's Markdown files reaches a file,
and a ``#heading`` part names a heading of that file (GitHub's anchors)."""
import os.path as osp
import re
import subprocess

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
LINK = re.compile(r'\]\(([^)\s]+)\)')
FENCE = re.compile(r'```.*?```', re.S)


def markdown_files():
    out = subprocess.run(['git', 'ls-files', '*.md'],
                         cwd=ROOT,
                         capture_output=True,
                         text=True,
                         check=True)
    return out.stdout.split()


def anchors(path):
    """GitHub's anchors of a Markdown file's headings: lower case, spaces
    to '-', punctuation other than '-' and '_' dropped."""
    with open(path) as f:
        text = FENCE.sub('', f.read())
    return {
        re.sub(r'[^\w\- ]', '', title.strip().lower()).replace(' ', '-')
        for title in re.findall(r'^#+ (.+)$', text, re.M)
    }


def broken_links(md):
    with open(osp.join(ROOT, md)) as f:
        text = FENCE.sub('', f.read())
    for target in LINK.findall(text):
        if re.match(r'[a-z]+:', target):
            continue  # http(s), mailto
        path, _, anchor = target.partition('#')
        dest = osp.normpath(osp.join(ROOT, osp.dirname(md), path)) \
            if path else osp.join(ROOT, md)
        if not osp.exists(dest):
            yield f'{md}: {target} (no such file)'
        elif anchor and dest.endswith('.md') and anchor not in anchors(dest):
            yield f'{md}: {target} (no such heading)'


@pytest.mark.parametrize('md', markdown_files())
def test_relative_links_reach_their_files_and_headings(md):
    assert list(broken_links(md)) == []


def test_the_check_catches_a_moved_config(tmp_path, monkeypatch):
    """A link to a config that moved to the study bench, and a heading that
    does not exist, are both reported."""
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'docs' / 'a.md').write_text(
        '# Results (CPU)\n[c](../configs/x.py) [h](#results-gpu) '
        '[ok](#results-cpu)\n')
    monkeypatch.setattr(
        __import__('sys').modules[__name__], 'ROOT', str(tmp_path))
    assert list(broken_links('docs/a.md')) == [
        'docs/a.md: ../configs/x.py (no such file)',
        'docs/a.md: #results-gpu (no such heading)'
    ]

"""The shell commands of the docs fit together (see :mod:`docs_commands`).

Every command block of README.md, docs/*.md and the configs' and projects'
READMEs is read top to bottom: files it names exist or are written by an
earlier command of the block, the checkpoints inside the configs it runs
are written by an earlier command (or exist), and every tool accepts the
flags given, as its own argument parser reads them.
"""
import os.path as osp

import pytest

from docs_commands import ROOT, check_block, command_blocks, doc_files

DOCS = [osp.relpath(f, ROOT) for f in doc_files()]
#: The README's detection block as it stood on main at a955673.
DETECTION_BLOCK = '''
python tools/model_converters/siameseim_to_backbone.py CKPT checkpoints/siameseim_vit-base-p16_vitdet.pth --layout vitdet
tools/dist_train.sh {config} 8
'''


@pytest.mark.parametrize('doc', DOCS)
def test_command_blocks_fit_together(doc):
    problems = [
        f'{doc}:{line}: {problem}'
        for line, block in command_blocks(osp.join(ROOT, doc))
        for problem in check_block(block)
    ]
    assert not problems, '\n'.join(problems)


def test_the_check_catches_a_converter_output_the_config_does_not_load(
        tmp_path):
    """The detection commands of a955673: the converter wrote
    ``..._vitdet.pth``, the COCO config loaded ``..._1600e_vitdet.pth``."""
    config = tmp_path / 'coco_as_of_a955673.py'
    config.write_text(
        "pretrained = 'checkpoints/siameseim_vit-base-p16_1600e_vitdet.pth'"
        "\nmodel = dict(backbone=dict(init_cfg=dict(type='Pretrained', "
        'checkpoint=pretrained)))\n')
    problems = check_block(DETECTION_BLOCK.format(config=config))
    assert len(problems) == 1
    assert 'siameseim_vit-base-p16_1600e_vitdet.pth' in problems[0]
    today = ('configs/siameseim/benchmarks/mmdet/siameseim_vit-base-p16-'
             'vitdet-mask-rcnn_16xb4-amp-lsj-100e_coco.py')
    assert check_block(DETECTION_BLOCK.format(config=today)) == []


def test_the_check_catches_flags_a_tool_does_not_take():
    problems = check_block(
        'python tools/model_converters/siameseim_to_backbone.py A.pth B.pth '
        '--layout detectron2\n')
    assert len(problems) == 1 and "invalid choice: 'detectron2'" in \
        problems[0]
    assert check_block('make deploy\n') == ["make has no target 'deploy'"]

"""What every shipped config builds, measured without allocating weights.

Each config's model is built on PyTorch's ``meta`` device (shapes only, no
memory, no initialisation; on the CPU where a constructor reads a value,
as mmseg's ``MAE`` does): the parameter count and a digest of the
state-dict names and shapes pin the architecture a config describes. The
pins in ``tests/data/config_model_pins.json`` were measured on main before
the plugin and its study bench were separated (issue #20); a config that
moves keeps its file name and its pin.
"""
import copy
import glob
import hashlib
import os.path as osp
from typing import Dict, List, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.utils import import_modules_from_strings

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PINS = osp.join(ROOT, 'tests', 'data', 'config_model_pins.json')


def shipped_configs() -> Dict[str, str]:
    """``{file stem: path}`` of every config that is not a ``_base_``."""
    found: Dict[str, str] = {}
    for pattern in ('configs/**/*.py', 'projects/*/configs/**/*.py'):
        for path in glob.glob(osp.join(ROOT, pattern), recursive=True):
            if '_base_' in path.split(osp.sep):
                continue
            stem = osp.basename(path)[:-3]
            assert stem not in found, f'two configs named {stem}'
            found[stem] = path
    return found


def config_path(name: str) -> str:
    """The path of a shipped config by its file name (with or without
    ``.py``), wherever it lives (plugin or study bench)."""
    stem = name[:-3] if name.endswith('.py') else name
    return shipped_configs()[stem]


def names_and_shapes(state: Dict[str, torch.Tensor]) -> str:
    text = '\n'.join(f'{k} {tuple(v.shape)}' for k, v in state.items())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_pin(path: str) -> Tuple[int, str]:
    """(parameter count, names-and-shapes digest) of a config's model."""
    cfg = Config.fromfile(path)
    imports = (cfg.get('custom_imports') or {}).get('imports', [])
    import_modules_from_strings(imports)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    try:
        try:
            with torch.device('meta'):
                model = MODELS.build(copy.deepcopy(cfg.model))
        except RuntimeError:  # a constructor reads a value (mmseg's MAE)
            model = MODELS.build(copy.deepcopy(cfg.model))
    finally:
        init_default_scope('mmpretrain')
    count = sum(p.numel() for p in model.parameters())
    return count, names_and_shapes(model.state_dict())


def all_pins() -> List[Tuple[str, int, str]]:
    return [(stem, *model_pin(path))
            for stem, path in sorted(shipped_configs().items())]

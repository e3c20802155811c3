"""Which backbone loads an encoder file how (a :class:`BackboneLoadSpec`
per backbone class), and :func:`check_backbone_load`, the check that it
did (docs/checkpoints.md)."""
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence

import torch
from mmengine.registry import Registry

from .convert import unwrap_state_dict
from .reading import read_checkpoint
from .verify import WeightCheckReport, check_loaded_weights, resize_pos_embed


@dataclass
class BackboneLoadSpec:
    """How a downstream backbone class loads an encoder file.

    Attributes:
        expected_fresh (Sequence[str]): Regexes of the keys no file sets.
        transforms (Mapping): ``{regex: fn(source, model_tensor)}`` for
            tensors the loader changes on purpose (resized tables).
        source_prefix (str): Prefix of the file's encoder keys. Defaults to
            ''.
    """
    expected_fresh: Sequence[str] = ()
    transforms: Mapping = field(default_factory=dict)
    source_prefix: str = ''

    def check(self, backbone: torch.nn.Module,
              source: Mapping) -> WeightCheckReport:
        """Compare a built ``backbone`` with encoder tensors ``source``."""
        return check_loaded_weights(
            backbone.state_dict(),
            source,
            expected_fresh=self.expected_fresh,
            transforms=self.transforms)


#: ``fn(backbone) -> BackboneLoadSpec`` by backbone class name.
LOAD_SPECS = Registry('backbone load spec')


def register_load_spec(*class_names: str) -> Callable:
    """Decorator registering ``fn(backbone) -> BackboneLoadSpec`` for
    backbone class names (``type(m).__name__``)."""
    return LOAD_SPECS.register_module(name=list(class_names), force=True)


def load_spec_for(backbone: torch.nn.Module) -> BackboneLoadSpec:
    """The registered :class:`BackboneLoadSpec` of ``backbone``'s class (a
    ``KeyError`` naming the known classes if none)."""
    name = type(backbone).__name__
    known = LOAD_SPECS.module_dict
    if name not in known:
        raise KeyError(f'no pretrained-load check is known for backbone '
                       f'{name}; known: {sorted(known) or "none"} (a '
                       'config registers them by importing its downstream '
                       'module through custom_imports)')
    return known[name](backbone)


def pretrained_init(init_cfg) -> Optional[dict]:
    """The ``type='Pretrained'`` entry of an ``init_cfg`` (dict or list)."""
    for cfg in (init_cfg if isinstance(init_cfg, list) else [init_cfg]):
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            return cfg
    return None


def pretrained_path_of(backbone: torch.nn.Module) -> Optional[str]:
    """A backbone's ``pretrained`` file or ``Pretrained`` init checkpoint."""
    path = getattr(backbone, 'pretrained', None)
    if isinstance(path, str) and path:
        return path
    cfg = pretrained_init(getattr(backbone, 'init_cfg', None))
    return cfg.get('checkpoint') if cfg else None


def check_backbone_load(backbone: torch.nn.Module,
                        source_path: Optional[str] = None,
                        trusted: bool = False) -> WeightCheckReport:
    """Check a built backbone against its encoder file (after
    ``init_weights()``).

    Args:
        backbone (nn.Module): A backbone with a registered load spec.
        source_path (str, optional): Defaults to the backbone's own file
            (:func:`pretrained_path_of`).
        trusted (bool): Read the file with full pickle. Defaults to False.

    Returns:
        WeightCheckReport: The comparison.

    Raises:
        ValueError: If there is no source file, or it has no encoder keys
            under the spec's prefix.
    """
    spec = load_spec_for(backbone)
    path = source_path or pretrained_path_of(backbone)
    if not path:
        raise ValueError(f'{type(backbone).__name__} has no pretrained file '
                         '(neither `pretrained` nor an init_cfg of type '
                         'Pretrained) and none was given')
    state = unwrap_state_dict(read_checkpoint(path, trusted=trusted))
    prefix = spec.source_prefix
    source = {
        k[len(prefix):]: v
        for k, v in state.items() if k.startswith(prefix)
    }
    if not source:
        raise ValueError(f'{path}: no encoder keys with prefix {prefix!r} '
                         f'for {type(backbone).__name__}')
    return spec.check(backbone, source)


@register_load_spec('SiameseIMViT')
def siameseim_vit_load_spec(backbone) -> BackboneLoadSpec:
    """``SiameseIMViT`` as a classifier backbone: ``ln2`` (avg pooling) and
    a final ``ln1`` start fresh, ``pos_embed`` is resized."""
    fresh = []
    if getattr(backbone, 'out_type', None) == 'avg_featmap':
        fresh.append(r'ln2\.(weight|bias)')
    if getattr(backbone, 'final_norm', False):
        fresh.append(r'ln1\.(weight|bias)')
    prefix = (pretrained_init(backbone.init_cfg) or {}).get('prefix') or ''
    if prefix and not prefix.endswith('.'):
        prefix += '.'  # as mmengine's loader reads it
    return BackboneLoadSpec(
        expected_fresh=fresh,
        transforms={r'pos_embed': resize_pos_embed},
        source_prefix=prefix)

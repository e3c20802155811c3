"""Which backbone loads an encoder file how, and the check that it did.

A :class:`BackboneLoadSpec` says, for one backbone class, which of its keys
no pretrained file sets (relative position tables, layer scale, new norms)
and which tensors its loader changes on purpose (a position table resized
to another grid). Specs are registered by class name:
``SiameseIMViT`` as a classifier backbone here (fine-tuning, linear
probing), mmseg's ``MAE`` and ``WindowedViT`` in the downstream modules
that import mmseg / mmdet. :func:`check_backbone_load` (used by
:class:`~mmsiameseim.engine.PretrainedLoadCheckHook` and
``tools/analysis/check_pretrained_load.py``) compares a built backbone with
its file through :func:`~.verify.check_loaded_weights`.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping, Optional, Sequence

import torch

from .convert import unwrap_state_dict
from .reading import read_checkpoint
from .verify import WeightCheckReport, check_loaded_weights, resize_pos_embed


@dataclass
class BackboneLoadSpec:
    """How a downstream backbone class loads an encoder file.

    Attributes:
        expected_fresh (Sequence[str]): Regexes of the backbone's keys that
            no pretrained tensor sets (relative position tables, layer
            scale, new norms...).
        transforms (Mapping): ``{regex: fn(source, model_tensor)}`` for
            tensors the loader changes on purpose (position tables resized
            to the downstream grid).
        source_prefix (str): Prefix of the encoder keys in the file that
            the loader strips (``''`` for bare-key files). Defaults to ''.
    """
    expected_fresh: Sequence[str] = ()
    transforms: Mapping = field(default_factory=dict)
    source_prefix: str = ''


#: ``{backbone class name: fn(backbone) -> BackboneLoadSpec}``; filled by
#: the downstream modules (which import mmseg / mmdet) when a config
#: imports them.
_LOAD_SPECS: Dict[str, Callable[[torch.nn.Module], BackboneLoadSpec]] = {}


def register_load_spec(*class_names: str) -> Callable:
    """Decorator: ``fn(backbone) -> BackboneLoadSpec`` for these classes.

    Args:
        *class_names (str): Backbone class names (``type(m).__name__``).

    Returns:
        Callable: The decorator (returns ``fn`` unchanged).
    """

    def decorator(fn):
        for name in class_names:
            _LOAD_SPECS[name] = fn
        return fn

    return decorator


def load_spec_for(backbone: torch.nn.Module) -> BackboneLoadSpec:
    """The registered :class:`BackboneLoadSpec` of ``backbone``'s class.

    Raises:
        KeyError: If no spec is registered for the class (naming the known
            ones).
    """
    name = type(backbone).__name__
    if name not in _LOAD_SPECS:
        raise KeyError(f'no pretrained-load check is known for backbone '
                       f'{name}; known: {sorted(_LOAD_SPECS) or "none"} (a '
                       'config registers them by importing its downstream '
                       'module through custom_imports)')
    return _LOAD_SPECS[name](backbone)


def pretrained_path_of(backbone: torch.nn.Module) -> Optional[str]:
    """The file a backbone initialises from: ``pretrained`` (mmseg style)
    or ``init_cfg=dict(type='Pretrained', checkpoint=...)``; None if neither.
    """
    path = getattr(backbone, 'pretrained', None)
    if isinstance(path, str) and path:
        return path
    init_cfg = getattr(backbone, 'init_cfg', None)
    for cfg in (init_cfg if isinstance(init_cfg, list) else [init_cfg]):
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            return cfg.get('checkpoint')
    return None


def check_backbone_load(backbone: torch.nn.Module,
                        source_path: Optional[str] = None,
                        trusted: bool = False) -> WeightCheckReport:
    """Check a downstream backbone against the encoder file it loaded.

    Call after the model's ``init_weights()``.

    Args:
        backbone (nn.Module): The built backbone (mmseg ``MAE``, our ViTDet
            backbone, ... with a registered :class:`BackboneLoadSpec`).
        source_path (str, optional): The encoder file. Defaults to the
            backbone's own (:func:`pretrained_path_of`).
        trusted (bool): Read the file with full pickle (see
            :func:`~.reading.read_checkpoint`).
            Defaults to False.

    Returns:
        WeightCheckReport: The comparison.

    Raises:
        ValueError: If no source file is given or configured.
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
    return check_loaded_weights(
        backbone.state_dict(),
        source,
        expected_fresh=spec.expected_fresh,
        transforms=spec.transforms)


@register_load_spec('SiameseIMViT')
def siameseim_vit_load_spec(backbone) -> BackboneLoadSpec:
    """Load spec of a ``SiameseIMViT`` classifier backbone.

    Args:
        backbone (SiameseIMViT): The built backbone.

    Returns:
        BackboneLoadSpec: ``ln2`` (after average pooling) and ``ln1`` (a
        final norm) may start fresh; ``pos_embed`` is compared after the
        resize; the file's keys carry the ``init_cfg`` ``prefix``.
    """
    fresh = []
    if getattr(backbone, 'out_type', None) == 'avg_featmap':
        fresh.append(r'ln2\.(weight|bias)')
    if getattr(backbone, 'final_norm', False):
        fresh.append(r'ln1\.(weight|bias)')
    init_cfg = backbone.init_cfg
    prefix = ''
    for cfg in (init_cfg if isinstance(init_cfg, list) else [init_cfg]):
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            prefix = cfg.get('prefix') or ''
    if prefix and not prefix.endswith('.'):
        prefix += '.'  # as mmengine's loader reads it
    return BackboneLoadSpec(
        expected_fresh=fresh,
        transforms={r'pos_embed': resize_pos_embed},
        source_prefix=prefix)

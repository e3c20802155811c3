"""Checkpoints: read (:func:`read_checkpoint`, one trust policy), convert
(:func:`convert_checkpoint`, one route), verify (:func:`check_backbone_load`).
"""
from .convert import (ConversionReport, convert_checkpoint, detect_layout,
                      rename_keys, unwrap_state_dict)
from .layouts import LAYOUTS
from .load_specs import (BackboneLoadSpec, check_backbone_load, load_spec_for,
                         pretrained_init, pretrained_path_of,
                         register_load_spec)
from .reading import (MANIFEST_NAME, UntrustedCheckpointError, read_checkpoint,
                      record_run_checkpoint, written_by_run)
from .verify import (WeightCheckReport, check_loaded_weights,
                     refuse_other_shapes, resize_pos_embed)

__all__ = [
    'ConversionReport', 'convert_checkpoint', 'detect_layout', 'rename_keys',
    'unwrap_state_dict', 'LAYOUTS', 'BackboneLoadSpec', 'check_backbone_load',
    'load_spec_for', 'pretrained_init', 'pretrained_path_of',
    'register_load_spec', 'MANIFEST_NAME', 'UntrustedCheckpointError',
    'read_checkpoint', 'record_run_checkpoint', 'written_by_run',
    'WeightCheckReport', 'check_loaded_weights', 'refuse_other_shapes',
    'resize_pos_embed'
]

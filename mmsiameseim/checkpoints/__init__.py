"""Checkpoints: read (one trust policy), convert (one route), verify.

* :func:`read_checkpoint`: every file the package reads;
* :func:`unwrap_state_dict` / :func:`convert_checkpoint`: the state dict of
  a loaded file, in any of the :data:`LAYOUTS`;
* :func:`check_loaded_weights` / :func:`check_backbone_load`: did the
  tensors of a file arrive in a built model.
"""
from .convert import (ConversionReport, convert_checkpoint, detect_layout,
                      rename_keys, unwrap_state_dict)
from .layouts import LAYOUTS
from .load_specs import (BackboneLoadSpec, check_backbone_load,
                         load_spec_for, pretrained_path_of,
                         register_load_spec)
from .reading import (MANIFEST_NAME, UntrustedCheckpointError,
                      read_checkpoint, record_run_checkpoint, written_by_run)
from .verify import WeightCheckReport, check_loaded_weights, resize_pos_embed

__all__ = [
    'ConversionReport', 'convert_checkpoint', 'detect_layout', 'rename_keys',
    'unwrap_state_dict', 'LAYOUTS', 'BackboneLoadSpec', 'check_backbone_load',
    'load_spec_for', 'pretrained_path_of', 'register_load_spec',
    'MANIFEST_NAME', 'UntrustedCheckpointError', 'read_checkpoint',
    'record_run_checkpoint', 'written_by_run', 'WeightCheckReport',
    'check_loaded_weights', 'resize_pos_embed'
]

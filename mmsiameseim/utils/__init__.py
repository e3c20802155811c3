"""Utilities: the checkpoint service, the resume runner, key conversion."""
from .checkpoint import (MANIFEST_NAME, SafeResumeRunner,
                         UntrustedCheckpointError, backbone_state_dict,
                         load_backbone_weights, read_checkpoint,
                         read_state_dict, record_run_checkpoint,
                         written_by_run)
from .key_mapping import (ConversionReport, convert_official_checkpoint,
                          detect_layout, mmsiameseim_to_backbone,
                          official_to_mmsiameseim, rename_keys,
                          unwrap_state_dict)
from .weight_check import (BackboneLoadSpec, WeightCheckReport,
                           check_backbone_load, check_loaded_weights,
                           load_spec_for, pretrained_path_of,
                           register_load_spec)

__all__ = [
    'MANIFEST_NAME', 'SafeResumeRunner', 'UntrustedCheckpointError',
    'backbone_state_dict', 'load_backbone_weights', 'read_checkpoint',
    'read_state_dict', 'record_run_checkpoint', 'written_by_run',
    'ConversionReport', 'convert_official_checkpoint', 'detect_layout',
    'mmsiameseim_to_backbone', 'official_to_mmsiameseim', 'rename_keys',
    'unwrap_state_dict', 'BackboneLoadSpec', 'WeightCheckReport',
    'check_backbone_load', 'check_loaded_weights', 'load_spec_for',
    'pretrained_path_of', 'register_load_spec'
]

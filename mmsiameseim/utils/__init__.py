"""Utilities: safe checkpoint loading, the resume runner, key conversion."""
from .checkpoint import (SafeResumeRunner, load_state_dict_safely,
                         load_trusted_checkpoint)
from .key_mapping import (ConversionReport, convert_official_checkpoint,
                          detect_layout, load_checkpoint_for_conversion,
                          mmsiameseim_to_backbone, official_to_mmsiameseim,
                          rename_keys, unwrap_state_dict)

__all__ = [
    'SafeResumeRunner', 'load_state_dict_safely', 'load_trusted_checkpoint',
    'ConversionReport', 'convert_official_checkpoint', 'detect_layout',
    'load_checkpoint_for_conversion', 'mmsiameseim_to_backbone',
    'official_to_mmsiameseim', 'rename_keys', 'unwrap_state_dict'
]

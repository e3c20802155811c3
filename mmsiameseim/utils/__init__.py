"""Utilities of mmsiameseim: safe checkpoint loading and the resume runner."""
from .checkpoint import (SafeResumeRunner, load_state_dict_safely,
                         load_trusted_checkpoint)

__all__ = [
    'SafeResumeRunner', 'load_state_dict_safely', 'load_trusted_checkpoint'
]

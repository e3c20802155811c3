"""Modules for downstream libraries (mmseg, mmdet).

Each module here imports its library at the top and registers what that
library's configs need (the pretrained-load check of a backbone class, ...).
Nothing is imported from this package's ``__init__``, and ``import
mmsiameseim`` never imports this package: a config loads a module through
``custom_imports``, e.g. ``custom_imports = dict(imports=[
'mmsiameseim', 'mmsiameseim.downstream.mmseg_mae'])``.
"""

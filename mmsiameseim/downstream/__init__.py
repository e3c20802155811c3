"""Modules for downstream libraries (mmseg, mmdet), each importing its
library and registering what its configs need. ``import mmsiameseim`` never
imports them; a config does, through ``custom_imports`` (e.g.
``'mmsiameseim.downstream.mmseg_mae'``)."""

"""The views picture of ``tools/visualization/show_views.py``: geometry,
views as training makes them, rendering (not loaded by the core import)."""

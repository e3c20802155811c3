"""Runner-side parts: hooks."""
from . import hooks  # noqa: F401

"""Argument checks shared by the package: one message form for all options.

``name`` is how the message names the option, e.g. ``'SiameseIMViT:
`num_masked`'``; every error says what was expected and what was given.
"""
import numbers


def is_int(value) -> bool:
    """Whether ``value`` is an integer (a bool is not)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(value, name: str, low: int = 1, stop: int = None) -> int:
    """``value`` if it is an int in ``[low, stop)`` (``stop`` None: no upper
    bound), else a ``ValueError`` naming the option and the value."""
    if is_int(value) and value >= low and (stop is None or value < stop):
        return int(value)
    if stop is not None:
        span = f'an int in [{low}, {stop})'
    else:
        span = 'a positive int' if low == 1 else f'an int >= {low}'
    raise ValueError(f'{name} must be {span}, got {value!r}')


def check_real(value, name: str, low: float, strict: bool = False):
    """``value`` if it is a real number ``>= low`` (``> low`` if strict),
    else a ``ValueError`` naming the option, the bound and the value."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (ok and (value > low if strict else value >= low)):
        raise ValueError(f'{name} must be {">" if strict else ">="} {low}, '
                         f'got {value!r}')
    return value


def check_choice(value, name: str, allowed):
    """``value`` if it is one of ``allowed``, else a ``ValueError``."""
    if value not in allowed:
        raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
    return value

"""Argument checks shared by the package: every error names the option
(``name``, e.g. ``'SiameseIMViT: `num_masked`'``), what was expected and
what was given."""
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


def check_real(value,
               name: str,
               low: float,
               strict: bool = False,
               high: float = None):
    """``value`` if it is a real number ``>= low`` (``> low`` if strict) and
    ``<= high`` (None: no upper bound), else a ``ValueError`` naming the
    option, the bounds and the value."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    above = ok and (value > low if strict else value >= low)
    if above and (high is None or value <= high):
        return value
    if high is not None:
        raise ValueError(f'{name} must be a number in [{low}, {high}], '
                         f'got {value!r}')
    raise ValueError(f'{name} must be {">" if strict else ">="} {low}, '
                     f'got {value!r}')


def check_choice(value, name: str, allowed):
    """``value`` if it is one of ``allowed``, else a ``ValueError``."""
    if value not in allowed:
        raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
    return value


def repr_fields(obj, *names: str) -> str:
    """``Type(a=1, b='x')`` from attributes of ``obj`` (strings quoted): the
    ``__repr__`` of the package's transforms."""
    fields = ', '.join(
        f'{name}={value!r}' if isinstance(value, str) else f'{name}={value}'
        for name, value in ((n, getattr(obj, n)) for n in names))
    return f'{type(obj).__name__}({fields})'

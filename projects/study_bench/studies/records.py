"""JSON-lines records of the bench's runs: read, tag, append.

Every bench tool appends one JSON object per result to a ``.jsonl`` file;
the study drivers tag the records of a run (method, lr, seed, split) and
the summaries read them back.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence


def read_records(path: str) -> List[dict]:
    """JSON objects of a ``.jsonl`` file (blank lines skipped).

    Raises:
        ValueError: On a line that is not a JSON object, with its number.
    """
    records = []
    with open(path) as f:
        for num, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}:{num}: not JSON ({e})') from e
            if not isinstance(record, dict):
                raise ValueError(f'{path}:{num}: not a JSON object')
            records.append(record)
    return records


def parse_meta(pairs: Sequence[str]) -> Dict[str, object]:
    """``['k=v', ...]`` -> dict; numbers become floats (ints stay ints)."""
    meta = {}
    for pair in pairs:
        if '=' not in pair:
            raise ValueError(f'--meta expects key=value, got {pair!r}')
        key, value = pair.split('=', 1)
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                pass
        meta[key] = value
    return meta


def append_tagged(src: str, dst: str, meta: Dict[str, object]) -> int:
    """Append the records of ``src`` to ``dst`` with ``meta`` added.

    ``meta`` wins over keys of the same name in the records, so that the
    run's own ``lr`` / ``seed`` / ``split`` are the ones summarised.

    Returns:
        int: Number of records appended.
    """
    records = read_records(src) if osp.isfile(src) else []
    parent = osp.dirname(osp.abspath(dst))
    os.makedirs(parent, exist_ok=True)
    with open(dst, 'a') as f:
        for record in records:
            record = dict(record)
            for key, value in meta.items():
                if key in record and record[key] != value:
                    record[f'{key}_reported'] = record[key]
                record[key] = value
            f.write(json.dumps(record) + '\n')
    return len(records)

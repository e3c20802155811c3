"""One training run per process, its result handed back as a record.

mmengine keeps global state (registries' default scope, the message hub,
loggers), so every training run of a bench driver is a child process: the
driver starts its own command line again with the run's options, the child
prints its result as one ``RECORD`` line (:func:`print_record`), and the
driver collects them (:func:`run_children`: side by side up to ``jobs``,
each child's output in a log file).
"""
import json
import os
import re
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, Iterator, Mapping, Optional, Sequence, Tuple

RECORD = 'RECORD '
#: mmengine's logger line of a training step: where it is, and its ETA.
STEP = re.compile(r'((?:Epoch|Iter)\(train\)\s*(?:\[\d+\])?\s*'
                  r'\[\s*\d+/\d+\]).*?eta: (\S+)')


def print_record(record: dict) -> None:
    """Hand ``record`` to the parent process (one ``RECORD`` line)."""
    print(RECORD + json.dumps(record), flush=True)


def parse_record(output: str) -> Optional[dict]:
    """The last record :func:`print_record` wrote into ``output``."""
    lines = [line for line in output.splitlines() if line.startswith(RECORD)]
    return json.loads(lines[-1][len(RECORD):]) if lines else None


def latest_step(log_path: str) -> Optional[str]:
    """``'Iter(train) [40/400], eta 0:05:00'`` of the last step the
    child's Runner logged, or None before its first."""
    try:
        with open(log_path, errors='replace') as f:
            steps = STEP.findall(f.read())
    except OSError:
        return None
    return f'{steps[-1][0]}, eta {steps[-1][1]}' if steps else None


def run_children(cmds: Mapping[str, Sequence[str]],
                 log_dir: str,
                 jobs: int = 1,
                 env: Optional[Dict[str, str]] = None,
                 poll_s: float = 1.,
                 report_s: float = 30.) -> Iterator[Tuple[str, dict]]:
    """Run the commands, up to ``jobs`` at once; yield their records.

    Args:
        cmds (Mapping[str, Sequence[str]]): Run name -> command, started in
            this order.
        log_dir (str): ``<name>.log`` of each run (stdout and stderr; a
            pipe would fill up and block).
        jobs (int): Runs side by side. Defaults to 1.
        env (dict, optional): The children's environment.
        poll_s (float): Seconds between looks at the running children.
        report_s (float): Seconds between progress lines (each running
            child's last logged step and its ETA, :func:`latest_step`).

    Yields:
        tuple: ``(name, record)`` in the order the runs end.

    Raises:
        SystemExit: When a run fails or prints no record (its log's end
            shown, the other runs killed).
    """
    os.makedirs(log_dir, exist_ok=True)
    pending, running = list(cmds), {}
    reported, last_report = {}, time.time()
    while pending or running:
        while pending and len(running) < jobs:
            name = pending.pop(0)
            print('+ ' + ' '.join(cmds[name]), flush=True)
            with open(osp.join(log_dir, f'{name}.log'), 'w') as log:
                running[name] = subprocess.Popen(
                    list(cmds[name]), stdout=log, stderr=subprocess.STDOUT,
                    env=env)
        time.sleep(poll_s)
        if time.time() - last_report >= report_s:
            last_report = time.time()
            for name in running:
                step = latest_step(osp.join(log_dir, f'{name}.log'))
                if step and step != reported.get(name):
                    reported[name] = step
                    print(f'{name}: {step}', flush=True)
        for name, proc in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            log_path = osp.join(log_dir, f'{name}.log')
            with open(log_path) as f:
                output = f.read()
            record = parse_record(output)
            if proc.returncode != 0 or record is None:
                sys.stderr.write(output[-4000:])
                for other in running.values():
                    other.kill()
                raise SystemExit(f'run {name} failed ({proc.returncode}); '
                                 f'log: {log_path}')
            yield name, record

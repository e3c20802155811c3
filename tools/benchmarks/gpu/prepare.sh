#!/usr/bin/env bash
# Prepare the short GPU commands where PyPI is reachable (docs/benchmarks.md,
# "GPU runs"): download the wheels the GPU machine lacks into .whl/ (ignored
# by git), verify them, and print the device calls (command, carry list,
# timeout) as JSON lines with the size of what travels. Run it in the
# checkout the device calls are made from.
#
# Usage:
#   bash tools/benchmarks/gpu/prepare.sh            # download, verify, calls
#   bash tools/benchmarks/gpu/prepare.sh --check    # also run both commands
#       at toy size in a local environment holding only the GPU image's
#       packages plus the wheels, and byte-compile under Python 3.12
#   PYTHON=...  the interpreter with pip and packaging [.venv/bin/python]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
STEPS=(download verify)
[[ "${1:-}" == "--check" ]] && STEPS+=(check)
"$PYTHON" tools/benchmarks/gpu/prepare.py "${STEPS[@]}" calls

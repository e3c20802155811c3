#!/usr/bin/env bash
# Shared set-up of the short GPU commands (sourced by throughput.sh and
# study.sh; see docs/benchmarks.md and docs/reproduction.md, "GPU runs").
#
#   cd to the repository root; OUT_DIR = $1, else $OUT, else work_dirs/gpu.
#   INSTALL=1 (the default unless TOY=1): install the wheels of .whl/
#     (tools/benchmarks/gpu/prepare.sh downloads them) into $SITE with
#     `pip --no-index --no-deps --target` and put $SITE first on PYTHONPATH.
#   TOY=1: toy size on the CPU with $PYTHON as it is (the test of
#     `make test`); otherwise check that torch sees a GPU and that mmengine,
#     mmpretrain and mmsiameseim import, before spending GPU time.
#   PYTHON: the interpreter [python3].
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
TOY="${TOY:-0}"
PYTHON="${PYTHON:-python3}"
OUT_DIR="${1:-${OUT:-$ROOT/work_dirs/gpu}}"
SITE="${SITE:-$ROOT/.whl/site}"  # inside the ignored .whl/
if [[ "$TOY" == 1 ]]; then INSTALL="${INSTALL:-0}"; else INSTALL="${INSTALL:-1}"; fi
export PYTHONUNBUFFERED=1

gpu_setup() {
  mkdir -p "$OUT_DIR"
  if [[ "$INSTALL" == 1 ]]; then
    if ! compgen -G ".whl/*.whl" > /dev/null; then
      echo "error: no wheels in $ROOT/.whl: run" \
        "bash tools/benchmarks/gpu/prepare.sh where PyPI is reachable and" \
        "carry .whl" >&2
      exit 3
    fi
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile \
      --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
    export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
  else
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
  fi
  if [[ "$TOY" != 1 ]]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total \
      --format=csv,noheader 2> /dev/null || echo "nvidia-smi not found"
    "$PYTHON" - << 'PYEOF'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit('error: torch sees no GPU; use TOY=1 for the CPU toy run')
import mmengine, mmpretrain, mmsiameseim  # noqa: E401
print(f'python {sys.version.split()[0]}, torch {torch.__version__}, '
      f'{torch.cuda.get_device_name()}, mmengine {mmengine.__version__}, '
      f'mmpretrain {mmpretrain.__version__}, '
      f'mmsiameseim {mmsiameseim.__version__}', flush=True)
PYEOF
  fi
}

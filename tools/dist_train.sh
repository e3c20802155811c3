#!/usr/bin/env bash
# Usage: bash tools/dist_train.sh CONFIG GPUS [train.py args...]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node;
# PYTHON picks the interpreter (default: python).
# DRY_RUN=1 prints the command (one shell-quoted line) instead of running it.
# Without CUDA, tools/train.py runs the processes on the CPU with gloo.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "Usage: $0 CONFIG GPUS [train.py args...]" >&2
    exit 1
fi
CONFIG=$1
GPUS=$2
if ! [[ "${GPUS}" =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: GPUS must be a positive integer, got '${GPUS}'" >&2
    exit 1
fi
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "${SCRIPT_DIR}")"

CMD=(
    env "PYTHONPATH=${REPO_ROOT}${PYTHONPATH:+:${PYTHONPATH}}"
    "${PYTHON}" -m torch.distributed.run
    --nnodes="${NNODES}"
    --node_rank="${NODE_RANK}"
    --master_addr="${MASTER_ADDR}"
    --nproc_per_node="${GPUS}"
    --master_port="${PORT}"
    "${SCRIPT_DIR}/train.py"
    "${CONFIG}"
    --launcher pytorch "${@:3}"
)
if [[ -n "${DRY_RUN:-}" ]]; then
    printf '%q ' "${CMD[@]}"
    printf '\n'
    exit 0
fi
exec "${CMD[@]}"

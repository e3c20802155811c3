#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#     [PYTHON=python] bash tools/slurm_train.sh \
#     PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# DRY_RUN=1 prints the command (one shell-quoted line) instead of running it.
set -euo pipefail

if [[ $# -lt 4 ]]; then
    echo "Usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]" >&2
    exit 1
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
for name in GPUS GPUS_PER_NODE CPUS_PER_TASK; do
    if ! [[ "${!name}" =~ ^[1-9][0-9]*$ ]]; then
        echo "$0: ${name} must be a positive integer, got '${!name}'" >&2
        exit 1
    fi
done
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "${SCRIPT_DIR}")"
# SRUN_ARGS holds several srun options: split on spaces on purpose.
read -r -a SRUN_EXTRA <<< "${SRUN_ARGS}"

CMD=(
    env "PYTHONPATH=${REPO_ROOT}${PYTHONPATH:+:${PYTHONPATH}}"
    srun -p "${PARTITION}"
    --job-name="${JOB_NAME}"
    --gres=gpu:"$(( GPUS_PER_NODE < GPUS ? GPUS_PER_NODE : GPUS ))"
    --ntasks="${GPUS}"
    --ntasks-per-node="$(( GPUS_PER_NODE < GPUS ? GPUS_PER_NODE : GPUS ))"
    --cpus-per-task="${CPUS_PER_TASK}"
    --kill-on-bad-exit=1
    ${SRUN_EXTRA[@]+"${SRUN_EXTRA[@]}"}
    "${PYTHON}" -u "${SCRIPT_DIR}/train.py" "${CONFIG}"
    --work-dir="${WORK_DIR}" --launcher="slurm" "${@:5}"
)
if [[ -n "${DRY_RUN:-}" ]]; then
    printf '%q ' "${CMD[@]}"
    printf '\n'
    exit 0
fi
exec "${CMD[@]}"

#!/usr/bin/env bash
# Fashion-MNIST mini-reproduction (docs/reproduction.md): pretrain every
# config of projects/study_bench/configs/reproduction/ at a small lr sweep, evaluate the last
# checkpoint of each run with the three benchmark tools, record GPU time,
# and print the summary table. This is the long version (18 runs of 100
# epochs); tools/benchmarks/gpu/study.sh is the five-minute one
# (docs/reproduction.md, "GPU runs").
#
# Usage:
#   bash tools/benchmarks/run_reproduction.sh [RESULTS.jsonl]
#
# Environment (defaults in brackets):
#   CONFIGS    configs to run [every projects/study_bench/configs/reproduction/*.py]
#   LRS        lr sweep ["5e-4 1.5e-3 4.5e-3"]
#   SEEDS      seeds ["0"]
#   EPOCHS     pretraining epochs, > 10 [the configs' 100]
#   WORK_ROOT  work dirs [work_dirs/reproduction]
#   DEVICE     device of the evaluation tools [cuda]
#   PYTHON     interpreter [python]
#   DRY_RUN=1  print the commands instead of running them
#
# One GPU per run (the configs are 1xb256). Every run writes
# WORK_ROOT/<method>/lr<lr>_seed<seed>/; a run whose final
# checkpoint exists is not retrained, an interrupted one is resumed. The
# records of every run (one `train` record with the GPU seconds, the kNN on
# held-out train images, the kNN, linear probe and dense probe on the test
# split) are tagged with method / lr / seed / split and appended to
# RESULTS.jsonl; summarize_reproduction.py picks each method's lr by the
# held-out kNN only.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python}
WORK_ROOT=${WORK_ROOT:-work_dirs/reproduction}
RESULTS=${1:-${WORK_ROOT}/results.jsonl}
LRS=${LRS:-"5e-4 1.5e-3 4.5e-3"}
SEEDS=${SEEDS:-0}
EPOCHS=${EPOCHS:-}
DEVICE=${DEVICE:-cuda}
DRY_RUN=${DRY_RUN:-0}
CONFIGS=${CONFIGS:-$(ls projects/study_bench/configs/reproduction/*.py)}
DATA_ROOT=data/fashion-mnist
HELDOUT_ROOT=data/fashion-mnist-heldout
WARMUP_EPOCHS=10  # the configs' warm-up, kept when EPOCHS changes
SUMMARIZE=tools/benchmarks/summarize_reproduction.py
export PYTHONPATH="${PWD}${PYTHONPATH:+:${PYTHONPATH}}"

run() {  # print, then run unless DRY_RUN=1
    echo "+ $*" >&2
    if [ "${DRY_RUN}" != 1 ]; then "$@"; fi
}

tag_append() {  # RUN_JSONL key=value...: tag records, add to RESULTS
    local src=$1
    shift
    run "${PYTHON}" "${SUMMARIZE}" "${RESULTS}" --append-from "${src}" \
        --meta "$@"
}

gpu_name() {
    if command -v nvidia-smi > /dev/null 2>&1; then
        nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1
    else
        echo none
    fi
}

if [ ! -d "${DATA_ROOT}" ]; then
    run "${PYTHON}" tools/data/fetch_fashion_mnist.py
fi
if [ ! -d "${HELDOUT_ROOT}" ]; then
    run "${PYTHON}" "${SUMMARIZE}" "${RESULTS}" \
        --make-heldout "${DATA_ROOT}" "${HELDOUT_ROOT}"
fi
mkdir -p "$(dirname "${RESULTS}")"

epoch_opts=()
final_epoch=100
if [ -n "${EPOCHS}" ]; then
    if [ "${EPOCHS}" -le "${WARMUP_EPOCHS}" ]; then
        echo "EPOCHS must be > ${WARMUP_EPOCHS}" >&2
        exit 1
    fi
    final_epoch=${EPOCHS}
    epoch_opts=(
        "train_cfg.max_epochs=${EPOCHS}"
        "param_scheduler.1.T_max=$((EPOCHS - WARMUP_EPOCHS))"
        "param_scheduler.1.end=${EPOCHS}")
fi

for config in ${CONFIGS}; do
    name=$(basename "${config}" .py)
    method=${name%%_*}  # e.g. siameseim, mae, mocov3, siameseim-pixel
    for lr in ${LRS}; do
        for seed in ${SEEDS}; do
            work_dir=${WORK_ROOT}/${method}/lr${lr}_seed${seed}
            meta=(method="${method}" config="${config}" lr="${lr}"
                  seed="${seed}" work_dir="${work_dir}")
            mkdir -p "${work_dir}"
            train_args=("${config}" --work-dir "${work_dir}"
                        --cfg-options "optim_wrapper.optimizer.lr=${lr}"
                        "randomness.seed=${seed}"
                        ${epoch_opts[@]+"${epoch_opts[@]}"})
            if [ -f "${work_dir}/last_checkpoint" ]; then
                train_args+=(--resume)
            fi

            # ---- pretraining, timed (the GPU is used by this run only)
            if [ -f "${work_dir}/epoch_${final_epoch}.pth" ]; then
                echo "skip training: ${work_dir}/epoch_${final_epoch}.pth" >&2
            else
                start=$(date +%s.%N)
                status=0
                run "${PYTHON}" tools/train.py "${train_args[@]}" \
                    || status=$?
                end=$(date +%s.%N)
                seconds=$(awk -v a="${start}" -v b="${end}" \
                    'BEGIN { printf "%.1f", b - a }')
                fmt='{"tool": "train", "metric": "gpu_seconds", '
                fmt+='"value": %s, "gpu": "%s", "status": %s}\n'
                # shellcheck disable=SC2059  # the format is ours
                printf "${fmt}" "${seconds}" "$(gpu_name)" "${status}" \
                    > "${work_dir}/train.jsonl"
                tag_append "${work_dir}/train.jsonl" "${meta[@]}" split=train
                if [ "${status}" != 0 ]; then
                    echo "training failed (${status}): ${work_dir}" >&2
                    continue
                fi
            fi

            # ---- evaluation of the last checkpoint
            if [ "${DRY_RUN}" = 1 ]; then
                ckpt=${work_dir}/epoch_${final_epoch}.pth
            else
                ckpt=$(cat "${work_dir}/last_checkpoint")
            fi
            # split, tool, extra arguments (the held-out kNN reads the
            # split written by --make-heldout; the others their defaults)
            evals=(
                "heldout knn_eval --data-root ${HELDOUT_ROOT}"
                "test knn_eval"
                "test linear_probe"
                "test dense_probe")
            for spec in "${evals[@]}"; do
                read -r split tool extra <<< "${spec}"
                out=${work_dir}/${tool}_${split}.jsonl
                rm -f "${out}"
                # shellcheck disable=SC2086  # ${extra}: zero or two words
                if ! run "${PYTHON}" "tools/benchmarks/${tool}.py" \
                        "${config}" "${ckpt}" --device "${DEVICE}" \
                        ${extra} --out "${out}"; then
                    echo "${tool} failed on ${ckpt}" >&2
                    continue
                fi
                tag_append "${out}" "${meta[@]}" split="${split}"
            done
        done
    done
done

run "${PYTHON}" "${SUMMARIZE}" "${RESULTS}" --all-runs

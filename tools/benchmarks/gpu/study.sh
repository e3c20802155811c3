#!/usr/bin/env bash
# The short GPU study (docs/reproduction.md, "GPU runs"): SiameseIM, MAE,
# MoCo v3 and the same-view row at the reproduction size, trained at the
# same time on the one GPU for 8 epochs (1872 steps at batch 256), then the
# kNN, linear and dense probes of projects/study_bench/probes/
# (tools/benchmarks/gpu/study.py). Sized for <= 5 minutes on one H200 with
# 16 CPU cores; needs data/fashion-mnist/.
#
# Usage:
#   bash tools/benchmarks/gpu/study.sh [OUT_DIR]           # on the GPU machine
#   TOY=1 PYTHON=.venv/bin/python bash tools/benchmarks/gpu/study.sh DIR
# Writes OUT_DIR/study.jsonl, OUT_DIR/study_summary.md (printed) and
# OUT_DIR/study_logs.txt (the end of each run's log); runs and checkpoints
# go to WORK_ROOT [work_dirs/gpu_study]. Environment: see common.sh;
# METHODS (space-separated subset), LIMIT_S [280] (a backstop: study.py
# terminates runs itself at its budget, 255 s on the GPU, and on SIGTERM
# still writes what the runs recorded).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
gpu_setup

if [[ ! -d data/fashion-mnist ]]; then
  echo "error: data/fashion-mnist/ is missing (carry it, or run" \
    "python tools/data/fetch_fashion_mnist.py)" >&2
  exit 3
fi
ARGS=(--out "$OUT_DIR" --work-root "${WORK_ROOT:-work_dirs/gpu_study}")
[[ "$TOY" == 1 ]] && ARGS+=(--toy)
# shellcheck disable=SC2206  # METHODS: space-separated names
[[ -n "${METHODS:-}" ]] && ARGS+=(--methods ${METHODS})
timeout -k 20 "${LIMIT_S:-280}" "$PYTHON" tools/benchmarks/gpu/study.py \
  "${ARGS[@]}"

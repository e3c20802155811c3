#!/usr/bin/env bash
# The GPU pretraining-throughput table of docs/benchmarks.md, in one command:
# SiameseIM, MAE and MoCo-v3 ViT-B/16, fp16 and bf16 AMP, per-GPU batch
# 64/128/256, eager and torch.compile, then SiameseIM's speed options at 128.
# One GPU, one process, synthetic data
# (tools/benchmarks/pretrain_throughput.py). This is the long version (23
# compiled configurations at about a minute of compilation each);
# tools/benchmarks/gpu/throughput.sh is the five-minute one
# (docs/benchmarks.md, "GPU runs").
#
# Usage:
#   bash tools/benchmarks/run_gpu_benchmarks.sh [OUT_DIR]
# OUT_DIR defaults to $OUT when set (the device machines), else
# docs/benchmarks/. Writes OUT_DIR/pretrain_gpu_<UTC stamp>.jsonl and prints
# a markdown table of it. Subsets: MODELS=siameseim BATCHES=128 DTYPES=fp16
# COMPILE=0 EXTRAS=0 bash tools/benchmarks/run_gpu_benchmarks.sh
# (each compiled configuration costs about a minute of compilation).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python}"
OUT_DIR="${1:-${OUT:-$ROOT/docs/benchmarks}}"
MODELS="${MODELS:-siameseim,mae,mocov3}"
BATCHES="${BATCHES:-64,128,256}"
DTYPES="${DTYPES:-fp16,bf16}"
COMPILE="${COMPILE:-1}"
EXTRAS="${EXTRAS:-1}"
STEPS="${STEPS:-30}"
WARMUP="${WARMUP:-10}"
mkdir -p "$OUT_DIR"
FILE="$OUT_DIR/pretrain_gpu_$(date -u +%Y%m%dT%H%M%SZ).jsonl"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
BENCH=("$PY" tools/benchmarks/pretrain_throughput.py --device cuda
       --steps "$STEPS" --warmup "$WARMUP" --out "$FILE")
status=0

echo "[gpu-bench] $(nvidia-smi --query-gpu=name,driver_version \
  --format=csv,noheader 2>/dev/null || echo 'nvidia-smi not found')"
echo "[gpu-bench] writing $FILE"

# 1) the table: eager (+ compiled) for every model, batch and dtype
compile_flag=()
[[ "$COMPILE" == 1 ]] && compile_flag=(--compile)
"${BENCH[@]}" --models "$MODELS" --batch-sizes "$BATCHES" \
  --dtypes "$DTYPES" ${compile_flag[@]+"${compile_flag[@]}"} || status=1

if [[ "$EXTRAS" == 1 && ",$MODELS," == *",siameseim,"* ]]; then
  # 2) SiameseIM at 128, fp16, eager: host syncs per step of the default
  #    model, with the mask count configured, and with mmpretrain's EMA
  #    update (per-parameter syncs) for comparison
  "${BENCH[@]}" --models siameseim --batch-sizes 128 --dtypes fp16 \
    --sync-debug || status=1
  "${BENCH[@]}" --models siameseim --batch-sizes 128 --dtypes fp16 \
    --sync-debug --siameseim-cfg-options model.backbone.num_masked=118 \
    || status=1
  "${BENCH[@]}" --models siameseim --batch-sizes 128 --dtypes fp16 \
    --sync-debug --siameseim-cfg-options model.backbone.num_masked=118 \
    model.data_preprocessor.non_blocking=True || status=1
  "${BENCH[@]}" --models siameseim --batch-sizes 128 --dtypes fp16 \
    --sync-debug --siameseim-cfg-options model.sync_free_ema=False \
    || status=1
  # 3) all speed options together: fixed mask count, non-blocking copies
  #    of the data samples, fused AdamW, eager and compiled, fp16 and bf16,
  #    TF32 off (as upstream) and on
  FAST=(model.backbone.num_masked=118
        model.data_preprocessor.non_blocking=True)
  "${BENCH[@]}" --models siameseim --batch-sizes 128,256 --dtypes "$DTYPES" \
    --fused-adamw --compile --siameseim-cfg-options "${FAST[@]}" || status=1
  "${BENCH[@]}" --models siameseim --batch-sizes 128 --dtypes bf16 \
    --fused-adamw --compile-only --tf32 --siameseim-cfg-options "${FAST[@]}" \
    || status=1
fi

"$PY" tools/benchmarks/pretrain_throughput.py --summarize "$FILE"
echo "[gpu-bench] done: $FILE (exit $status)"
exit "$status"

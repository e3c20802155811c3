#!/usr/bin/env bash
# The short GPU throughput command (docs/benchmarks.md, "GPU runs"):
# SiameseIM, mmpretrain's MAE and MoCo v3, ViT-B/16, batch 128, bf16 AMP,
# synthetic inputs, one process, run after run: every model eager, then
# SiameseIM and MAE with torch.compile; a configuration that would start more
# than DEADLINE_S seconds after the first is skipped (compilation is the
# long part, about a minute per model). Sized for <= 5 minutes on one H200.
#
# Usage:
#   bash tools/benchmarks/gpu/throughput.sh [OUT_DIR]     # on the GPU machine
#   TOY=1 PYTHON=.venv/bin/python bash tools/benchmarks/gpu/throughput.sh DIR
# Writes OUT_DIR/throughput.jsonl (one JSON line per configuration, see
# tools/benchmarks/pretrain_throughput.py), OUT_DIR/throughput_log.txt (its
# output, tracebacks included) and OUT_DIR/throughput_summary.md (the table
# and whether each target holds), and prints them.
# Environment: see common.sh; DEADLINE_S [150], LIMIT_S [260] (the whole
# benchmark process is killed after LIMIT_S; the summary still runs).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
gpu_setup

FILE="$OUT_DIR/throughput.jsonl"
rm -f "$FILE"
if [[ "$TOY" == 1 ]]; then
  SIZE=(--device cpu --tiny --batch-sizes 4 --dtypes fp32 --steps 1
        --warmup 1 --compile-backend eager)
else
  SIZE=(--device cuda --batch-sizes 128 --dtypes bf16 --steps 30
        --warmup 10)
fi
status=0
timeout -k 10 "${LIMIT_S:-260}" "$PYTHON" tools/benchmarks/pretrain_throughput.py \
  "${SIZE[@]}" --models siameseim,mae,mocov3 \
  --compile-models siameseim,mae --deadline-s "${DEADLINE_S:-150}" \
  --sync-debug --out "$FILE" 2>&1 | tee "$OUT_DIR/throughput_log.txt" \
  || status=$?
if [[ ! -s "$FILE" ]]; then
  echo "error: no record written (exit $status)" >&2
  exit 1
fi
"$PYTHON" tools/benchmarks/gpu/summarize.py throughput "$FILE" \
  | tee "$OUT_DIR/throughput_summary.md"
echo "[throughput] $FILE (exit $status)"
exit "$status"

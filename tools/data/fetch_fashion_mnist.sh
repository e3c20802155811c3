#!/usr/bin/env bash
# Place Fashion-MNIST (MIT licence; Debian package `dataset-fashion-mnist`)
# in data/fashion-mnist/ (or $1): the package's gzipped IDX files and their
# uncompressed copies, which mmpretrain's FashionMNIST dataset reads
# (offline, with download=False). Needs no root:
#   1. copy from /usr/share/datasets/fashion-mnist/ if the package is installed,
#   2. otherwise `apt-get download` the .deb and unpack it with `dpkg -x`.
# Idempotent: files that are already there and complete are kept.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEST="${1:-$ROOT/data/fashion-mnist}"
SYSTEM_DIR=/usr/share/datasets/fashion-mnist
FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
       t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
# byte sizes of the package's files and of the uncompressed IDX files
SIZES=(26421856 29491 4422079 5125)
RAW_SIZES=(47040016 60008 7840016 10008)

complete() {
  local dir="$1" i
  for i in "${!FILES[@]}"; do
    [[ -f "$dir/${FILES[$i]}" ]] || return 1
    [[ "$(stat -c %s "$dir/${FILES[$i]}")" == "${SIZES[$i]}" ]] || return 1
  done
}

uncompressed() {
  local dir="$1" i
  for i in "${!FILES[@]}"; do
    local raw="$dir/${FILES[$i]%.gz}"
    [[ -f "$raw" && "$(stat -c %s "$raw")" == "${RAW_SIZES[$i]}" ]] || return 1
  done
}

decompress() {
  local f raw
  for f in "${FILES[@]}"; do
    raw="$DEST/${f%.gz}"
    gzip -dc "$DEST/$f" > "$raw.part" && mv "$raw.part" "$raw"
  done
  uncompressed "$DEST" || { echo "[fetch_fashion_mnist] FAILED: could not" \
    "decompress the IDX files in $DEST" >&2; exit 1; }
}

if complete "$DEST"; then
  uncompressed "$DEST" || decompress
  echo "[fetch_fashion_mnist] already in $DEST"
  exit 0
fi
mkdir -p "$DEST"
SRC="$SYSTEM_DIR"
if ! complete "$SRC"; then
  TMP="$(mktemp -d)"
  trap 'rm -rf "$TMP"' EXIT
  echo "[fetch_fashion_mnist] apt-get download dataset-fashion-mnist -> $TMP"
  dl() { (cd "$TMP" && apt-get download dataset-fashion-mnist >/dev/null 2>&1); }
  # a fresh machine may have empty package lists: refresh them if we may
  if ! dl && [[ "$(id -u)" == 0 ]]; then
    echo "[fetch_fashion_mnist] apt-get update (package lists missing?)"
    apt-get update -qq >/dev/null 2>&1 || true
  fi
  if ! ls "$TMP"/dataset-fashion-mnist_*.deb >/dev/null 2>&1 && ! dl; then
    echo "[fetch_fashion_mnist] FAILED: 'apt-get download dataset-fashion-mnist'" \
         "did not work (no Debian mirror? run 'apt-get update' as root)," \
         "and $SYSTEM_DIR is not installed" >&2
    exit 1
  fi
  dpkg -x "$TMP"/dataset-fashion-mnist_*.deb "$TMP/x"
  SRC="$TMP/x$SYSTEM_DIR"
fi
for f in "${FILES[@]}"; do
  cp "$SRC/$f" "$DEST/$f.part" && mv "$DEST/$f.part" "$DEST/$f"
done
complete "$DEST" || { echo "[fetch_fashion_mnist] FAILED: incomplete files in $DEST" >&2; exit 1; }
decompress
echo "[fetch_fashion_mnist] Fashion-MNIST in $DEST"

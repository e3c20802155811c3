#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv/ from scratch.
#
# Idempotent: a second run with an unchanged stack returns in seconds (stamp file).
# The full mmcv 2.1.0 (with compiled ops, needed by mmseg/mmdet) is built from source
# once per machine and kept in a per-user cache keyed by Python and torch versions:
#   ${MMSIM_WHEEL_CACHE:-~/.cache/mmsiameseim/wheels}/cp<py>-torch<ver>/
# Every step names itself on failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-$ROOT/.venv}"
TORCH_VER="2.14.1"
TORCHVISION_VER="0.29.1"
MMCV_VER="2.1.0"
STACK=(
  "mmengine==0.10.7" "mmpretrain==1.2.0" "mmsegmentation==1.2.2" "mmdet==3.3.0"
  "ftfy" "regex" "pytest" "pytest-xdist" "tensorboard" "scikit-image" "scikit-learn"
)
# openmim pins old setuptools/requests/rich: install it without its pins, plus what it needs.
MIM_DEPS=("click" "colorama" "model-index" "pandas" "requests" "rich" "tabulate")

step() { STEP="$1"; echo "[setup_env] $1"; }
trap 'echo "[setup_env] FAILED at step: ${STEP:-start}" >&2' ERR

STAMP_SRC="$(cat "$ROOT/tools/setup_env.sh" "$ROOT/pyproject.toml" 2>/dev/null | sha256sum | cut -c1-16)"
STAMP="$VENV/.mmsiameseim-stamp"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_SRC" && -x "$VENV/bin/python" ]]; then
  step "venv up to date ($VENV)"
  exit 0
fi

step "create venv at $VENV"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q)

step "build tools (setuptools<81 keeps pkg_resources for mmcv's setup.py)"
"${PIP[@]}" "setuptools<81" wheel ninja

step "torch==$TORCH_VER torchvision==$TORCHVISION_VER"
# torch pulls in the newest setuptools: keep the <81 pin in the same resolve.
"${PIP[@]}" "torch==$TORCH_VER" "torchvision==$TORCHVISION_VER" "numpy" "setuptools<81"
"$PY" -c "import pkg_resources" 2>/dev/null || { echo "[setup_env] pkg_resources missing (setuptools>=81?)" >&2; exit 1; }

PYTAG="cp$("$PY" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')"
CACHE="${MMSIM_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsiameseim/wheels}/$PYTAG-torch$TORCH_VER"
mkdir -p "$CACHE"
MMCV_WHL="$(ls "$CACHE"/mmcv-"$MMCV_VER"-*.whl 2>/dev/null | head -n1 || true)"
if [[ -z "$MMCV_WHL" ]]; then
  step "build mmcv==$MMCV_VER with ops (15-20 min on 2 cores, once per machine)"
  BUILD="$(mktemp -d)"
  "$PY" -m pip download --disable-pip-version-check -q --no-deps --no-build-isolation --no-binary :all: \
    "mmcv==$MMCV_VER" -d "$BUILD"
  tar -xzf "$BUILD"/mmcv-"$MMCV_VER".tar.gz -C "$BUILD"
  # torch >= 2.10 headers require C++20; mmcv 2.1.0 hard-codes -std=c++17.
  sed -i 's/-std=c++17/-std=c++20/g' "$BUILD/mmcv-$MMCV_VER/setup.py"
  (cd "$BUILD/mmcv-$MMCV_VER" && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
    "$PY" -m pip wheel --disable-pip-version-check --no-build-isolation --no-deps . -w "$BUILD/dist")
  step "check the mmcv wheel holds compiled ops (mmcv/_ext*.so)"
  BUILT="$(ls "$BUILD"/dist/mmcv-"$MMCV_VER"-*.whl)"
  # (a python check, not `zipfile -l | grep -q`: grep's early exit breaks
  # the pipe and pipefail then reports a failure)
  if ! "$PY" - "$BUILT" <<'PYEOF'
import re, sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
sys.exit(0 if any(re.match(r'mmcv/_ext.*\.so$', n) for n in names) else 1)
PYEOF
  then
    echo "[setup_env] the mmcv wheel $BUILT has no mmcv/_ext*.so: torch was not visible to the build" >&2
    exit 1
  fi
  cp "$BUILT" "$CACHE/"
  MMCV_WHL="$CACHE/$(basename "$BUILT")"
  rm -rf "$BUILD"
else
  step "reuse cached mmcv wheel $MMCV_WHL"
fi

step "install mmcv wheel"
"${PIP[@]}" --no-deps "$MMCV_WHL"
step "install the OpenMMLab stack"
"${PIP[@]}" "mmcv==$MMCV_VER" "${STACK[@]}" "${MIM_DEPS[@]}" "setuptools<81"
"${PIP[@]}" --no-deps "openmim==0.3.9"
# LVIS API for mmdet's LVIS dataset and metric. Its pins (opencv-python,
# Cython, ...) are already satisfied or unused at run time; its np.float
# call under NumPy 2 is handled by NumPy2LVISMetric (mmsiameseim.downstream.vitdet).
"${PIP[@]}" --no-deps "lvis==0.5.3"
step "install mmsiameseim (editable; the repository root on the path)"
# compat mode: a .pth file puts the repository root on sys.path, so the
# study bench (`projects.study_bench`) is importable by name from the tools
# and the tests, as in an OpenMMLab source checkout.
"${PIP[@]}" --no-deps --no-build-isolation -e "$ROOT" \
  --config-settings editable_mode=compat

step "verify imports (mmcv.ops, mmseg.models, mmdet.models, mmsiameseim)"
"$PY" - <<'PYEOF'
import mmcv, mmcv.ops  # noqa: F401  compiled ops present
import mmseg.models, mmdet.models  # noqa: F401
import mmsiameseim  # noqa: F401
import projects.study_bench  # noqa: F401  the repository root is on the path
print('[setup_env] ok: mmcv', mmcv.__version__)
PYEOF
echo "$STAMP_SRC" > "$STAMP"
step "done: activate with 'source $VENV/bin/activate'"

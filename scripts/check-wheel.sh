#!/usr/bin/env bash
# The package as users install it (make wheel-check; CI runs it): build the sdist and, from it, the
# wheel; install the wheel, not editable, with every extra, into a fresh virtual environment
# outside the checkout; then run the installed command from a directory that is not the checkout:
# --version, models, a one-epoch training on a slice, predict, and each extra's import.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
BUILD_PYTHON=${BUILD_PYTHON:-$ROOT/.venv/bin/python}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/classicnets-wheel.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

step() { echo "wheel-check: $*"; }

step "building the sdist and the wheel"
"$BUILD_PYTHON" -m build --outdir "$WORK/dist" "$ROOT" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
wheel=$(ls "$WORK"/dist/*.whl)
ls "$WORK"/dist/*.tar.gz >/dev/null
version=$("$BUILD_PYTHON" -c 'import sys, re; print(re.match(r"classicnets-([^-]+)-", sys.argv[1].rsplit("/", 1)[1]).group(1))' "$wheel")
step "$(basename "$wheel")"

step "installing it with its extras into a fresh environment"
"$ROOT/scripts/ensure-venv.sh" "$PYTHON" "$WORK/venv"
BIN=$WORK/venv/bin
"$BIN/python" -m pip install -q --disable-pip-version-check $TORCH_SPEC 2>&1 | grep -v "^WARNING: Location" || true
"$BIN/python" -m pip install -q --disable-pip-version-check "$wheel[onnx,explain,demo,notebooks,tensorboard]" 2>&1 \
    | grep -v "^WARNING: Location" || true
"$BIN/python" -m pip check >/dev/null

cd "$WORK"   # nothing of the checkout on sys.path from here on
installed=$("$BIN/python" -c 'import classicnets; print(classicnets.__file__)')
case "$installed" in
    "$WORK/venv/"*) ;;
    *) echo "wheel-check: classicnets imported from $installed, not from the installed wheel" >&2; exit 1 ;;
esac
[ -f "$(dirname "$installed")/py.typed" ] || { echo "wheel-check: py.typed is not in the wheel" >&2; exit 1; }

step "classicnets --version"
[ "$("$BIN/classicnets" --version)" = "classicnets $version" ]
step "classicnets models"
"$BIN/classicnets" models --json | "$BIN/python" -c 'import json, sys; rows = json.load(sys.stdin); assert len(rows) == 14, rows'
step "classicnets train lenet --recipe fast --epochs 1 --limit 2000"
"$BIN/classicnets" train lenet --recipe fast --epochs 1 --limit 2000 --out run --quiet
"$BIN/python" - <<'PY'
# a picture of the test set, as a user would give one
from PIL import Image
from classicnets.data import load_dataset
Image.fromarray(load_dataset("fashion-mnist").test.images[0, 0].numpy()).save("boot.png")
PY
step "classicnets predict run boot.png"
"$BIN/classicnets" predict run boot.png --json | "$BIN/python" -c '
import json, sys
out = json.load(sys.stdin)
best = out[0]["top"][0]
print("  ", out[0]["path"], best["class"], round(best["probability"], 2))
assert out[0]["error"] is None and 0 < best["probability"] <= 1, out'
step "the extras import, and the package data is there"
"$BIN/python" -c 'import onnxruntime, captum, gradio, papermill, tensorboard'
"$BIN/python" -c 'from classicnets.data.airfoil import load_airfoil; assert len(load_airfoil()[0]) == 1500'
step "passed"

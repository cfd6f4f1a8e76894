#!/usr/bin/env bash
# The book's own code in its own environment, for benchmarks/compare.py (never needed in CI):
# torch 2.14.1 + torchvision 0.29.1 (from local disk on our machines), d2l 1.0.3 without its
# pinned dependencies (they would downgrade torch), and the few modules d2l imports.
# Fashion-MNIST is linked where torchvision looks (ROOT/FashionMNIST/raw) so nothing is downloaded.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${BOOK_VENV:-$here/.venv}"
python="${PYTHON:-python3}"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
"$venv/bin/python" -m pip install -q --no-deps "d2l==1.0.3"
"$venv/bin/python" -m pip install -q numpy matplotlib matplotlib-inline pandas requests ipython scipy
"$venv/bin/python" -c "from d2l import torch as d2l; print('d2l', d2l.__name__, 'ok')"
echo "book environment ready: $venv"

#!/usr/bin/env bash
# ensure-venv.sh PYTHON DIR: create the virtual environment DIR with PYTHON.
# Debian and Ubuntu ship venv's ensurepip in a separate package (python3-venv, or python3.X-venv):
# without it `python3 -m venv` fails half-way and leaves a directory with no pip. This checks
# first, installs the package the way the data set is installed (root or sudo), and otherwise
# says in one line what to install.
set -euo pipefail
PYTHON=$1
DIR=$2
. "$(dirname "$0")/as-root.sh"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "classicnets needs Python 3.10 or newer: '$PYTHON' is not found (make PYTHON=/path/to/python3)" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "classicnets needs Python 3.10 or newer; $PYTHON is $("$PYTHON" -V 2>&1) (make PYTHON=python3.12)" >&2
    exit 1
fi
has_venv() { "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; }
if ! has_venv; then
    version=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    if command -v apt-get >/dev/null 2>&1 && may_be_root; then
        echo "Installing python3-venv ($PYTHON has no venv/ensurepip)..."
        apt_install python3-venv || apt_install "python$version-venv"
    fi
    if ! has_venv; then
        echo "$PYTHON has no venv/ensurepip module: install it (Debian/Ubuntu, as root: 'apt-get install" \
             "python3-venv' or 'python$version-venv'), or choose another interpreter (make PYTHON=...)" >&2
        exit 1
    fi
fi
"$PYTHON" -m venv "$DIR"

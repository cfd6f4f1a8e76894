#!/usr/bin/env bash
# Make sure Fashion-MNIST can be found; install the Debian package dataset-fashion-mnist if not.
# The package manager is only touched when no copy exists anywhere classicnets looks.
set -euo pipefail
PYTHON=${PYTHON:-python3}
. "$(dirname "$0")/as-root.sh"

found() {
    "$PYTHON" -c 'from classicnets.data import locate_dataset as f; print(f("fashion-mnist", download=False).path)' 2>/dev/null
}

if where=$(found); then
    echo "Fashion-MNIST: $where"
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && may_be_root; then
    echo "Installing Fashion-MNIST (Debian package dataset-fashion-mnist, 30 MB)..."
    apt_install dataset-fashion-mnist
elif command -v apt-get >/dev/null 2>&1 && ! "$PYTHON" -m classicnets data >/dev/null 2>&1; then
    echo "Fashion-MNIST is missing, installing its Debian package needs root and the official mirror" \
         "cannot be reached: set CLASSICNETS_DATA to a directory holding its four .gz files" \
         "(or ask an administrator for 'apt-get install dataset-fashion-mnist')" >&2
    exit 1
else
    # No Debian package manager: classicnets downloads from the official mirror (one line if it cannot).
    "$PYTHON" -m classicnets data >/dev/null
fi
where=$(found) || { echo "Fashion-MNIST still not found after installing it" >&2; exit 1; }
echo "Fashion-MNIST: $where"

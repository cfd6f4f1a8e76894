#!/usr/bin/env bash
# Make sure Fashion-MNIST can be found; install the Debian package dataset-fashion-mnist if not.
# The package manager is only touched when no copy exists anywhere classicnets looks.
set -euo pipefail
PYTHON=${PYTHON:-python3}

found() {
    "$PYTHON" -c 'from classicnets.data import locate_dataset as f; print(f("fashion-mnist", download=False).path)' 2>/dev/null
}

if where=$(found); then
    echo "Fashion-MNIST: $where"
    exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "Fashion-MNIST is missing and installing it needs root: run as root" \
             "'apt-get install -y dataset-fashion-mnist', or set CLASSICNETS_DATA to a directory" \
             "holding the four .gz files" >&2
        exit 1
    fi
    echo "Installing Fashion-MNIST (Debian package dataset-fashion-mnist, 30 MB)..."
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
else
    # No Debian package manager: let classicnets download from the official mirror.
    "$PYTHON" -m classicnets data >/dev/null
fi
where=$(found) || { echo "Fashion-MNIST still not found after installing it" >&2; exit 1; }
echo "Fashion-MNIST: $where"

#!/usr/bin/env bash
# Make sure a headless Chromium is there for the report's and the demo's browser tests: Debian's
# chromium package, installed when missing and we may (root or sudo). Without it those tests skip,
# saying why; nothing else needs a browser.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
if command -v chromium >/dev/null 2>&1; then
    echo "Chromium: $(command -v chromium)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "Chromium: not found and no apt-get here; the browser tests will skip" >&2
    exit 0
fi
if ! may_be_root; then
    echo "Chromium: not found, and installing it needs root ('apt-get install -y chromium'); the browser tests will skip" >&2
    exit 0
fi
echo "Installing Chromium (Debian package chromium) for the browser tests..."
apt_install chromium
echo "Chromium: $(command -v chromium)"

# Sourced by the set-up scripts: how this user may run the package manager.
# as_root CMD... runs CMD as root (directly, or through sudo without a password prompt) and
# returns 3 without running anything when neither is possible.
may_be_root() {
    [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif may_be_root; then
        sudo "$@"
    else
        return 3
    fi
}

apt_install() {  # apt_install PACKAGE...: quietly, non-interactively
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

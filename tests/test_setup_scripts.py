"""Set-up on machines unlike ours, reproduced without containers: a Debian python3 without
venv/ensurepip, a user who is not root (and has no sudo), a package manager that must not run.

Each case runs the real script (or `make`) with PATH holding only a few shims: `id` says which
user we are, `apt-get` records what it was asked and succeeds or fails as the case needs, and
a `python3` whose `import ensurepip` fails as on a Debian system without python3-venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def _shim(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.fixture
def machine(tmp_path):
    """A PATH of shims; `machine(uid=..., apt_ok=...)` returns the environment to run under."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "make", "cat", "env"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    log = tmp_path / "apt-get.log"
    blocked = tmp_path / "blocked"  # an ensurepip that is not there, as Debian ships python3 without it
    (blocked / "ensurepip").mkdir(parents=True)
    (blocked / "ensurepip" / "__init__.py").write_text("raise ImportError('No module named ensurepip')\n")
    python = _shim(bin_dir / "python3", f'PYTHONPATH={blocked} exec {sys.executable} "$@"\n')

    def make_env(uid: int, apt_ok: bool = True) -> dict[str, str]:
        _shim(bin_dir / "id", f"echo {uid}\n")
        _shim(bin_dir / "apt-get", f'echo "$@" >> {log}\nexit {0 if apt_ok else 100}\n')
        return {"PATH": str(bin_dir), "HOME": str(tmp_path), "LANG": "C.UTF-8"}

    make_env.python = python
    make_env.apt_calls = lambda: log.read_text().splitlines() if log.exists() else []
    return make_env


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_a_python_without_venv_and_no_root_is_one_line_saying_what_to_install(machine, tmp_path):
    env = machine(uid=1000)
    done = _run([str(SCRIPTS / "ensure-venv.sh"), str(machine.python), str(tmp_path / "venv")], env)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "has no venv/ensurepip module" in lines[0], done.stderr
    assert "apt-get install python3-venv" in lines[0] and "make PYTHON=" in lines[0]
    assert not (tmp_path / "venv").exists() and machine.apt_calls() == []


def test_as_root_make_installs_python3_venv_the_way_it_installs_the_data(machine, tmp_path):
    """Root (or sudo): the package manager is asked for python3-venv; here the shim still lacks
    ensurepip afterwards, so the one line follows, through `make` itself."""
    env = machine(uid=0)
    done = _run(["make", "-s", f"PYTHON={machine.python}", f"VENV={tmp_path / 'venv'}", "setup"], env)
    assert done.returncode != 0
    assert any(call.startswith("install -y -qq python3-venv") for call in machine.apt_calls()), (
        machine.apt_calls()
    )
    assert "Installing python3-venv" in done.stdout
    assert "has no venv/ensurepip module" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "venv").exists()


def test_missing_data_without_root_is_one_line_about_classicnets_data(machine, tmp_path):
    """Not found anywhere, no root and no sudo, and the official mirror unreachable (the shim's
    `classicnets data` fails as an offline one does): one line naming CLASSICNETS_DATA."""
    env = machine(uid=1000)
    offline = _shim(tmp_path / "offline-python", "exit 1\n")
    done = _run([str(SCRIPTS / "ensure-data.sh")], {**env, "PYTHON": str(offline)})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "set CLASSICNETS_DATA to a directory holding its four .gz files" in lines[0], (
        lines
    )
    assert machine.apt_calls() == []


def test_as_root_missing_data_installs_the_debian_package(machine, tmp_path):
    env = machine(uid=0)
    offline = _shim(tmp_path / "offline-python", "exit 1\n")
    done = _run([str(SCRIPTS / "ensure-data.sh")], {**env, "PYTHON": str(offline)})
    assert any(call.startswith("install -y -qq dataset-fashion-mnist") for call in machine.apt_calls())
    # the shim still finds nothing afterwards: the script says so instead of going on
    assert done.returncode == 1 and "still not found" in done.stderr


def test_data_found_through_classicnets_data_needs_no_root(machine, real_data_dir):
    env = {**machine(uid=1000), "CLASSICNETS_DATA": str(real_data_dir), "PYTHON": sys.executable}
    done = _run([str(SCRIPTS / "ensure-data.sh")], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Fashion-MNIST: ") and machine.apt_calls() == []


def test_without_root_the_browser_tests_are_told_to_skip(machine):
    env = machine(uid=1000)
    done = _run([str(SCRIPTS / "ensure-browser.sh")], env)
    assert done.returncode == 0 and "installing it needs root" in done.stderr
    assert machine.apt_calls() == []

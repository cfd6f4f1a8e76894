"""Writing files so that a crash never leaves a half-written one: write to a temporary name
in the same directory, flush to disk, then rename over the destination (atomic on POSIX).
A write that fails (a full disk, a read-only directory) leaves the earlier file as it was and
is one `WriteError` naming the file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from classicnets.errors import ClassicnetsError

TMP_SUFFIX = ".tmp"


class WriteError(ClassicnetsError):
    """A file could not be written; the earlier version of it, if any, is intact."""

    def __init__(self, path: str | Path, reason: object) -> None:
        reason = getattr(reason, "strerror", None) or reason
        super().__init__(f"cannot write {path}: {reason}")


def cache_dir() -> Path:
    """classicnets' per-user cache ($XDG_CACHE_HOME/classicnets, else ~/.cache/classicnets)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "classicnets"


def stale_temporaries(directory: str | Path) -> list[Path]:
    """The temporary files `atomic_path` leaves behind when its process is killed mid-write."""
    return sorted(Path(directory).glob(f".*{TMP_SUFFIX}"))


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed to `path`, on error removed.

    For writers that take a file name (matplotlib, safetensors).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise WriteError(path, exc) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except OSError as exc:
        raise WriteError(path, exc) from None
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")

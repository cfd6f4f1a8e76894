"""Writing files so that a crash never leaves a half-written one: write to a temporary name
in the same directory, flush to disk, then rename over the destination (atomic on POSIX).
A write that fails (a full disk, a read-only directory) leaves the earlier file as it was and
is one `WriteError` naming the file.

Only regular files are ever replaced: a destination that is a device, a FIFO or a directory
(`--confusion /dev/null` as root) is refused before anything is written, and a symbolic link
at the destination is replaced as a link, so the file it points to is never touched. Files a
run appends to, or locks, are opened without following links (`open_no_follow`).

Temporaries in flight are known to this module, so that a command stopped by a signal (which
ends the process at once, see `cli.main`) removes them first (`remove_temporaries`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from classicnets.errors import ClassicnetsError

TMP_SUFFIX = ".tmp"
_in_flight: set[Path] = set()  # temporaries this process is writing now


class WriteError(ClassicnetsError):
    """A file could not be written; the earlier version of it, if any, is intact."""

    def __init__(self, path: str | Path, reason: object) -> None:
        reason = getattr(reason, "strerror", None) or reason
        super().__init__(f"cannot write {path}: {reason}")


def cache_dir() -> Path:
    """classicnets' per-user cache ($XDG_CACHE_HOME/classicnets, else ~/.cache/classicnets)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "classicnets"


def file_kind(mode: int) -> str:
    """'a FIFO', 'a directory', ... for a file's st_mode: what a message calls a file that is not a regular one."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def check_replaceable(path: str | Path) -> None:
    """Refuse a destination that exists and is neither a regular file nor a symbolic link."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise WriteError(path, exc) from None
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise WriteError(
            path,
            f"it is {file_kind(mode)}, not a regular file; classicnets replaces only "
            "regular files: give another file name",
        )


class NotARegularFile(ClassicnetsError):
    """A path that names a FIFO, a device, a directory or a socket where a file was expected."""

    def __init__(self, path: str | Path, kind: str) -> None:
        self.kind = kind
        super().__init__(f"{path} is {kind}, not a regular file")


def open_regular(
    path: str | Path, flags: int = os.O_RDONLY, mode: int = 0o644, *, follow_links: bool = True
) -> int:
    """os.open for regular files only, checked on the open descriptor (one inode: no race with
    a rename). O_NONBLOCK makes a FIFO open at once, to be refused, instead of blocking for
    ever. Raises NotARegularFile, or the OSError of the open (ELOOP for a link when not
    `follow_links`)."""
    no_follow = 0 if follow_links else os.O_NOFOLLOW
    fd = os.open(path, flags | no_follow | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), mode)
    kind = os.fstat(fd).st_mode
    if not stat.S_ISREG(kind):
        os.close(fd)
        raise NotARegularFile(path, file_kind(kind))
    return fd


def open_no_follow(path: str | Path, flags: int, mode: int = 0o644) -> int:
    """`open_regular` that refuses a symbolic link, each failure a WriteError: the run's own
    files are never a way to write somewhere else."""
    try:
        return open_regular(path, flags, mode, follow_links=False)
    except NotARegularFile as exc:
        raise WriteError(path, f"it is {exc.kind}, not a regular file") from None
    except OSError as exc:
        if os.path.islink(path):
            raise WriteError(
                path,
                "it is a symbolic link; classicnets does not follow links in a run directory: "
                "remove the link",
            ) from None
        raise WriteError(path, exc) from None


def stale_temporaries(directory: str | Path, names: Iterable[str]) -> list[Path]:
    """The temporary files `atomic_path` leaves behind for the files `names` when its process
    is killed mid-write (`.NAME.XXXXXXXX.tmp`); a user's own `.notes.tmp` is not one."""
    directory = Path(directory)
    found = {
        p
        for name in names
        for p in directory.glob(f".{name}.*{TMP_SUFFIX}")
        if p.is_file() and not p.is_symlink()
    }
    return sorted(found)


def remove_temporaries() -> None:
    """Remove every temporary this process is writing (a signal is ending it)."""
    for tmp in list(_in_flight):
        with contextlib.suppress(OSError):
            tmp.unlink()
    _in_flight.clear()


@contextlib.contextmanager
def temporary(path: Path) -> Iterator[Path]:
    """`path` as a temporary of this process: removed when the block ends, however it ends,
    and by `remove_temporaries` when a signal ends the process first."""
    _in_flight.add(path)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        _in_flight.discard(path)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed to `path`, on error removed.

    For writers that take a file name (matplotlib, safetensors).
    """
    path = Path(path)
    check_replaceable(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise WriteError(path, exc) from None
    with temporary(Path(tmp)) as tmp_path, _write_error(path):
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        check_replaceable(path)  # again: something may have appeared there while we wrote
        os.replace(tmp_path, path)


@contextlib.contextmanager
def _write_error(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise WriteError(path, exc) from None


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")

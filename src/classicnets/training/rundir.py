"""A run directory and who may write it.

One process writes a run directory at a time: `claim` takes an exclusive lock on its `.lock`
file for as long as the run lasts, and the operating system releases it when the process ends,
however it ends (kill -9 included), so a lock never outlives its holder. A second training,
resume or speedrun into a directory in use is refused with the holder's process id.

What a run directory holds, and so what a new run would replace, is decided here too: weights
(`last.safetensors`, `model.safetensors`) are hours of work and are never replaced without
`--overwrite`; a `config.json` alone (a run killed before its first checkpoint) is nothing to
lose.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from classicnets.errors import ClassicnetsError
from classicnets.fileio import WriteError, open_no_follow, stale_temporaries, write_text_atomic
from classicnets.training.config import TrainConfig
from classicnets.validation import mapping, parse_json

LOCK_FILE = ".lock"
# The run directory's layout: every name in it is declared here and read from here.
CONFIG = "config.json"  # the TrainConfig, the environment and the command line
METRICS = "metrics.jsonl"  # one row per finished epoch
LAST = "last.safetensors"  # weights, optimizer and RNG state, position: what `resume` continues from
FINAL = "model.safetensors"  # the weights at the run's end (its last epoch, or where early stopping ended it)
BEST = "best.safetensors"  # with --keep-best: the weights of the epoch with the best validation accuracy
SKIPPED = "skipped.txt"  # a folder's files that are not pictures it could read, one per line with why
CURVES = "curves.png"  # the book's Animator picture, redrawn as the run goes
CONFUSION = "confusion.png"  # written by `evaluate`
MISTAKES = "mistakes.png"  # written by `evaluate --mistakes N`
TENSORBOARD = "tensorboard"  # with --tensorboard: the event files (a directory)
LR_FIND = "lr_find.png"  # `lr-find --out DIR`: the learning-rate range test
# What a fresh run writes; replaced when a run starts over in the same directory.
RUN_FILES = (CONFIG, METRICS, LAST, FINAL, BEST, SKIPPED, CURVES, CONFUSION, MISTAKES)

_held: dict[Path, int] = {}  # directories this process holds -> nesting depth (resume claims, then run)


class RunInUse(ClassicnetsError):
    """Another process is writing the run directory."""


def check_not_a_file(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise ClassicnetsError(f"{run_dir} is a file, not a run directory: choose another --out")


def has_weights(run_dir: Path) -> bool:
    return (run_dir / LAST).is_file() or (run_dir / FINAL).is_file()


def foreign_entries(run_dir: Path) -> list[str]:
    """What `run_dir` holds that shows it is not a classicnets run: every entry, when it has
    neither weights nor a config.json of ours (the lock and our own temporaries aside)."""
    if not run_dir.is_dir() or has_weights(run_dir):
        return []
    try:
        if run_config(run_dir) is not None:
            return []
    except ClassicnetsError:
        pass  # a config.json that is not ours: the user's own file
    ours = {LOCK_FILE, *(p.name for p in stale_temporaries(run_dir, RUN_FILES))}
    return sorted(p.name for p in run_dir.iterdir() if p.name not in ours)


def refuse_to_replace(run_dir: Path) -> None:
    """The error for a fresh run into a directory whose trained weights it would replace, or
    that holds files of someone else's (without --overwrite)."""
    check_not_a_file(run_dir)
    if has_weights(run_dir):
        raise ClassicnetsError(
            f"{run_dir} already holds a run: continue it with --resume {run_dir}, choose another --out, "
            "or pass --overwrite to replace it"
        )
    foreign = foreign_entries(run_dir)
    if foreign:
        shown = ", ".join(foreign[:4]) + (f" and {len(foreign) - 4} more" if len(foreign) > 4 else "")
        raise ClassicnetsError(
            f"{run_dir} is not a classicnets run but holds files ({shown}): choose another --out, or pass "
            f"--overwrite to train there anyway (only the run's own files, {', '.join(RUN_FILES)}, are replaced)"
        )


def remove_run_files(run_dir: Path) -> None:
    """Remove what a fresh run replaces: the files named in RUN_FILES, and nothing else."""
    for name in RUN_FILES:
        path = run_dir / name
        if path.is_symlink() or path.is_file():
            path.unlink()


@contextlib.contextmanager
def claim(run_dir: Path) -> Iterator[bool]:
    """Create (if needed) and lock `run_dir` for this process; yields whether this call created
    it. If the body fails and this call created the directory, and no checkpoint was written
    into it, the directory is removed: a failed start leaves nothing behind. Stale temporary
    files of killed writers are removed once the lock is held."""
    run_dir = Path(run_dir)
    check_not_a_file(run_dir)
    key = run_dir.resolve()
    if key in _held:
        _held[key] += 1
        try:
            yield False
        finally:
            _held[key] -= 1
        return
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        check_not_a_file(run_dir)
        raise
    except OSError as exc:
        raise WriteError(run_dir, exc) from None
    fd = None
    try:
        fd = _lock(run_dir)
        _held[key] = 1
        for stale in stale_temporaries(run_dir, RUN_FILES):
            stale.unlink(missing_ok=True)
        yield created
    except BaseException:
        # Only a directory this call made, and only while it holds no weights: a failed start
        # (a full disk, a bad network) leaves nothing behind, and never touches what was there.
        if created and not has_weights(run_dir):
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    finally:
        if fd is not None:
            del _held[key]
            os.close(fd)  # releases the lock


def _lock(run_dir: Path) -> int:
    path = run_dir / LOCK_FILE
    fd = open_no_follow(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise RunInUse(
            f"{run_dir} is in use by another classicnets process (pid {holder}): wait for it to end, "
            "or choose another --out"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


# --- metrics.jsonl: one JSON row per finished epoch ---------------------------------------------
# Rows are appended before the epoch's checkpoint is written, and the checkpoint records how
# many rows it covers; a resume keeps exactly those. So after a kill at any instant the file
# holds every row the checkpoint knows of, and a row written after it (or torn by the kill) is
# dropped and its epoch trained again, to the same values.

_ROW_NUMBERS = ("train_loss", "train_acc", "test_acc", "examples_per_sec", "seconds")
_OPTIONAL_NUMBERS = ("val_acc", "val_loss")  # with a validation set (--val-size)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of a run's metrics.jsonl, each checked; a last line torn by a kill is left out."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    complete = lines[:-1]  # the text after the last newline is a row whose write did not finish
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(complete, 1):
        if not line.strip():
            continue
        try:
            row = parse_json(line, "the row")
        except ClassicnetsError as exc:
            raise ClassicnetsError(f"{path}, line {number} is damaged ({exc})") from None
        problem = _row_problem(row, len(rows) + 1)
        if problem:
            raise ClassicnetsError(f"{path}, line {number}: {problem}")
        rows.append(row)
    return rows


def _row_problem(row: object, epoch: int) -> str | None:
    if not isinstance(row, dict):
        return "not a JSON object"
    if row.get("epoch") != epoch:
        return f"epoch {row.get('epoch')!r} where epoch {epoch} was expected"
    for key in (*_ROW_NUMBERS, *(k for k in _OPTIONAL_NUMBERS if k in row)):
        value = row.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{key} is {value!r}, not a number" if key in row else f"it lacks {key}"
    return None


def append_metrics(run_dir: Path, row: dict[str, Any]) -> None:
    """Add one row and flush it to disk (before the checkpoint that counts it is written)."""
    path = Path(run_dir) / METRICS
    fd = open_no_follow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)  # a link swapped in is refused
    try:
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise WriteError(path, exc) from None


def write_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Replace metrics.jsonl with `rows`, atomically."""
    write_text_atomic(Path(run_dir) / METRICS, "".join(json.dumps(row) + "\n" for row in rows))


def first_reaching(curve: list[dict[str, Any]], accuracy: float, clock: str = "wall_seconds") -> float | None:
    """The `clock` value of the first row of `curve` (per-epoch rows, in order) whose test
    accuracy is at least `accuracy`; None if none gets there."""
    return next((row[clock] for row in curve if row["test_acc"] >= accuracy), None)


def examples_per_sec(rows: list[dict[str, Any]]) -> float:
    """Training examples per second of optimisation over the epochs of `rows` (evaluation aside)."""
    seconds = sum(row["train_seconds"] for row in rows)
    return sum(row["train_examples"] for row in rows) / seconds if seconds else 0.0


def run_clock(rows: list[dict[str, Any]]) -> list[float]:
    """The seconds into the run at the end of each row's epoch (its epochs' wall time, evaluation
    included, summed over every invocation: a resumed run's restart costs are not in it)."""
    return list(itertools.accumulate(row["seconds"] for row in rows))


def run_environment(run_dir: Path) -> dict[str, Any]:
    """Where the run trained, as its config.json recorded it (device, precision, versions, date):
    plain values only; {} for a run that recorded none."""
    path = Path(run_dir) / CONFIG
    try:
        document = mapping(parse_json(path.read_bytes(), str(path)), str(path))
        environment = mapping(document.get("environment", {}), "its environment")
    except (OSError, ClassicnetsError):
        return {}
    return {
        k: v for k, v in environment.items() if isinstance(v, (str, int, float, bool)) and len(str(v)) <= 200
    }


def run_config(run_dir: Path) -> TrainConfig | None:
    """The run's configuration from its config.json, checked; None if it has none."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        return None
    try:
        document = mapping(parse_json(path.read_bytes(), str(path)), str(path))
        return TrainConfig.from_dict(mapping(document.get("config"), "its config")).validate()
    except (OSError, TypeError, ClassicnetsError) as exc:
        raise ClassicnetsError(f"{path} is damaged ({exc}); start a new run") from None

"""What every command line of classicnets follows (`classicnets`, and the PyTorch-free
`python -m classicnets.numpy_runtime`). The error policy: a problem the user can fix is one line on
stderr and status 1, Ctrl-C or SIGTERM is status 130 at once (temporaries in flight removed
first), a reader that stops early (`| head`) is 141, and anything else is a bug that keeps its
traceback. And `--json` of many results as one list streamed item by item (`JsonList`). No
PyTorch here."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, TextIO

from classicnets.errors import ClassicnetsError
from classicnets.fileio import remove_temporaries


def exit_now(_signum: int, _frame: FrameType | None) -> None:
    # Every file is written atomically and the run lock dies with the process, so stopping at
    # once loses nothing once the temporaries in flight are gone; the training loop replaces
    # this while it trains, to save first.
    remove_temporaries()
    os._exit(130)


def quiet_broken_pipe() -> int:
    """Point stdout at nothing (Python would complain again while flushing it at exit): 141."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141  # 128 + SIGPIPE, as a shell reports it


def run_command(body: Callable[[], int], *, debug: bool = False) -> int:
    """`body()`'s status, with the policy above; with `debug` the user's errors keep their traceback."""
    previous = {sig: signal.signal(sig, exit_now) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return body()
    except ClassicnetsError as exc:
        if debug:
            raise
        print(f"classicnets: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        if debug:
            raise
        return quiet_broken_pipe()
    except OSError as exc:  # the environment, not a bug: a full disk, a missing permission
        if debug:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"classicnets: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class JsonList:
    """A JSON list written one item at a time: a pipe reads each result as it is made, and
    memory stays bounded however many there are."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.count = out, 0

    def add(self, item: Any) -> None:
        self.out.write(("\n  " if self.count == 0 else ",\n  ") + json.dumps(item))
        self.count += 1

    @classmethod
    @contextlib.contextmanager
    def open(cls, out: TextIO) -> Iterator[JsonList]:
        out.write("[")
        yield cls(out)
        out.write("\n]\n")

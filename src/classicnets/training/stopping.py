"""When a training run stops before its last epoch: a loss that diverged, or a user who asked
(Ctrl-C, SIGTERM)."""

from __future__ import annotations

import math
import signal
import threading
from dataclasses import dataclass
from types import FrameType
from typing import Any

from classicnets.errors import ClassicnetsError


class TrainingDiverged(ClassicnetsError):
    """The loss became NaN or infinite, or stayed far above where it started."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on a signal after saving a checkpoint at the current step."""


@dataclass
class LossWatch:
    """Watches the mean training loss over each stretch of batches between two checks (each
    check is one host synchronisation). A run has diverged when that loss is not finite, or
    when it stays above FACTOR times the first stretch's (at least FACTOR) for PATIENCE checks
    in a row: a loss of 1e21 is still finite, and without this the run goes on to the end."""

    FACTOR = 100.0
    PATIENCE = 3

    reference: float | None = None  # mean loss of the run's first stretch
    strikes: int = 0
    _sum: float = 0.0  # the epoch's loss sum and example count at the previous check
    _seen: int = 0

    def start_epoch(self, loss_sum: float = 0.0, seen: int = 0) -> None:
        self._sum, self._seen = loss_sum, seen

    def check(self, loss_sum: float, seen: int) -> str | None:
        """None while the run is healthy, else what went wrong (for `diverged`); `loss_sum` and
        `seen` are the epoch's so far (over every rank)."""
        total = float(loss_sum)
        if not math.isfinite(total):
            return f"the training loss became {total}"
        count = seen - self._seen
        if count <= 0:
            return None
        mean = (total - self._sum) / count
        self._sum, self._seen = total, seen
        if self.reference is None:
            self.reference = mean
            return None
        limit = self.FACTOR * max(self.reference, 1.0)
        self.strikes = self.strikes + 1 if mean > limit else 0
        if self.strikes >= self.PATIENCE:
            return (f"the training loss grew to {mean:.3g}, over {self.FACTOR:g} times its start "
                    f"({self.reference:.3g}), and stayed there for {self.PATIENCE} checks in a row")
        return None

    def state(self) -> dict[str, Any]:
        return {"reference": self.reference, "strikes": self.strikes}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> "LossWatch":
        state = state or {}
        return cls(reference=state.get("reference"), strikes=int(state.get("strikes", 0)))


def diverged(problem: str, where: str, lr: float, last_checkpoint: str | None) -> TrainingDiverged:
    saved = (f"the last checkpoint before it is {last_checkpoint}" if last_checkpoint
             else "no checkpoint was written before it")
    return TrainingDiverged(f"{problem} in {where}; {saved}. The learning rate ({lr:g}) is probably too high "
                            f"for this network: try --lr {lr / 10:g}")


class StopRequest:
    """While active, SIGINT and SIGTERM ask the training loop to stop at the end of the current
    step (it then saves a checkpoint and raises TrainingInterrupted) instead of interrupting it
    mid-step, where the weights may be half-updated. A second signal stops at once.

    Signal handlers can only be set from the main thread; elsewhere the request stays off and
    an interruption is Python's plain KeyboardInterrupt."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self._previous.items():
            if handler is not None:  # None: set outside Python, and cannot be put back from here
                signal.signal(sig, handler)
        self._previous = {}

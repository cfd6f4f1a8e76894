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
    check is one host synchronisation), against chance: `chance` is the loss of a network that
    guesses uniformly, ln(classes). A run has diverged when that loss is not finite, when it is
    over HOPELESS times chance at any check (a learning rate of 1e30 gives 1e31 from the first
    batch), or when it stays over FACTOR times chance for PATIENCE checks in a row: a loss of
    1e21 is still finite, and without this the run goes on to the end."""

    FACTOR = 100.0
    HOPELESS = 10_000.0
    PATIENCE = 3

    chance: float = math.log(10)
    strikes: int = 0
    _sum: float = 0.0  # the epoch's loss sum and example count at the previous check
    _seen: int = 0

    @classmethod
    def for_classes(cls, classes: int) -> LossWatch:
        return cls(chance=math.log(max(classes, 2)))

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
        scale = max(self.chance, 1.0)
        if mean > self.HOPELESS * scale:
            return (
                f"the training loss is {mean:.3g}, over {self.HOPELESS:g} times what guessing gives "
                f"({self.chance:.3g})"
            )
        self.strikes = self.strikes + 1 if mean > self.FACTOR * scale else 0
        if self.strikes >= self.PATIENCE:
            return (
                f"the training loss grew to {mean:.3g}, over {self.FACTOR:g} times what guessing gives "
                f"({self.chance:.3g}), and stayed there for {self.PATIENCE} checks in a row"
            )
        return None

    def state(self) -> dict[str, Any]:
        return {"strikes": self.strikes}

    @classmethod
    def from_state(cls, state: Any, fresh: LossWatch) -> LossWatch:
        """`fresh` (for this run's classes) with the strikes a checkpoint counted; anything
        unreadable (or a checkpoint from before strikes were saved) counts none."""
        strikes = state.get("strikes", 0) if isinstance(state, dict) else 0
        valid = isinstance(strikes, int) and not isinstance(strikes, bool) and 0 <= strikes < cls.PATIENCE
        return cls(chance=fresh.chance, strikes=strikes if valid else 0)


def diverged(problem: str, where: str, lr: float, last_checkpoint: str | None) -> TrainingDiverged:
    saved = (
        f"the last checkpoint before it is {last_checkpoint}"
        if last_checkpoint
        else "no checkpoint was written before it"
    )
    return TrainingDiverged(
        f"{problem} in {where}; {saved}. The learning rate ({lr:g}) is probably too high "
        f"for this network: try --lr {lr / 10:g}"
    )


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

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {
                sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)
            }
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self._previous.items():
            if handler is not None:  # None: set outside Python, and cannot be put back from here
                signal.signal(sig, handler)
        self._previous = {}

"""What watches a training run without being the training: the interface the loop calls, and
the state it shows its observers.

An observer is any object with some of these methods (each one optional; `Observer` has them
all, doing nothing, to subclass):

- `on_start(run)`: once, before the first step of this invocation (a resumed run included).
- `on_step(run)`: after every optimisation step. It must not synchronise with the device
  (`float(tensor)`): that would cost every step a round trip; `run.loss` is the epoch's mean
  loss at the last check, every few dozen steps.
- `measure(run) -> dict`: at each epoch's end, before its metrics row is written: numbers to add
  to the row (the BatchNorm lab's recalibrated accuracies, the speedrun's wall clock).
- `on_epoch_end(run, row)`: after the row and the epoch's checkpoint are written.
- `on_end(run, outcome)`: once, however the invocation ends (`outcome` is one of OUTCOMES).

Observers must leave the network, the optimizer and the global random-number state as they
found them, or a resumed run would no longer continue exactly. One may end the run after the
current epoch with `run.stop(reason)` (early stopping does). An observer that raises stops the
run: the loop saves a checkpoint at the current step first, so it can be resumed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from classicnets.errors import ClassicnetsError
from classicnets.training.config import TrainConfig
from classicnets.training.position import Position
from classicnets.training.step import TrainingParts

FINISHED, STOPPED, PAUSED, INTERRUPTED, FAILED = "finished", "stopped", "paused", "interrupted", "failed"
OUTCOMES = (
    FINISHED,
    STOPPED,
    PAUSED,
    INTERRUPTED,
    FAILED,
)  # all epochs; run.stop; stop_after_epoch; a signal; an error


class ObserverFailed(ClassicnetsError):
    """An observer raised: the run stopped, with a checkpoint to resume from."""


@dataclass
class RunState:
    """A run as its observers see it."""

    config: TrainConfig
    run_dir: Path
    parts: TrainingParts
    position: Position  # epochs finished, batches of the next, steps
    metrics: list[dict[str, Any]]  # the rows of every finished epoch (of earlier invocations too)
    log: Callable[[str], None]
    resumed: bool = False  # continued from a checkpoint
    loss: float | None = None  # the epoch's mean training loss at the last check
    stop_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # what observers share (the speedrun's start time)

    @property
    def model(self) -> nn.Module:
        return self.parts.model

    @property
    def main(self) -> bool:
        """Whether this process speaks and writes for the run (rank 0 under torchrun)."""
        return self.parts.world.main

    def stop(self, reason: str) -> None:
        """End the run after the current epoch, for `reason` (said, and kept in model.safetensors)."""
        self.stop_reason = self.stop_reason or reason


class Observer:
    """Subclass and override what you need; see the module's documentation."""

    def on_start(self, run: RunState) -> None: ...

    def on_step(self, run: RunState) -> None: ...

    def measure(self, run: RunState) -> dict[str, Any]:
        return {}

    def on_epoch_end(self, run: RunState, row: dict[str, Any]) -> None: ...

    def on_end(self, run: RunState, outcome: str) -> None: ...


class Throttle:
    """Due at most once per `interval` seconds (`__call__` resets it when due, and when forced)."""

    def __init__(self, interval: float, start_now: bool = False) -> None:
        self.interval, self.last = interval, time.monotonic() if start_now else -math.inf

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.interval

    def reset(self) -> None:
        self.last = time.monotonic()

    def __call__(self, force: bool = False) -> bool:
        if force or self.due():
            self.reset()
            return True
        return False

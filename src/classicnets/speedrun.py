"""`classicnets speedrun`: one command that trains from a cold start (data loading included)
and reports the wall time and the test accuracy, like airbench's single script for CIFAR-10;
and the wall time at which each test-accuracy threshold was first reached."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classicnets.trainer import run
from classicnets.training.observers import Observer, RunState
from classicnets.training.recipes import SPEEDRUN_MODEL, recipe_config
from classicnets.training.rundir import first_reaching
from classicnets.training.setup import default_run_dir

THRESHOLDS = (0.90, 0.92, 0.93, 0.94)


@dataclass
class SpeedrunResult:
    model: str
    recipe: str  # "speedrun" or the model's "fast"
    test_acc: float
    seconds: float  # from the call to the end of the last evaluation, data loading included
    device: str
    epochs: int
    run_dir: str
    # the wall time at the end of the first epoch whose test accuracy reached each threshold
    time_to: dict[str, float | None] = field(default_factory=dict)
    curve: list[dict[str, float]] = field(default_factory=list)  # epoch, wall_seconds, test_acc

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "recipe": self.recipe,
            "test_acc": self.test_acc,
            "seconds": self.seconds,
            "device": self.device,
            "epochs": self.epochs,
            "run_dir": self.run_dir,
            "time_to": self.time_to,
            "curve": self.curve,
        }


class _WallClock(Observer):
    """Each row's wall time since the call began, data loading included."""

    def __init__(self, started: float) -> None:
        self.started = started

    def measure(self, run: RunState) -> dict[str, float]:
        return {"wall_seconds": time.perf_counter() - self.started}


def speedrun(
    model: str | None = None,
    *,
    out: str | Path | None = None,
    overwrite: bool = False,
    show_progress: bool = False,
    log: Any = print,
    **overrides: Any,
) -> SpeedrunResult:
    """Train from a cold start: with no `model`, the speedrun recipe (SPEEDRUN_MODEL's); else
    `model`'s fast recipe; `overrides` on top."""
    started = time.perf_counter()
    config = recipe_config(model or SPEEDRUN_MODEL, "fast" if model else "speedrun", **overrides)

    result = run(
        config,
        out=out or default_run_dir(f"speedrun-{config.model}"),
        overwrite=overwrite,
        show_progress=show_progress,
        log=log,
        observers=[_WallClock(started)],
    )
    seconds = time.perf_counter() - started
    curve = [
        {"epoch": m["epoch"], "wall_seconds": m["wall_seconds"], "test_acc": m["test_acc"]}
        for m in result.metrics
    ]
    time_to = {f"{t:.2f}": first_reaching(curve, t) for t in THRESHOLDS}
    return SpeedrunResult(
        model=config.model,
        recipe=config.recipe,
        test_acc=result.metrics[-1]["test_acc"],
        seconds=seconds,
        device=result.device,
        epochs=config.epochs,
        run_dir=str(result.run_dir),
        time_to=time_to,
        curve=curve,
    )

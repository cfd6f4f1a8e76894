"""Training: configuration, recipes, the loop and its observers, checkpoints. Users start a run
with `classicnets.train` (`classicnets.trainer`), which shows it; `training.loop.run` is the core.

The names below are imported on first use, so that the PyTorch-free modules of this package
(config, recipes, rundir) load without PyTorch: the command line's --help reads them."""

from __future__ import annotations

from classicnets.lazy import lazy_exports

_LAZY = {
    "Checkpoint": "checkpoint",
    "build_model": "checkpoint",
    "read_checkpoint": "checkpoint",
    "TrainConfig": "config",
    "RunResult": "loop",
    "Observer": "observers",
    "RunState": "observers",
    "recipe_config": "recipes",
    "TrainingDiverged": "stopping",
    "TrainingInterrupted": "stopping",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_exports(__name__, _LAZY, globals())

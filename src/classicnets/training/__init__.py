"""Training: configuration, recipes, the loop, checkpoints.

The names below are imported on first use, so that the PyTorch-free modules of this package
(config, recipes, rundir) load without PyTorch: the command line's --help reads them."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Checkpoint": "checkpoint", "build_model": "checkpoint", "read_checkpoint": "checkpoint",
    "TrainConfig": "config",
    "RunResult": "loop", "resume": "loop", "run": "loop", "train": "loop",
    "recipe_config": "recipes",
    "TrainingDiverged": "stopping", "TrainingInterrupted": "stopping",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'classicnets.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"classicnets.training.{module}"), name)
    globals()[name] = value
    return value

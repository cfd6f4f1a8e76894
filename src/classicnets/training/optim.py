"""The optimizer and the learning rate of a run, from the tables of `training.choices`."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from classicnets.training.choices import OPTIMIZERS, SCHEDULES
from classicnets.training.config import TrainConfig


def make_optimizer(params: Iterable[torch.nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    return OPTIMIZERS[config.optimizer](params, config)


def lr_factor(config: TrainConfig, step: int, total_steps: int) -> float:
    """Multiplier of the base learning rate before optimisation step `step` (0-based)."""
    return SCHEDULES[config.schedule](step / max(total_steps, 1), config, total_steps)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr

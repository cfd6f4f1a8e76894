"""Optimizers by name, and learning-rate schedules as pure functions of the step.

A schedule that depends only on (step, total steps) needs no state of its own, so a resumed
run lands on exactly the learning rate the uninterrupted run would have used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from classicnets.training.config import TrainConfig


def make_optimizer(params: Iterable[torch.nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    lr, wd = config.lr, config.weight_decay
    name = config.optimizer
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, nesterov=name == "nesterov", weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=wd)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, weight_decay=wd)
    raise ValueError(f"unknown optimizer {name!r}")  # TrainConfig.validate() rejects it first


def lr_factor(config: TrainConfig, step: int, total_steps: int) -> float:
    """Multiplier of the base learning rate before optimisation step `step` (0-based)."""
    progress = step / max(total_steps, 1)
    if config.schedule == "constant":
        return 1.0
    if config.schedule == "step":
        return 0.1 ** int(progress * 3)  # /10 after each third of the run
    if config.schedule == "cosine":
        warmup = config.warmup_epochs / max(config.epochs, 1)
        if progress < warmup:
            return (progress + 1 / max(total_steps, 1)) / warmup
        return 0.5 * (1 + math.cos(math.pi * (progress - warmup) / max(1 - warmup, 1e-8)))
    if config.schedule == "onecycle":
        # Linear warm-up from lr/25 over the first quarter, then linear decay towards zero:
        # the triangle that super-convergence work (and airbench) uses.
        peak = 0.25
        if progress < peak:
            return 0.04 + 0.96 * progress / peak
        return max(1.0 - (progress - peak) / (1 - peak), 0.0) * 0.999 + 0.001
    raise ValueError(f"unknown schedule {config.schedule!r}")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr

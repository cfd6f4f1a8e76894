"""One training step, the only one: the loop and every benchmark call `train_step`, so what
is measured is what trains (autocast, the learning-rate schedule and all)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from classicnets.models.base import ClassifierSurface
from classicnets.training.config import TrainConfig
from classicnets.training.device import autocast
from classicnets.training.distributed import World
from classicnets.training.optim import lr_factor, set_lr


class Batches(Protocol):
    def __len__(self) -> int: ...
    @property
    def num_examples(self) -> int: ...
    def iter_epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...


@dataclass
class TrainingParts:
    """Everything a training step needs, built from a TrainConfig (`loop.build_training`)."""

    config: TrainConfig
    device: torch.device
    model: ClassifierSurface  # the network itself: what checkpoints hold
    step_model: nn.Module  # what trains: `model`, wrapped by DistributedDataParallel and/or torch.compile
    eval_model: nn.Module  # what evaluates: `step_model` without DistributedDataParallel
    optimizer: torch.optim.Optimizer
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    train_batches: Batches
    test_batches: Batches
    val_batches: Batches | None  # the validation set held out of the training set (`val_size`), if any
    total_steps: int  # the schedule's length: epochs x batches per epoch
    world: World = World()  # this process's rank among those training together (torchrun)


def scheduled_lr(parts: TrainingParts, step: int) -> float:
    """The learning rate of step `step` (0-based) under the run's schedule."""
    return parts.config.lr * lr_factor(parts.config, step, parts.total_steps)


def train_step(
    parts: TrainingParts, x: torch.Tensor, y: torch.Tensor, step: int, lr: float | None = None
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Step `step` (0-based) on the batch (x, y): set the scheduled learning rate (or `lr`, for the
    learning-rate range test), forward under autocast, loss, backward, optimizer step. Returns
    (output, loss) detached, without a host synchronisation, and the learning rate used."""
    lr = scheduled_lr(parts, step) if lr is None else lr
    set_lr(parts.optimizer, lr)
    with autocast(parts.device, parts.config.precision):
        out = parts.step_model(x)
    loss = parts.loss_fn(out.float(), y)  # bf16 logits: the loss in float32
    parts.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    parts.optimizer.step()
    return out.detach(), loss.detach(), lr

"""The learning-rate range test (Smith 2017, "Cyclical learning rates"; fastai's `lr_find`):
train from the recipe's own start for a few hundred steps while the learning rate grows
exponentially, and read a good rate off the loss curve. Nothing is written: the network is
thrown away afterwards."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from classicnets.errors import ClassicnetsError
from classicnets.training.config import TrainConfig
from classicnets.training.device import resolve_device
from classicnets.training.setup import build_training
from classicnets.training.step import Batches, train_step

SMOOTHING = 0.9  # the loss's exponential moving average (bias-corrected): about 10 steps
DIVERGED = 4.0  # the sweep ends once the smoothed loss is this many times its lowest


@dataclass
class LrFindResult:
    model: str
    recipe: str
    recipe_lr: float  # the rate the recipe trains with, for comparison
    lrs: list[float]  # one per step taken
    losses: list[float]  # the training loss of each step, as it came
    smoothed: list[float]
    falling: tuple[float, float]  # the rates over which the smoothed loss falls to its lowest
    suggestion: float
    diverged: bool  # the sweep ended early: the loss blew up

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lr_schedule(start: float, end: float, steps: int) -> list[float]:
    """`steps` rates from `start` to `end`, evenly spaced in log scale."""
    return [start * (end / start) ** (i / max(steps - 1, 1)) for i in range(steps)]


def running_average(losses: list[float], beta: float = SMOOTHING) -> list[float]:
    """The bias-corrected exponential moving average of `losses` (so the first values are not
    pulled towards zero): what the sweep watches for the blow-up as it goes."""
    average, out = 0.0, []
    for i, loss in enumerate(losses, 1):
        average = beta * average + (1 - beta) * loss
        out.append(average / (1 - beta**i))
    return out


def smooth(losses: list[float], beta: float = SMOOTHING) -> list[float]:
    """A running median over a few steps (a spike of a few steps, the kind that makes a
    suggestion read off the raw curve land on it, disappears), then the running average taken
    forwards and backwards over that: smooth, and without the lag of a running average alone
    (which would put every feature of the curve ~1/(1-beta) steps late, a fifth of a decade and
    more at 200 steps)."""
    half = max(2, len(losses) // 50)
    medians = [statistics.median(losses[max(0, i - half) : i + half + 1]) for i in range(len(losses))]
    return running_average(running_average(medians, beta)[::-1], beta)[::-1]


def suggest(lrs: list[float], smoothed: list[float]) -> tuple[float, tuple[int, int]]:
    """The rate where the smoothed loss falls fastest per decade, looked for only between the
    highest loss before the lowest and the lowest itself (the falling range), with slopes taken
    over a window of steps: a spike in the first steps, or a single noisy step, does not decide it
    (Lightning issue 1767: a suggestion read from the raw gradient lands on a spike)."""
    n = len(smoothed)
    skip = n // 10  # the first steps: the network's first moves, noisy at any rate
    low = min(range(skip, n), key=smoothed.__getitem__)
    high = max(range(skip, low + 1), key=smoothed.__getitem__)
    if low - high < 2:
        raise ClassicnetsError(
            "the loss did not fall anywhere in the sweep: try a lower --start-lr, or more --steps"
        )
    window = max(2, (low - high) // 8)
    logs = [math.log10(lr) for lr in lrs]

    def slope(i: int) -> float:
        a, b = max(high, i - window), min(low, i + window)
        return (smoothed[b] - smoothed[a]) / (logs[b] - logs[a])

    steepest = min(range(high, low + 1), key=slope)
    return lrs[steepest], (high, low)


def range_test(
    config: TrainConfig,
    *,
    start_lr: float = 1e-6,
    end_lr: float = 10.0,
    steps: int = 200,
    show_progress: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> LrFindResult:
    """Sweep the learning rate from `start_lr` to `end_lr` over `steps` steps of `config` (its
    network, optimizer, batches and augmentation; its schedule aside), and suggest one."""
    if not 0 < start_lr < end_lr:
        raise ClassicnetsError(f"--start-lr {start_lr:g} and --end-lr {end_lr:g}: expected 0 < start < end")
    if steps < 20:
        raise ClassicnetsError(f"--steps {steps}: a sweep needs at least 20 steps to show a curve")
    config = replace(config, schedule="constant").validate()
    parts = build_training(config, resolve_device(config.device), show_progress)
    lrs: list[float] = []
    losses: list[float] = []
    diverged = False
    parts.model.train()
    for step, (lr, (x, y)) in enumerate(
        zip(lr_schedule(start_lr, end_lr, steps), _endless(parts.train_batches))
    ):
        _, loss, _ = train_step(parts, x, y, step, lr=lr)
        if not math.isfinite(float(loss)):
            diverged = True
            break
        lrs.append(lr)
        losses.append(float(loss))
        if progress is not None:
            progress(step + 1, steps)
        watched = running_average(losses)
        if watched[-1] > DIVERGED * min(watched):
            diverged = True
            break
    if len(losses) < 10:
        raise ClassicnetsError(f"the loss blew up within {len(losses)} steps: try a lower --start-lr")
    smoothed = smooth(losses)
    suggestion, (high, low) = suggest(lrs, smoothed)
    return LrFindResult(
        model=config.model,
        recipe=config.recipe,
        recipe_lr=config.lr,
        lrs=lrs,
        losses=losses,
        smoothed=smoothed,
        falling=(lrs[high], lrs[low]),
        suggestion=suggestion,
        diverged=diverged,
    )


def _endless(batches: Batches) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The training batches, epoch after epoch (a sweep may be longer than one)."""
    for epoch in itertools.count():
        yield from batches.iter_epoch(epoch)

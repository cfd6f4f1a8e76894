"""Statistics of a split, computed exactly (integer sums over uint8 pixels)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from classicnets.data.fashion_mnist import Split

_CHUNK = 10_000


@dataclass(frozen=True)
class SplitStats:
    count: int
    class_counts: list[int]
    mean: float  # pixel mean on the [0, 1] scale
    std: float  # pixel standard deviation on the [0, 1] scale (population)


def split_stats(split: Split) -> SplitStats:
    total = square = 0
    for start in range(0, len(split), _CHUNK):
        chunk = split.images[start : start + _CHUNK].to(torch.int64)
        total += int(chunk.sum())
        square += int((chunk * chunk).sum())
    n = split.images.numel()
    mean = total / n
    var = square / n - mean * mean
    return SplitStats(
        count=len(split), class_counts=split.class_counts(),
        mean=mean / 255.0, std=max(var, 0.0) ** 0.5 / 255.0,
    )

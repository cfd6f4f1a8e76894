"""Statistics of a split, computed exactly (integer sums over uint8 pixels, channel by channel)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from classicnets.data.split import Split

_CHUNK = 10_000


@dataclass(frozen=True)
class SplitStats:
    count: int
    class_counts: list[int]
    mean: tuple[float, ...]  # per-channel pixel mean on the [0, 1] scale
    std: tuple[float, ...]  # per-channel pixel standard deviation on the [0, 1] scale (population)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std) of uint8 images (N, C, H, W) on the [0, 1] scale."""
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.int64)
    square = torch.zeros(channels, dtype=torch.int64)
    for start in range(0, len(images), _CHUNK):
        chunk = images[start : start + _CHUNK].to(torch.int64)
        total += chunk.sum(dim=(0, 2, 3))
        square += (chunk * chunk).sum(dim=(0, 2, 3))
    n = max(1, images.numel() // channels)
    means = [int(t) / n for t in total]
    stds = [max(int(s) / n - m * m, 0.0) ** 0.5 for s, m in zip(square, means)]
    return tuple(m / 255.0 for m in means), tuple(s / 255.0 for s in stds)


def split_stats(split: Split, classes: int) -> SplitStats:
    mean, std = channel_stats(split.images)
    return SplitStats(count=len(split), class_counts=split.class_counts(classes), mean=mean, std=std)

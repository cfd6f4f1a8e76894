"""Seed 003's two 4x4 toy images, for the tiny CNN it trains with BCELoss."""

from __future__ import annotations

from collections.abc import Iterator

import torch


def toy_4x4() -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y): x (2, 1, 4, 4) float scaled by 1/8 as the seed does, y (2, 1) float targets 0 and 1."""
    x = (
        torch.tensor(
            [
                [[[1, 2, 3, 4], [2, 3, 4, 5], [5, 6, 7, 8], [1, 3, 4, 5]]],
                [[[-1, 2, 3, -4], [2, -3, 4, 5], [-5, 6, -7, 8], [-1, -3, -4, -5]]],
            ],
            dtype=torch.float32,
        )
        / 8
    )
    y = torch.tensor([[0.0], [1.0]])
    return x, y


class TensorBatches:
    """Batches of ready float tensors in a fixed order (seed 003's `DataLoader` without shuffle),
    with the same iteration interface as `BatchIterator`."""

    def __init__(
        self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, device: torch.device | str = "cpu"
    ) -> None:
        self.x, self.y = x.to(device), y.to(device)
        self.batch_size = batch_size

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)  # noqa: PLE0303 (a ceiling division: never negative)

    @property
    def num_examples(self) -> int:
        return len(self.x)

    def iter_epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for index in range(start_batch, len(self)):
            sl = slice(index * self.batch_size, (index + 1) * self.batch_size)
            yield self.x[sl], self.y[sl]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.iter_epoch(0)

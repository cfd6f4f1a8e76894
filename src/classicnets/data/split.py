"""One split of a data set as uint8 tensors, and the validation set carved out of a training split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from classicnets.errors import DataError


@dataclass(frozen=True)
class Split:
    """Images as uint8 (N, C, H, W), labels as int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != torch.uint8 or len(self.images) != len(self.labels):
            raise DataError(
                f"a split holds uint8 images (N, C, H, W) and N labels, got {self.images.dtype} "
                f"{tuple(self.images.shape)} and {len(self.labels)} labels"
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: torch.Tensor) -> Split:
        return Split(self.images[indices], self.labels[indices])

    def head(self, limit: int | None) -> Split:
        """The first `limit` examples (the files are already in shuffled order), or all."""
        if limit is None or limit >= len(self):
            return self
        if limit <= 0:
            raise DataError(f"limit must be a positive number of examples, got {limit}")
        return Split(self.images[:limit], self.labels[:limit])

    def class_counts(self, classes: int) -> list[int]:
        return torch.bincount(self.labels, minlength=classes).tolist()


def split_validation(train: Split, size: int | float, seed: int = 0) -> tuple[Split, Split]:
    """Carve a deterministic validation set out of the training split.

    `size` is a count of examples, or a fraction of the split when below 1. The same seed
    gives the same carve on every machine (torch's CPU generator is portable).
    """
    count = round(size * len(train)) if isinstance(size, float) and size < 1 else int(size)
    if not 0 < count < len(train):
        raise DataError(
            f"validation size must leave both parts non-empty: got {size} of {len(train)} examples"
        )
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    return train.subset(order[count:]), train.subset(order[:count])


def stratified_holdout(labels: torch.Tensor, fraction: float, classes: int, seed: int = 0) -> torch.Tensor:
    """A boolean mask of the examples held out as the test split: `fraction` of each class
    (at least one of every class that has two or more), chosen by a seeded permutation."""
    held = torch.zeros(len(labels), dtype=torch.bool)
    generator = torch.Generator().manual_seed(seed)
    for label in range(classes):
        members = torch.nonzero(labels == label).flatten()
        count = min(len(members) - 1, max(1, round(fraction * len(members)))) if len(members) > 1 else 0
        held[members[torch.randperm(len(members), generator=generator)[:count]]] = True
    return held


def check_labels(labels: np.ndarray, classes: int, what: str) -> None:
    """Every label within 0..classes-1, or one line naming the first that is not."""
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= classes):
        bad = int(np.argmax((labels < 0) | (labels >= classes)))
        raise DataError(f"{what}: label {int(labels[bad])} at index {bad} is out of range 0..{classes - 1}")


def check_splits(what: str, train: Split, test: Split, classes: tuple[str, ...]) -> None:
    """Both splits non-empty and the training split holding every class."""
    if len(train) == 0 or len(test) == 0:
        raise DataError(f"{what}: {len(train)} training and {len(test)} test pictures; both need some")
    empty = [name for name, count in zip(classes, train.class_counts(len(classes))) if count == 0]
    if empty:
        raise DataError(f"{what}: no training pictures of {', '.join(empty[:5])}")

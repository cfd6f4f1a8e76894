"""Evaluating a trained run on the test set: accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from classicnets.data import BatchConfig, BatchIterator
from classicnets.data.sources import data_for_run
from classicnets.errors import ClassicnetsError
from classicnets.training.checkpoint import LoadedRun
from classicnets.training.device import resolve_device
from classicnets.training.measure import predict_all


@dataclass
class Evaluation:
    accuracy: float
    count: int
    class_names: list[str]
    per_class_accuracy: list[float]
    confusion: list[list[int]]  # [true][predicted]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def confusion_matrix(predicted: torch.Tensor, true: torch.Tensor, num_classes: int) -> torch.Tensor:
    return torch.bincount(true * num_classes + predicted, minlength=num_classes * num_classes).view(
        num_classes, num_classes
    )


def evaluate_run(
    run: LoadedRun,
    *,
    data_dir: str | None = None,
    device: str = "auto",
    limit: int | None = None,
    batch_size: int = 512,
    dataset: str | None = None,
) -> Evaluation:
    """The run's accuracy on its data set's test split, or on `dataset`'s (with the same classes)."""
    if not run.input.images:
        raise ClassicnetsError(
            f"evaluate works on runs trained on pictures; this run trained on {run.input.dataset}"
        )
    target = resolve_device(device)
    model = run.model.to(target)
    eval_cfg = BatchConfig.for_input(run.input, batch_size=batch_size)
    test = data_for_run(run.input, dataset=dataset, data_dir=data_dir).test.head(limit)
    predicted, true = predict_all(
        model, BatchIterator(test, eval_cfg, device=target), target, run.inference()
    )
    names = run.class_names
    matrix = confusion_matrix(predicted, true, len(names))
    per_class = (matrix.diag().double() / matrix.sum(1).clamp(min=1)).tolist()
    return Evaluation(
        accuracy=float((predicted == true).double().mean()),
        count=len(true),
        class_names=names,
        per_class_accuracy=per_class,
        confusion=matrix.tolist(),
    )

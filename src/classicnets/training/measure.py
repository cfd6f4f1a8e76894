"""What a network gets right: predicted and true labels, accuracy and loss over a set of
batches. Training's test and validation numbers and `evaluate` are computed here, the same way."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from classicnets.training.device import autocast
from classicnets.training.distributed import World
from classicnets.training.inference import Inference
from classicnets.training.step import Batches


def predicted_labels(out: torch.Tensor) -> torch.Tensor:
    """Class indices from logits/log-probabilities (N, K), or from sigmoid outputs (N, 1)."""
    if out.shape[1] == 1:
        return (out[:, 0] > 0.5).long()
    return out.argmax(dim=1)


def true_labels(y: torch.Tensor) -> torch.Tensor:
    return y[:, 0].long() if y.ndim == 2 else y


@torch.no_grad()
def predict_all(
    model: nn.Module, batches: Batches, device: torch.device, inference: Inference = Inference()
) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted, true) labels for every example of `batches`, on the CPU, one sync at the end."""
    was_training = model.training
    model.eval()
    predicted, true = [], []
    try:
        for x, y in batches.iter_epoch(0):
            predicted.append(predicted_labels(inference.scores(model, x, device)))
            true.append(true_labels(y))
    finally:
        model.train(was_training)
    return torch.cat(predicted).cpu(), torch.cat(true).cpu()


def accuracy(
    model: nn.Module,
    batches: Batches,
    device: torch.device,
    world: World = World(),
    inference: Inference = Inference(),
) -> float:
    """The fraction of `batches` that `model` classifies right; with a `world` of several ranks,
    each holding its shard, the counts are summed over all of them."""
    predicted, true = predict_all(model, batches, device, inference)
    correct, total = world.sum([float((predicted == true).sum()), float(len(true))], device)
    return correct / total


@torch.no_grad()
def loss_and_accuracy(
    model: nn.Module,
    batches: Batches,
    device: torch.device,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    world: World = World(),
    inference: Inference = Inference(),
) -> tuple[float, float]:
    """(mean loss, accuracy) over `batches` (every rank's shard): the loss of the network's own
    outputs at the run's precision, the accuracy as `accuracy` counts it (flips included)."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    try:
        for x, y in batches.iter_epoch(0):
            with autocast(device, inference.precision):
                out = model(x)
            loss_sum += loss_fn(out.float(), y) * y.shape[0]
            scores = inference.probabilities(model, x, device) if inference.flip else out
            correct += (predicted_labels(scores) == true_labels(y)).sum()
            seen += y.shape[0]
    finally:
        model.train(was_training)
    total_loss, total_correct, total = world.sum([float(loss_sum), float(correct), float(seen)], device)
    return total_loss / total, total_correct / total

"""How a network classifies at test time: the precision of its forward pass and test-time flips.
One owner for what training's test accuracy, `evaluate` and `predict` compute."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from classicnets.training.config import TrainConfig
from classicnets.training.device import autocast, resolve_precision


@dataclass(frozen=True)
class Inference:
    """How a network classifies at test time: the precision of its forward pass (PRECISIONS) and
    whether each image's class probabilities are averaged with its mirror image's (test-time flips)."""

    precision: str = "auto"
    flip: bool = False

    @classmethod
    def of(cls, config: TrainConfig, device: torch.device) -> Inference:
        """How a run of `config` on `device` classifies: at the precision it resolves to there (so a
        bf16 run is evaluated in bf16 on any device that computes it), with its flips."""
        return cls(precision=resolve_precision(device, config.precision), flip=config.flip_tta)

    def probabilities(self, model: nn.Module, x: torch.Tensor, device: torch.device) -> torch.Tensor:
        """Softmax of the network's outputs for `x`; with flips, the mean over `x` and `x` mirrored."""
        views = (x, x.flip(-1)) if self.flip else (x,)
        with autocast(device, self.precision):
            return sum(model(v).float().softmax(dim=1) for v in views) / len(views)

    def scores(self, model: nn.Module, x: torch.Tensor, device: torch.device) -> torch.Tensor:
        """What the predicted class is read from: the outputs as they are (logits, log-probabilities,
        a sigmoid), or with flips the mean probabilities."""
        if self.flip:
            return self.probabilities(model, x, device)
        with autocast(device, self.precision):
            return model(x)

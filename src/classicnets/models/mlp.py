"""The FashionNetwork MLP of seed 002 (784-256-128-10, ReLU, dropout, log-softmax)."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from classicnets.errors import InputSizeError, ModelError
from classicnets.models.base import ClassifierSurface
from classicnets.models.registry import register_model

FORMS = ("module", "functional")


class FashionNetwork(ClassifierSurface):
    """Seed 002's FashionNetwork with its dropout, in the module form or the functional form.

    Both forms hold the same parameters (`hidden1`, `hidden2`, `output`) and give identical
    outputs for the same weights; `fashion_network_sequential` is the third, `nn.Sequential`,
    form. The output is log-probabilities (seed 002 trains it with NLLLoss).
    """

    def __init__(
        self,
        *,
        in_features: int = 784,
        hidden: tuple[int, int] = (256, 128),
        num_classes: int = 10,
        dropout: float = 0.25,
        act_layer: type[nn.Module] = nn.ReLU,
        form: str = "module",
        in_channels: int = 1,
        input_size: int = 28,
    ) -> None:
        super().__init__()
        if form not in FORMS:
            raise ModelError(f"unknown MLP form {form!r}; choose one of: {', '.join(FORMS)}")
        self.model_name, self.form = "mlp", form
        self.in_channels, self.fixed_input_size, self.min_input_size = in_channels, input_size, input_size
        self.classifier_name = "output"
        self.hidden1 = nn.Linear(in_features, hidden[0])
        self.hidden2 = nn.Linear(hidden[0], hidden[1])
        self.output = nn.Linear(hidden[1], num_classes)
        self.activation = act_layer()
        self.drop = nn.Dropout(p=dropout)
        self.log_softmax = nn.LogSoftmax(dim=1)

    def check_input(self, x: torch.Tensor) -> None:
        # Seed 002 feeds flattened (N, 784) vectors; images (N, C, H, W) are flattened here.
        expected = self.hidden1.in_features
        if x.ndim == 2 and x.shape[1] == expected:
            return
        if x.ndim == 4 and x.shape[1:].numel() == expected:
            return
        side = self.fixed_input_size
        raise InputSizeError(
            f"mlp was built for {self.in_channels}x{side}x{side} images ({expected} features), "
            f"got shape {tuple(x.shape)}: resize the input to {side} or build it with input_size"
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if self.form == "functional":
            x = F.dropout(F.relu(self.hidden1(x)), self.drop.p, self.training)
            return F.dropout(F.relu(self.hidden2(x)), self.drop.p, self.training)
        x = self.drop(self.activation(self.hidden1(x)))
        return self.drop(self.activation(self.hidden2(x)))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        if self.form == "functional":
            return F.log_softmax(self.output(x), dim=1)
        return self.log_softmax(self.output(x))


def fashion_network_sequential(
    *,
    in_features: int = 784,
    hidden: tuple[int, int] = (256, 128),
    num_classes: int = 10,
    dropout: float = 0.25,
) -> nn.Sequential:
    """Seed 002's "define it with nn.Sequential" form; its state dict matches FashionNetwork's."""
    return nn.Sequential(
        OrderedDict(
            [
                ("flatten", nn.Flatten()),
                ("hidden1", nn.Linear(in_features, hidden[0])),
                ("relu1", nn.ReLU()),
                ("drop1", nn.Dropout(dropout)),
                ("hidden2", nn.Linear(hidden[0], hidden[1])),
                ("relu2", nn.ReLU()),
                ("drop2", nn.Dropout(dropout)),
                ("output", nn.Linear(hidden[1], num_classes)),
                ("log_softmax", nn.LogSoftmax(dim=1)),
            ]
        )
    )


@register_model(
    description="FashionNetwork MLP 784-256-128-10, ReLU, dropout 0.25, log-softmax",
    seed="002",
)
def mlp(
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    input_size: int = 28,
    hidden: tuple[int, int] = (256, 128),
    dropout: float = 0.25,
    act_layer: type[nn.Module] = nn.ReLU,
    form: str = "module",
) -> FashionNetwork:
    return FashionNetwork(
        in_features=in_channels * input_size * input_size,
        hidden=hidden,
        num_classes=num_classes,
        dropout=dropout,
        act_layer=act_layer,
        form=form,
        in_channels=in_channels,
        input_size=input_size,
    )

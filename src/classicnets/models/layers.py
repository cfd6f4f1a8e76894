"""Layers the book writes by hand, and the switch between them and PyTorch's own."""

from __future__ import annotations

import torch
from torch import nn

from classicnets.errors import ModelError

NORM_CHOICES = ("batch", "scratch")
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}


def resolve_activation(act_layer: str | type[nn.Module]) -> type[nn.Module]:
    """An activation class from itself or its name ("relu", "sigmoid", ...)."""
    if isinstance(act_layer, str):
        try:
            return ACTIVATIONS[act_layer.lower()]
        except KeyError:
            raise ModelError(
                f"unknown activation {act_layer!r}; choose one of: {', '.join(ACTIVATIONS)}"
            ) from None
    return act_layer


class BookBatchNorm(nn.Module):
    """The book's from-scratch batch normalisation (d2l "Batch Normalization", seed 004).

    Batch statistics in training, moving averages in evaluation; per channel for 4-D input
    (convolutions), per feature for 2-D input (fully connected layers). The book's momentum
    convention is the weight of the *old* average (0.9), the opposite of `nn.BatchNorm`'s
    0.1, and its moving variance uses the biased batch variance.
    """

    moving_mean: torch.Tensor
    moving_var: torch.Tensor

    def __init__(self, num_features: int, num_dims: int, momentum: float = 0.9, eps: float = 1e-5) -> None:
        super().__init__()
        if num_dims not in (2, 4):
            raise ModelError(f"BookBatchNorm takes 2-D or 4-D input, not {num_dims}-D")
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.num_dims, self.momentum, self.eps = num_dims, momentum, eps
        self.gamma = nn.Parameter(torch.ones(shape))
        self.beta = nn.Parameter(torch.zeros(shape))
        self.register_buffer("moving_mean", torch.zeros(shape))
        self.register_buffer("moving_var", torch.ones(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The book switches on torch.is_grad_enabled(); the module's mode is the reliable signal
        # (evaluation under autograd, e.g. for saliency, must still use moving averages).
        if not self.training:
            x_hat = (x - self.moving_mean) / torch.sqrt(self.moving_var + self.eps)
        else:
            dims = (0,) if self.num_dims == 2 else (0, 2, 3)
            mean = x.mean(dim=dims, keepdim=True)
            var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
            x_hat = (x - mean) / torch.sqrt(var + self.eps)
            with torch.no_grad():
                self.moving_mean.mul_(self.momentum).add_((1.0 - self.momentum) * mean)
                self.moving_var.mul_(self.momentum).add_((1.0 - self.momentum) * var)
        return self.gamma * x_hat + self.beta

    def extra_repr(self) -> str:
        return f"{self.gamma.shape[1]}, num_dims={self.num_dims}, momentum={self.momentum}, eps={self.eps}"


def make_norm(kind: str, num_features: int, num_dims: int) -> nn.Module:
    """A batch-norm layer: PyTorch's ("batch") or the book's from-scratch one ("scratch")."""
    if kind == "batch":
        return nn.BatchNorm2d(num_features) if num_dims == 4 else nn.BatchNorm1d(num_features)
    if kind == "scratch":
        return BookBatchNorm(num_features, num_dims)
    raise ModelError(f"unknown norm {kind!r}; choose one of: {', '.join(NORM_CHOICES)}")

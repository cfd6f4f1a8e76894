"""Layers the book writes by hand, and the switch between them and PyTorch's own."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from classicnets.errors import ModelError

NORM_CHOICES = ("batch", "scratch")
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU,
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


class _DataConvFunction(torch.autograd.Function):
    """A stride-1 convolution of the input data, whose weight gradient is computed as one
    convolution of the batch by the output gradient (batch and channels swapped).

    On the CPU, oneDNN's weight-gradient kernel is slow for a single input channel: for LeNet's
    first layer it takes 10 ms of a 27 ms training step at batch 256, the swapped convolution
    2.9 ms (2 cores, benchmarks/README: "where the time goes"). The input needs no gradient
    (it is data), so none is computed.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: tuple[int, int]) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.padding, ctx.has_bias = padding, bias is not None
        return F.conv2d(x, weight, bias, padding=padding)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor, torch.Tensor | None, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        grad_weight = F.conv2d(x.transpose(0, 1), grad.transpose(0, 1), padding=ctx.padding).transpose(0, 1)
        return None, grad_weight, grad.sum(dim=(0, 2, 3)) if ctx.has_bias else None, None


class Conv2d(nn.Conv2d):
    """`nn.Conv2d` (same parameters, same state dict, same results) that takes the faster
    weight-gradient path of `_DataConvFunction` when it convolves single-channel input data
    with stride 1 on the CPU; every other case is nn.Conv2d's own forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.training and x.device.type == "cpu" and not x.requires_grad and self.weight.requires_grad
                and torch.is_grad_enabled() and self.in_channels == 1 and self.groups == 1
                and self.stride == (1, 1) and self.dilation == (1, 1) and self.padding_mode == "zeros"
                and not isinstance(self.padding, str) and x.dtype == torch.float32):
            return _DataConvFunction.apply(x, self.weight, self.bias, self.padding)
        return super().forward(x)

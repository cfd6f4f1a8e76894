"""Receptive fields, worked out from the layers themselves (no forward pass): for every layer
of a network, which square of the input one of its units sees.

Seed 003 puts it in words ("each unit of the 25x25 output corresponds to a 4x4 part of the
input"); the arithmetic is the usual recursion (Araujo et al., "Computing Receptive Fields of
Convolutional Neural Networks", Distill 2019). A kernel k with dilation d, stride s and
padding p turns a field (size r, jump j between neighbouring units, first pixel a of unit 0)
into r + d(k-1)j, j*s, a - p*j. Parallel paths (ResNet's shortcut, GoogLeNet's four branches,
DenseNet's concatenations) see the union of their paths' fields. A global pooling, a flatten
or a fully connected layer sees the whole image. Unit (i, i) sees input pixels
a + i*j .. a + i*j + r - 1 on each axis, some of them padding when they fall outside.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from torch import nn

from classicnets.errors import ModelError
from classicnets.models.base import ClassicNet
from classicnets.models.densenet import DenseBlock
from classicnets.models.googlenet import Inception
from classicnets.models.layers import BookBatchNorm
from classicnets.models.mlp import FashionNetwork
from classicnets.models.resnet import Residual

# Layers that work pixel by pixel (or channel by channel): the field passes through unchanged.
_POINTWISE = (
    nn.ReLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.GELU,
    nn.SiLU,
    nn.LeakyReLU,
    nn.Identity,
    nn.Dropout,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    BookBatchNorm,
    nn.LogSoftmax,
    nn.Softmax,
)


@dataclass(frozen=True)
class Field:
    """What one unit of a layer's output sees, on each axis of the input."""

    size: int  # side of the input square one unit sees (padding included)
    jump: int  # input pixels between neighbouring units: the product of the strides so far
    start: int  # input coordinate of unit 0's first pixel; negative where it lies in the padding
    side: int  # the layer's output side (units per axis)

    def span(self, unit: int) -> tuple[int, int]:
        """First and last input coordinate unit `unit` sees (either may lie in the padding)."""
        first = self.start + unit * self.jump
        return first, first + self.size - 1

    def window(
        self, kernel: int, stride: int, padding: int, dilation: int = 1, ceil_mode: bool = False
    ) -> Field:
        span = dilation * (kernel - 1)
        steps = self.side + 2 * padding - span - 1
        side = (-(-steps // stride) if ceil_mode else steps // stride) + 1
        if ceil_mode and (side - 1) * stride >= self.side + padding:
            side -= 1  # PyTorch drops a last window that would start in the right padding
        if side < 1:
            raise ModelError(f"a {kernel}x{kernel} window does not fit a {self.side}x{self.side} map")
        return Field(
            size=self.size + span * self.jump,
            jump=self.jump * stride,
            start=self.start - padding * self.jump,
            side=side,
        )

    def whole(self) -> Field:
        """One unit that sees every unit of this map (a global pooling, a flatten)."""
        return Field(
            size=self.size + (self.side - 1) * self.jump, jump=self.jump * self.side, start=self.start, side=1
        )

    def union(self, other: Field) -> Field:
        """The field of a unit that sees both paths' units (a sum or a concatenation)."""
        if (self.jump, self.side) != (other.jump, other.side):
            raise ModelError(f"parallel paths disagree on their grid ({self} vs {other})")
        start = min(self.start, other.start)
        end = max(self.start + self.size, other.start + other.size)
        return replace(self, start=start, size=end - start)


@dataclass(frozen=True)
class LayerField:
    name: str  # the layer's qualified name in the network
    type: str
    field: Field
    whole_image: bool  # every unit sees every pixel of the input

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, **asdict(self.field), "whole_image": self.whole_image}


def _pair(value: Any) -> int:
    values = value if isinstance(value, (tuple, list)) else (value, value)
    if len(set(values)) != 1:
        raise ModelError(f"non-square windows ({values}) are not supported")
    return int(values[0])


def propagate(module: nn.Module, field: Field) -> Field:
    """The field after `module`, given the field of its input."""
    if isinstance(module, nn.Conv2d):
        if isinstance(module.padding, str):
            raise ModelError("convolutions with padding given by name are not supported")
        return field.window(
            _pair(module.kernel_size), _pair(module.stride), _pair(module.padding), _pair(module.dilation)
        )
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        stride = module.stride if module.stride is not None else module.kernel_size
        return field.window(
            _pair(module.kernel_size),
            _pair(stride),
            _pair(module.padding),
            _pair(getattr(module, "dilation", 1)),
            bool(module.ceil_mode),
        )
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        out = _pair(module.output_size)
        if out == field.side:
            return field
        if out == 1:
            return field.whole()
        raise ModelError(f"adaptive pooling from {field.side} to {out} has windows of varying size")
    if isinstance(module, (nn.Flatten, nn.Linear)):
        return field.whole()
    if isinstance(module, _POINTWISE):
        return field
    if isinstance(module, nn.Sequential):
        for child in module:
            field = propagate(child, field)
        return field
    if isinstance(module, Residual):
        main = propagate(module.conv2, propagate(module.conv1, field))
        shortcut = propagate(module.conv3, field) if module.conv3 is not None else field
        return main.union(shortcut)
    if isinstance(module, Inception):
        paths = [
            propagate(module.p1_1, field),
            propagate(module.p2_2, propagate(module.p2_1, field)),
            propagate(module.p3_2, propagate(module.p3_1, field)),
            propagate(module.p4_2, propagate(module.p4_1, field)),
        ]
        merged = paths[0]
        for path in paths[1:]:
            merged = merged.union(path)
        return merged
    if isinstance(module, DenseBlock):
        for block in module.net:  # each block sees the concatenation of everything before it
            field = field.union(propagate(block, field))
        return field
    raise ModelError(f"no receptive-field rule for {type(module).__name__}")


def receptive_fields(model: nn.Module, side: int) -> list[LayerField]:
    """The field of every top-level layer of `model` (the book's layers, as `summary --walk`
    prints them) for square inputs of `side` pixels, in forward order."""
    field = Field(size=1, jump=1, start=0, side=side)
    rows: list[LayerField] = []

    def add(name: str, module: nn.Module) -> None:
        nonlocal field
        field = propagate(module, field)
        rows.append(
            LayerField(
                name=name,
                type=type(module).__name__,
                field=field,
                whole_image=field.start <= 0 and field.start + field.size >= side,
            )
        )

    if isinstance(model, FashionNetwork):  # seed 002's MLP flattens the image first
        for name in ("hidden1", "hidden2", "output"):
            add(name, getattr(model, name))
    elif isinstance(model, ClassicNet):
        for part in ("features", "head"):
            for name, child in getattr(model, part).named_children():
                add(f"{part}.{name}", child)
    else:
        raise ModelError(f"no receptive-field walk for {type(model).__name__}")
    return rows

"""LeNet (seed 000) and LeNet with batch normalisation (seed 004, the book's BN chapter):
one builder, two arguments (`norm`, `padding`)."""

from __future__ import annotations

import math

from torch import nn

from classicnets.models.base import ClassicNet, features_output_shape
from classicnets.models.layers import make_norm
from classicnets.models.registry import register_model


def _lenet(
    name: str,
    *,
    in_channels: int,
    num_classes: int,
    input_size: int,
    act_layer: type[nn.Module],
    norm: str | None,
    padding: int,
) -> ClassicNet:
    def conv_unit(c_in: int, c_out: int, pad: int) -> list[nn.Module]:
        bn = [make_norm(norm, c_out, 4)] if norm else []  # BN after the conv, before the activation
        return [
            nn.Conv2d(c_in, c_out, kernel_size=5, padding=pad),
            *bn,
            act_layer(),
            nn.AvgPool2d(kernel_size=2, stride=2),
        ]

    features = nn.Sequential(*conv_unit(in_channels, 6, padding), *conv_unit(6, 16, 0))
    flat = math.prod(features_output_shape(name, features, in_channels, input_size))

    def dense_unit(f_in: int, f_out: int) -> list[nn.Module]:
        bn = [make_norm(norm, f_out, 2)] if norm else []
        return [nn.Linear(f_in, f_out), *bn, act_layer()]

    head = nn.Sequential(
        nn.Flatten(), *dense_unit(flat, 120), *dense_unit(120, 84), nn.Linear(84, num_classes)
    )
    return ClassicNet(
        name,
        features,
        head,
        in_channels=in_channels,
        classifier_name=f"head.{len(head) - 1}",
        fixed_input_size=input_size,
    )


@register_model(
    description="LeNet-5: two 5x5 convs with sigmoid and average pooling, 400-120-84-10",
    seed="000",
)
def lenet(
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    input_size: int = 28,
    act_layer: type[nn.Module] = nn.Sigmoid,
    norm: str | None = None,
) -> ClassicNet:
    # seed 000: padding 2 on the first conv because LeNet was designed for 32x32 inputs.
    return _lenet(
        "lenet",
        in_channels=in_channels,
        num_classes=num_classes,
        input_size=input_size,
        act_layer=act_layer,
        norm=norm,
        padding=2,
    )


@register_model(
    description="LeNet with BatchNorm after every conv and hidden linear layer (no padding, 256-120-84-10)",
    seed="004",
)
def lenet_bn(
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    input_size: int = 28,
    act_layer: type[nn.Module] = nn.Sigmoid,
    norm: str = "batch",
) -> ClassicNet:
    # The book's BN chapter drops LeNet's padding: 28 -> 24 -> 12 -> 8 -> 4, so 16*4*4 = 256.
    return _lenet(
        "lenet_bn",
        in_channels=in_channels,
        num_classes=num_classes,
        input_size=input_size,
        act_layer=act_layer,
        norm=norm,
        padding=0,
    )

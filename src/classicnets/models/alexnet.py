"""AlexNet as seed 000 writes it for 1-channel Fashion-MNIST resized to 224."""

from __future__ import annotations

import math

from torch import nn

from classicnets.models.base import ClassicNet, features_output_shape
from classicnets.models.registry import register_model


@register_model(
    description="AlexNet: 11x11/4 conv, 5 convs with ReLU and max-pooling, 6400-4096-4096-10 with dropout",
    seed="000",
)
def alexnet(
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    input_size: int = 224,
    dropout: float = 0.5,
    act_layer: type[nn.Module] = nn.ReLU,
) -> ClassicNet:
    features = nn.Sequential(
        # seed 000: 1 input channel on Fashion-MNIST where ImageNet has 3.
        nn.Conv2d(in_channels, 96, kernel_size=11, stride=4, padding=1),
        act_layer(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2),
        act_layer(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1),
        act_layer(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1),
        act_layer(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        act_layer(),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )
    flat = math.prod(features_output_shape("alexnet", features, in_channels, input_size))  # 6400 at 224
    head = nn.Sequential(
        nn.Flatten(),
        nn.Linear(flat, 4096),
        act_layer(),
        nn.Dropout(p=dropout),
        nn.Linear(4096, 4096),
        act_layer(),
        nn.Dropout(p=dropout),
        nn.Linear(4096, num_classes),
    )
    return ClassicNet(
        "alexnet",
        features,
        head,
        in_channels=in_channels,
        classifier_name="head.7",
        fixed_input_size=input_size,
    )

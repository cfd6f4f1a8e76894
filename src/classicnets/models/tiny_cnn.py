"""Seed 003's toy CNN for two 4x4 images: Conv(1,1,3) -> MaxPool(2) -> ReLU -> Flatten ->
Linear(1,1) -> Sigmoid, 12 parameters, trained with BCELoss."""

from __future__ import annotations

import math

from torch import nn

from classicnets.models.base import ClassicNet, features_output_shape
from classicnets.models.registry import register_model


@register_model(
    description="seed 003's toy CNN for 4x4 images: conv3, max-pool, ReLU, linear, sigmoid",
    seed="003",
)
def tiny_cnn(*, in_channels: int = 1, num_classes: int = 1, input_size: int = 4) -> ClassicNet:
    features = nn.Sequential(nn.Conv2d(in_channels, 1, kernel_size=3), nn.MaxPool2d(2), nn.ReLU())
    flat = math.prod(features_output_shape("tiny_cnn", features, in_channels, input_size))
    # seed 003 ends in a sigmoid because it trains with BCELoss: the outputs are probabilities.
    head = nn.Sequential(nn.Flatten(), nn.Linear(flat, num_classes), nn.Sigmoid())
    return ClassicNet(
        "tiny_cnn",
        features,
        head,
        in_channels=in_channels,
        classifier_name="head.1",
        fixed_input_size=input_size,
    )

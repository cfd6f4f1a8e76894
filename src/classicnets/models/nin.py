"""Network in Network (seed 000): `nin_block`s (a conv then two 1x1 convs) with max-pooling,
and a last block with one channel per class averaged globally instead of dense layers."""

from __future__ import annotations

from torch import nn

from classicnets.models.base import ClassicNet
from classicnets.models.registry import register_model


def nin_block(
    in_channels: int, out_channels: int, kernel_size: int, strides: int, padding: int
) -> nn.Sequential:
    """A conv, then two 1x1 convs acting as a per-pixel fully connected layer, each with ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=strides, padding=padding),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1),
        nn.ReLU(),
    )


@register_model(
    description="NiN: four nin_blocks (AlexNet's sizes) with max-pooling, dropout, global average pooling",
    seed="000",
    cpu_channels_last=True,
)
def nin(*, in_channels: int = 1, num_classes: int = 10, dropout: float = 0.5) -> ClassicNet:
    features = nn.Sequential(
        nin_block(in_channels, 96, kernel_size=11, strides=4, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, kernel_size=5, strides=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(dropout),
    )
    # The last block is the classifier: one channel per class, averaged over the image.
    head = nn.Sequential(
        nin_block(384, num_classes, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
    )
    return ClassicNet("nin", features, head, in_channels=in_channels, classifier_name="head.0")

"""ResNet-18 (seed 004) and ResNet-34: `Residual` blocks with batch normalisation, grouped
by `resnet_block`, after a 7x7/2 stem."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from classicnets.models.base import ClassicNet
from classicnets.models.registry import register_model


class Residual(nn.Module):
    """Two 3x3 convs with BN; a 1x1 conv (`conv3`) reshapes the shortcut when the channels
    or the stride change (seed 004, the book's `Residual`)."""

    def __init__(
        self, in_channels: int, out_channels: int, use_1x1conv: bool = False, stride: int = 1
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.conv3 = (
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride) if use_1x1conv else None
        )
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.conv3 is not None:
            x = self.conv3(x)
        return F.relu(y + x)


def resnet_block(
    in_channels: int, out_channels: int, num_residuals: int, first_block: bool = False
) -> nn.Sequential:
    """`num_residuals` blocks; all but the first stage halve the size in their first block."""
    if first_block and in_channels != out_channels:
        raise ValueError("the first stage keeps the stem's channel count")
    blocks = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blocks.append(Residual(in_channels, out_channels, use_1x1conv=True, stride=2))
        else:
            blocks.append(Residual(out_channels, out_channels))
    return nn.Sequential(*blocks)


def _resnet(
    name: str, layers: tuple[int, int, int, int], *, in_channels: int, num_classes: int
) -> ClassicNet:
    # Names follow seed 004: the stem is children 0-3, then "resnet_block1".."resnet_block4".
    stages: list[tuple[str, nn.Module]] = [
        ("0", nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)),
        ("1", nn.BatchNorm2d(64)),
        ("2", nn.ReLU()),
        ("3", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
    ]
    channels = (64, 64, 128, 256, 512)
    for i, blocks in enumerate(layers):
        stages.append(
            (f"resnet_block{i + 1}", resnet_block(channels[i], channels[i + 1], blocks, first_block=i == 0))
        )
    head = nn.Sequential(
        OrderedDict(
            [
                ("global_avg_pool", nn.AdaptiveAvgPool2d((1, 1))),
                ("fc", nn.Sequential(nn.Flatten(), nn.Linear(512, num_classes))),
            ]
        )
    )
    return ClassicNet(
        name, nn.Sequential(OrderedDict(stages)), head, in_channels=in_channels, classifier_name="head.fc.1"
    )


@register_model(
    description="ResNet-18: 7x7 stem, 4 stages of 2 residual blocks (64-512), global average pooling",
    seed="004",
)
def resnet18(*, in_channels: int = 1, num_classes: int = 10) -> ClassicNet:
    return _resnet("resnet18", (2, 2, 2, 2), in_channels=in_channels, num_classes=num_classes)


@register_model(
    description="ResNet-34: ResNet-18's blocks in stages of 3, 4, 6, 3",
    seed="004",
)
def resnet34(*, in_channels: int = 1, num_classes: int = 10) -> ClassicNet:
    return _resnet("resnet34", (3, 4, 6, 3), in_channels=in_channels, num_classes=num_classes)

"""DenseNet (seed 004): dense blocks whose convs see the concatenation of every earlier
output, with transition blocks that halve the channels and the size between them."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from classicnets.models.base import ClassicNet
from classicnets.models.registry import register_model


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """BN, ReLU, 3x3 conv: the pre-activation order DenseNet uses."""
    return nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(), nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
    )


class DenseBlock(nn.Module):
    """`num_convs` conv blocks, each adding `out_channels` (the growth rate) channels."""

    def __init__(self, num_convs: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.net = nn.ModuleList(
            conv_block(in_channels + i * out_channels, out_channels) for i in range(num_convs)
        )
        self.out_channels = in_channels + num_convs * out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.net:
            x = torch.cat((x, blk(x)), dim=1)  # concatenate input and output on channels
        return x


def transition_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """BN, ReLU, 1x1 conv to fewer channels, 2x2 average pooling to half the size."""
    return nn.Sequential(
        nn.BatchNorm2d(in_channels),
        nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, kernel_size=1),
        nn.AvgPool2d(kernel_size=2, stride=2),
    )


@register_model(
    description="DenseNet: 7x7 stem, 4 dense blocks of 4 convs (growth 32), halving transitions, GAP",
    seed="004",
    cpu_channels_last=True,
)
def densenet(
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    growth_rate: int = 32,
    num_convs_in_dense_blocks: tuple[int, ...] = (4, 4, 4, 4),
) -> ClassicNet:
    layers: list[tuple[str, nn.Module]] = [
        ("0", nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)),
        ("1", nn.BatchNorm2d(64)),
        ("2", nn.ReLU()),
        ("3", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
    ]
    num_channels = 64
    for i, num_convs in enumerate(num_convs_in_dense_blocks):
        block = DenseBlock(num_convs, num_channels, growth_rate)
        layers.append((f"DenseBlock_{i}", block))  # seed 004 spells it "DenseBlosk_%d"
        num_channels = block.out_channels
        if i != len(num_convs_in_dense_blocks) - 1:
            layers.append((f"transition_block_{i}", transition_block(num_channels, num_channels // 2)))
            num_channels //= 2
    layers += [("BN", nn.BatchNorm2d(num_channels)), ("relu", nn.ReLU())]
    head = nn.Sequential(
        OrderedDict(
            [
                ("global_avg_pool", nn.AdaptiveAvgPool2d((1, 1))),
                ("fc", nn.Sequential(nn.Flatten(), nn.Linear(num_channels, num_classes))),
            ]
        )
    )
    return ClassicNet(
        "densenet",
        nn.Sequential(OrderedDict(layers)),
        head,
        in_channels=in_channels,
        classifier_name="head.fc.1",
    )

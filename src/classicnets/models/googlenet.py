"""GoogLeNet as the d2l book's "Networks with Parallel Concatenations" chapter builds it for
Fashion-MNIST (the same chapter as the seeds' networks; no seed carries it)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from classicnets.models.base import ClassicNet
from classicnets.models.registry import register_model


def _conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    padding: int = 0,
    stride: int = 1,
    batch_norm: bool = False,
) -> nn.Module:
    """A conv, followed by BatchNorm in the `batch_norm` variant (the activation comes after)."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=stride, padding=padding)
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels)) if batch_norm else conv


class Inception(nn.Module):
    """Four parallel paths concatenated on channels: 1x1; 1x1 then 3x3; 1x1 then 5x5;
    3x3 max-pool then 1x1. `c2` and `c3` are (reduce, out) channel pairs. `batch_norm` adds BN
    after every conv (not in the book: without it the network is slow to start from scratch)."""

    def __init__(
        self,
        in_channels: int,
        c1: int,
        c2: tuple[int, int],
        c3: tuple[int, int],
        c4: int,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        bn = batch_norm
        self.p1_1 = _conv(in_channels, c1, 1, batch_norm=bn)
        self.p2_1 = _conv(in_channels, c2[0], 1, batch_norm=bn)
        self.p2_2 = _conv(c2[0], c2[1], 3, padding=1, batch_norm=bn)
        self.p3_1 = _conv(in_channels, c3[0], 1, batch_norm=bn)
        self.p3_2 = _conv(c3[0], c3[1], 5, padding=2, batch_norm=bn)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = _conv(in_channels, c4, 1, batch_norm=bn)
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)


@register_model(
    description="GoogLeNet: 9 Inception blocks in 5 stages, global average pooling, 1024-10",
    seed="d2l ch. 7",
    cpu_channels_last=True,
)
def googlenet(*, in_channels: int = 1, num_classes: int = 10, batch_norm: bool = False) -> ClassicNet:
    bn = batch_norm
    b1 = nn.Sequential(
        _conv(in_channels, 64, 7, stride=2, padding=3, batch_norm=bn),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    b2 = nn.Sequential(
        _conv(64, 64, 1, batch_norm=bn),
        nn.ReLU(),
        _conv(64, 192, 3, padding=1, batch_norm=bn),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    b3 = nn.Sequential(
        Inception(192, 64, (96, 128), (16, 32), 32, bn),
        Inception(256, 128, (128, 192), (32, 96), 64, bn),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    b4 = nn.Sequential(
        Inception(480, 192, (96, 208), (16, 48), 64, bn),
        Inception(512, 160, (112, 224), (24, 64), 64, bn),
        Inception(512, 128, (128, 256), (24, 64), 64, bn),
        Inception(512, 112, (144, 288), (32, 64), 64, bn),
        Inception(528, 256, (160, 320), (32, 128), 128, bn),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    # The book ends b5 with the global pooling and flatten; they live in the head here so
    # that `forward_features` returns feature maps, as for every other network.
    b5 = nn.Sequential(
        Inception(832, 256, (160, 320), (32, 128), 128, bn),
        Inception(832, 384, (192, 384), (48, 128), 128, bn),
    )
    features = nn.Sequential(b1, b2, b3, b4, b5)
    head = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(1024, num_classes))
    return ClassicNet("googlenet", features, head, in_channels=in_channels, classifier_name="head.2")

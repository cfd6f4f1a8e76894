"""VGG (seeds 000 and 001): `vgg_block`s built from an architecture table, then a
4096-4096-classes classifier whose input width follows the input size. Builder arguments make
the small variants: every block narrowed (`width_ratio`, seed 000's `small_conv_arch`), only the
first `blocks` blocks (a 28 px input survives three 2x2 pools, not five), BatchNorm after each
conv, and a narrower classifier (`hidden`; 0: one linear layer on the flattened features)."""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import nn

from classicnets.errors import ModelError
from classicnets.models.base import ClassicNet, features_output_shape
from classicnets.models.registry import register_model

# (number of 3x3 convs, output channels) per block; VGG-11 is seed 000's `conv_arch`.
VGG_ARCHS: dict[str, tuple[tuple[int, int], ...]] = {
    "vgg11": ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),
    "vgg13": ((2, 64), (2, 128), (2, 256), (2, 512), (2, 512)),
    "vgg16": ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),
    "vgg19": ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)),
}


def vgg_block(
    num_convs: int,
    in_channels: int,
    out_channels: int,
    *,
    batch_norm: bool = False,
    act_layer: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """`num_convs` 3x3 convs (padding 1 keeps the size), then a 2x2 max-pool that halves it."""
    layers: list[nn.Module] = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(act_layer())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def _vgg(
    name: str,
    *,
    in_channels: int,
    num_classes: int,
    input_size: int,
    width_ratio: int,
    batch_norm: bool,
    dropout: float,
    act_layer: type[nn.Module],
    blocks: int | None,
    hidden: int,
) -> ClassicNet:
    if width_ratio < 1:
        raise ModelError(f"width_ratio must be a positive integer, got {width_ratio}")
    arch = VGG_ARCHS[name]
    if blocks is not None and not 1 <= blocks <= len(arch):
        raise ModelError(f"blocks must be from 1 to {len(arch)} (the blocks of {name} to keep), got {blocks}")
    if hidden < 0:
        raise ModelError(f"hidden must be a width >= 0 (0: one linear layer), got {hidden}")
    stages, channels = [], in_channels
    for num_convs, out_channels in arch[:blocks]:
        # seed 000: `small_conv_arch = [(pair[0], pair[1] // ratio) ...]` narrows every block.
        out_channels //= width_ratio
        stages.append(
            vgg_block(num_convs, channels, out_channels, batch_norm=batch_norm, act_layer=act_layer)
        )
        channels = out_channels
    features = nn.Sequential(*stages)
    flat = math.prod(features_output_shape(name, features, in_channels, input_size))  # 7x7 at 224, 3x3 at 96
    if hidden:
        head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, hidden),
            act_layer(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            act_layer(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
    else:
        head = nn.Sequential(nn.Flatten(), nn.Linear(flat, num_classes))
    return ClassicNet(
        name,
        features,
        head,
        in_channels=in_channels,
        classifier_name=f"head.{len(head) - 1}",
        fixed_input_size=input_size,
    )


def _register_vgg(name: str, layers: str, seed: str) -> Callable[..., ClassicNet]:
    def builder(
        *,
        in_channels: int = 1,
        num_classes: int = 10,
        input_size: int = 224,
        width_ratio: int = 1,
        batch_norm: bool = False,
        dropout: float = 0.5,
        act_layer: type[nn.Module] = nn.ReLU,
        blocks: int | None = None,
        hidden: int = 4096,
    ) -> ClassicNet:
        return _vgg(
            name,
            in_channels=in_channels,
            num_classes=num_classes,
            input_size=input_size,
            width_ratio=width_ratio,
            batch_norm=batch_norm,
            dropout=dropout,
            act_layer=act_layer,
            blocks=blocks,
            hidden=hidden,
        )

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = f"{name.upper()}: {layers}; `width_ratio=4` is the book's narrow variant."
    return register_model(
        description=f"{name.upper()}: {layers} 3x3 convs in 5 vgg_blocks, 4096-4096-10 classifier",
        seed=seed,
        cpu_channels_last=True,
    )(builder)


vgg11 = _register_vgg("vgg11", "8", "000")
vgg13 = _register_vgg("vgg13", "10", "001")
vgg16 = _register_vgg("vgg16", "13", "001")
vgg19 = _register_vgg("vgg19", "16", "001")

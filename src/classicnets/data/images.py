"""A user's own picture as a Fashion-MNIST-like uint8 tensor (28, 28); the conversion itself
is in `classicnets.numpy_runtime.picture`, which needs no PyTorch."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from classicnets.numpy_runtime.picture import picture_array, read_picture


def to_fashion_mnist(image: Image.Image) -> torch.Tensor:
    """A PIL image of any size and mode -> uint8 tensor (28, 28), light object on black."""
    return torch.from_numpy(picture_array(image))


def load_image(path: str | Path) -> torch.Tensor:
    """Read an image file (PNG, JPEG, ...) and convert it; a clear error if it is not one."""
    return torch.from_numpy(read_picture(path))

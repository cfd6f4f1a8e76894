"""Turning a user's own picture into a Fashion-MNIST-like image, with NumPy and PIL only
(the PyTorch-free runtime reads pictures too).

Fashion-MNIST items are light on a black background, trimmed to the object and scaled so
the longest side fills the 28x28 frame. A photo of a shirt on a white table is the opposite
polarity and has margins: it is converted to grayscale (transparent pixels become white
first), inverted when its border is light, cropped to the object, padded to a square and
resized to 28x28.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from classicnets.errors import DataError
from classicnets.inputs import FASHION_MNIST

IMAGE_SIZE = FASHION_MNIST.native_size
_FOREGROUND = 40  # gray level (after polarity fix) above which a pixel belongs to the object


def picture_array(image: Image.Image) -> np.ndarray:
    """A PIL image of any size and mode -> uint8 array (28, 28), light object on black."""
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    gray = np.asarray(image.convert("L"), dtype=np.uint8)
    height, width = gray.shape
    frame = max(1, min(height, width) // 20)
    border = np.concatenate([gray[:frame].ravel(), gray[-frame:].ravel(), gray[:, :frame].ravel(), gray[:, -frame:].ravel()])
    if border.mean() > 127:  # light background: Fashion-MNIST is light-on-dark
        gray = 255 - gray
    rows = np.flatnonzero((gray > _FOREGROUND).any(axis=1))
    cols = np.flatnonzero((gray > _FOREGROUND).any(axis=0))
    if len(rows) and len(cols):
        gray = gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    side = max(gray.shape)
    square = np.zeros((side, side), dtype=np.uint8)
    top, left = (side - gray.shape[0]) // 2, (side - gray.shape[1]) // 2
    square[top : top + gray.shape[0], left : left + gray.shape[1]] = gray
    resized = Image.fromarray(square).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8).copy()


def read_picture(path: str | Path) -> np.ndarray:
    """Read an image file (PNG, JPEG, ...) and convert it; a clear error if it is not one."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            return picture_array(image)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file PIL can read (PNG, JPEG, ...)") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot read the image ({exc})") from None

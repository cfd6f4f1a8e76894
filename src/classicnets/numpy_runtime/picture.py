"""Turning a user's own picture into a Fashion-MNIST-like image, with NumPy and PIL only
(the PyTorch-free runtime reads pictures too).

Fashion-MNIST items are light on a black background, trimmed to the object and scaled so
the longest side fills the 28x28 frame. A photo of a shirt on a white table is the opposite
polarity and has margins: it is converted to grayscale, inverted when its border is light,
cropped to the object, padded to a square and resized to 28x28.

Every mode PIL reads is converted faithfully: 16-bit and 32-bit grayscale are scaled, not
clipped, to 8 bits; palette images go through their palette. A transparent background is
filled with the shade farthest from the object's own (black behind a light object, white
behind a dark one), so the object stays visible whatever its colour.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from classicnets.errors import DataError
from classicnets.fileio import NotARegularFile, open_regular
from classicnets.inputs import FASHION_MNIST

IMAGE_SIZE = FASHION_MNIST.native_size
_FOREGROUND = 40  # gray level (after polarity fix) above which a pixel belongs to the object


def is_blank(array: np.ndarray) -> bool:
    """True when no pixel of a converted picture stands out from its background."""
    return int(array.max(initial=0)) <= _FOREGROUND


def grayscale(image: Image.Image) -> np.ndarray:
    """Any PIL image -> float32 gray levels on the 0..255 scale, transparency composited."""
    if image.mode == "P":  # through the palette (and its transparent entry, if any)
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        peak = values.max(initial=0)
        if image.mode.startswith("I;16") or (image.mode == "I" and peak > 255):
            top = 65535.0  # 16-bit samples (PIL reads some 16-bit files as 32-bit "I")
        else:
            top = 1.0 if image.mode == "F" and peak <= 1.0 else 255.0
        return np.clip(values * (255.0 / top), 0, 255).astype(np.float32)
    alpha = None
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
        image = rgba.convert("RGB")
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    if alpha is None or alpha.min() == 1.0:
        return gray
    weight = alpha.sum()
    object_level = float((gray * alpha).sum() / weight) if weight else 0.0
    background = 0.0 if object_level > 127.5 else 255.0
    return gray * alpha + background * (1.0 - alpha)


def picture_array(image: Image.Image) -> np.ndarray:
    """A PIL image of any size and mode -> uint8 array (28, 28), light object on black."""
    gray = np.rint(grayscale(image)).astype(np.uint8)
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
    """Read an image file (PNG, JPEG, ...) and convert it, upright as the camera's EXIF
    orientation says; a clear error if it is not one. Only regular files are opened: a FIFO
    would block forever, a device never end."""
    path = Path(path)
    try:
        fd = open_regular(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except NotARegularFile as exc:
        raise DataError(f"{path} is {exc.kind}, not a picture file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot open it ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "rb") as handle, Image.open(handle) as image:
            image.load()
            return picture_array(ImageOps.exif_transpose(image))
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file PIL can read (PNG, JPEG, ...)") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot read the image ({exc})") from None

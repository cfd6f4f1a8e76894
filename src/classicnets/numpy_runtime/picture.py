"""Turning a user's own picture into one of a run's images, with NumPy and PIL only (the
PyTorch-free runtime reads pictures too). Two ways, as the run's data set says (`InputSpec.picture`):

- "plain" (CIFAR-10, a folder or arrays of your own): decoded, converted to the run's channels
  (colour to grey, grey to colour), resized to its side. A folder's pictures were read by this
  same function, so a picture is prepared exactly as the run's training pictures were.
- "object" (the MNIST family), described below.

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

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from classicnets.errors import DataError
from classicnets.fileio import NotARegularFile, open_regular
from classicnets.inputs import FASHION_MNIST, InputSpec

IMAGE_SIZE = FASHION_MNIST.native_size
_HIGH_DEPTH = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_GREY = ("1", "L", "LA", "La", *_HIGH_DEPTH)
_FOREGROUND = 40  # gray level (after polarity fix) above which a pixel belongs to the object
MAX_PICTURE_PIXELS = 1 << 26  # 67 megapixels: more than a phone camera's photo
WORKING_SIDE = 2048  # a larger picture is shrunk to this before it is converted
_AVERAGED = ("L", "LA", "La", "RGB", "RGBA", "RGBa", "I", "F", "CMYK", "YCbCr")  # modes Image.reduce averages


def is_blank(array: np.ndarray) -> bool:
    """True when no pixel of a converted picture stands out from its background."""
    return int(array.max(initial=0)) <= _FOREGROUND


def grayscale(image: Image.Image) -> np.ndarray:
    """Any PIL image -> float32 gray levels on the 0..255 scale, transparency composited."""
    if image.mode == "P":  # through the palette (and its transparent entry, if any)
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in _HIGH_DEPTH:
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
    border = np.concatenate(
        [gray[:frame].ravel(), gray[-frame:].ravel(), gray[:, :frame].ravel(), gray[:, -frame:].ravel()]
    )
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


def is_colour(image: Image.Image) -> bool:
    """Whether a picture (opened, not necessarily decoded) has colour: by its mode, and for a
    palette picture by whether any palette entry is not grey."""
    if image.mode in _GREY:
        return False
    if image.mode in ("P", "PA"):
        palette = np.asarray(image.getpalette() or [], dtype=np.int64).reshape(-1, 3)
        return bool((palette != palette[:, :1]).any())
    return True


def plain_array(image: Image.Image, channels: int, side: int) -> np.ndarray:
    """A PIL image of any size and mode -> uint8 array (channels, side, side): grey through
    `grayscale`, colour with transparency over black, resized (bilinear) when its size differs."""
    if channels == 1 or image.mode in _HIGH_DEPTH:
        converted = Image.fromarray(np.rint(grayscale(image)).astype(np.uint8))
        if channels == 3:
            converted = converted.convert("RGB")
    else:
        rgba = image.convert("RGBA")
        converted = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("RGB")
    if converted.size != (side, side):
        converted = converted.resize((side, side), Image.Resampling.BILINEAR)
    array = np.asarray(converted, dtype=np.uint8)
    return (array[None] if array.ndim == 2 else array.transpose(2, 0, 1)).copy()


@contextlib.contextmanager
def open_picture(path: str | Path) -> Iterator[Image.Image]:
    """An image file, opened (its header read, nothing decoded yet) and closed after; a clear
    `DataError` if it is not one. Only regular files are opened: a FIFO would block forever, a
    device never end."""
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
            yield image
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file PIL can read (PNG, JPEG, ...)") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot read the image ({exc})") from None


def decode(image: Image.Image) -> Image.Image:
    """The picture's pixels, upright as the camera's EXIF orientation says, at most
    `WORKING_SIDE` pixels on its longest side (every run's side is far smaller).

    A picture of more than `MAX_PICTURE_PIXELS` is refused before it is decoded (a ValueError,
    which `open_picture` words), and a larger one is shrunk first, so that a few kilobytes
    declaring a huge or a very thin picture cannot make its conversion (a float per pixel, the
    square an object is padded to) take gigabytes.
    """
    width, height = image.size
    if width * height > MAX_PICTURE_PIXELS:
        raise ValueError(
            f"it is {width}x{height} pixels, more than {MAX_PICTURE_PIXELS >> 20} megapixels: shrink it first"
        )
    longest = max(width, height)
    if longest > WORKING_SIDE:  # JPEG decodes at 1/2, 1/4 or 1/8 of its size when asked
        image.draft(image.mode, (width * WORKING_SIDE // longest, height * WORKING_SIDE // longest))
    image.load()
    image = ImageOps.exif_transpose(image)
    factor = math.ceil(max(image.size) / WORKING_SIDE)
    if factor > 1:
        if image.mode in _AVERAGED:
            return image.reduce(factor)
        # palette indices, 1-bit and 16-bit pixels are picked, not averaged
        size = (math.ceil(image.width / factor), math.ceil(image.height / factor))
        return image.resize(size, Image.Resampling.NEAREST)
    return image


def read_picture(path: str | Path, spec: InputSpec) -> np.ndarray:
    """Read an image file (PNG, JPEG, ...) as one of `spec`'s images: uint8 (C, H, W) at the
    data set's own side, before normalisation and resize."""
    with open_picture(path) as image:
        if spec.picture == "object":
            return picture_array(decode(image))[None]
        return plain_array(decode(image), spec.channels, spec.native_size)

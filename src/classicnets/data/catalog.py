"""What Fashion-MNIST is: its four files, their checksums, its classes and statistics.

Everything here is a fact about the data set; finding, downloading and batching it live in
their own modules.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classicnets.data.idx import read_idx
from classicnets.errors import DataError
from classicnets.inputs import FASHION_MNIST

CLASS_NAMES: tuple[str, ...] = FASHION_MNIST.class_names
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = FASHION_MNIST.native_size

# (images, labels) file stems per split; on disk each may be gzipped (".gz") or not.
SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ALL_FILES: tuple[str, ...] = tuple(stem for pair in SPLIT_FILES.values() for stem in pair)

# SHA-256 of the *decompressed* files: recompressed copies (Debian's, say) differ in their .gz
# bytes but not here, so one hash per file covers every source.
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

# Bytes of each decompressed file (its IDX header and elements): a download may be no larger
# than this plus gzip's overhead, whatever the server says.
SIZES: dict[str, int] = {
    "train-images-idx3-ubyte": 16 + 60000 * 28 * 28,
    "train-labels-idx1-ubyte": 8 + 60000,
    "t10k-images-idx3-ubyte": 16 + 10000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + 10000,
}

# Training-set pixel statistics on the [0, 1] scale (SPEC.md; `classicnets data` recomputes them).
TRAIN_MEAN = 0.2860
TRAIN_STD = 0.3530

MIRROR_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


def find_member(directory: Path, stem: str) -> Path | None:
    """The file for `stem` in `directory`, preferring the gzipped one, or None."""
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def missing_members(directory: Path) -> list[str]:
    """The stems of the four files that `directory` lacks."""
    return [stem for stem in ALL_FILES if find_member(directory, stem) is None]


def read_member(path: Path, stem: str, *, verify: bool = True) -> np.ndarray:
    """Parse one of the four files; with `verify`, its SHA-256 must be the known one."""
    parsed = read_idx(path)
    if verify and parsed.sha256 != SHA256[stem]:
        raise DataError(
            f"{path} does not match Fashion-MNIST's {stem}: SHA-256 of its decompressed bytes "
            f"is {parsed.sha256}, expected {SHA256[stem]}. The file is damaged or is another "
            "data set with the same file name (MNIST uses the same names); replace it"
        )
    return parsed.array

"""Finding and loading Fashion-MNIST into uint8 tensors.

Search order (the first directory holding all four files wins):
1. a directory passed explicitly (`data_dir`, `--data-dir`);
2. `$CLASSICNETS_DATA`;
3. the user cache, `~/.cache/classicnets/fashion-mnist` (`$XDG_CACHE_HOME` respected);
4. torchvision's `FashionMNIST/raw` layout under a given root (default: seed 002's
   `~/.pytorch/F_MNIST_data`);
5. the Debian package `dataset-fashion-mnist`, `/usr/share/datasets/fashion-mnist`;
6. otherwise a download from the official mirror into the user cache.

A directory the user names (1, 2) must hold the data: silently falling through to another
copy would hide their mistake.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from classicnets.data.catalog import (
    CLASS_NAMES,
    IMAGE_SIZE,
    MIRROR_URL,
    SPLIT_FILES,
    find_member,
    missing_members,
    read_member,
)
from classicnets.data.download import download_fashion_mnist
from classicnets.errors import DataError, DataNotFoundError, DownloadError
from classicnets.fileio import cache_dir

ENV_VAR = "CLASSICNETS_DATA"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_TORCHVISION_ROOT = Path("~/.pytorch/F_MNIST_data")  # seed 002's download root


def user_cache_dir() -> Path:
    return cache_dir() / "fashion-mnist"


@dataclass(frozen=True)
class DataSource:
    """Where the data was found: the directory and which rule of the search order found it."""

    path: Path
    how: str


def _torchvision_dirs(root: Path) -> list[Path]:
    return [root / "FashionMNIST" / "raw"]


def _named_dir(path: Path, how: str) -> DataSource:
    """A directory the user named: it (or its torchvision layout) must hold all four files."""
    path = path.expanduser()
    for candidate in [path, *_torchvision_dirs(path)]:
        if candidate.is_dir() and not missing_members(candidate):
            return DataSource(candidate.resolve(), how)
    if not path.is_dir():
        raise DataNotFoundError(f"{how} names {path}, which is not a directory")
    missing = ", ".join(f"{stem}[.gz]" for stem in missing_members(path))
    raise DataNotFoundError(f"{how} names {path}, which lacks {missing}")


def locate_fashion_mnist(
    data_dir: str | Path | None = None,
    *,
    torchvision_root: str | Path | None = None,
    download: bool = True,
    mirror_url: str = MIRROR_URL,
    show_progress: bool = True,
) -> DataSource:
    """Find Fashion-MNIST following the search order above, downloading it as a last resort."""
    if data_dir is not None:
        return _named_dir(Path(data_dir), "--data-dir")
    if os.environ.get(ENV_VAR):
        return _named_dir(Path(os.environ[ENV_VAR]), f"${ENV_VAR}")

    cache = user_cache_dir()
    tv_root = Path(torchvision_root or DEFAULT_TORCHVISION_ROOT).expanduser()
    candidates = [
        (cache, "user cache"),
        *[(d, "torchvision layout") for d in _torchvision_dirs(tv_root)],
        (DEBIAN_DIR, "Debian package dataset-fashion-mnist"),
    ]
    for path, how in candidates:
        if path.is_dir() and not missing_members(path):
            return DataSource(path, how)

    tried = [str(path) for path, _ in candidates]
    if download:
        try:
            download_fashion_mnist(cache, mirror_url, show_progress=show_progress)
            return DataSource(cache, f"downloaded from {mirror_url}")
        except DownloadError as exc:
            tried.append(f"download from {mirror_url}: {exc}")
    raise DataNotFoundError(
        "Fashion-MNIST not found. Tried: " + "; ".join(tried) + ". Fix it by one of: "
        "(1) install the Debian package: apt-get install dataset-fashion-mnist; "
        f"(2) download the four .gz files from {mirror_url} into {cache}; "
        f"(3) pass --data-dir DIR (or set ${ENV_VAR}) naming a directory that holds them"
    )


@dataclass(frozen=True)
class Split:
    """One split of the data: images as uint8 (N, 28, 28), labels as int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: torch.Tensor) -> "Split":
        return Split(self.images[indices], self.labels[indices])

    def head(self, limit: int | None) -> "Split":
        """The first `limit` examples (the files are already in shuffled order), or all."""
        if limit is None or limit >= len(self):
            return self
        if limit <= 0:
            raise DataError(f"limit must be a positive number of examples, got {limit}")
        return Split(self.images[:limit], self.labels[:limit])

    def class_counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=len(CLASS_NAMES)).tolist()


@dataclass(frozen=True)
class FashionMNIST:
    train: Split
    test: Split
    source: DataSource
    verified: bool


def _read_split(directory: Path, split: str, verify: bool) -> Split:
    image_stem, label_stem = SPLIT_FILES[split]
    image_path, label_path = find_member(directory, image_stem), find_member(directory, label_stem)
    if image_path is None or label_path is None:
        raise DataNotFoundError(f"{directory} lacks the {split} files {image_stem}, {label_stem}")
    images = read_member(image_path, image_stem, verify=verify)
    labels = read_member(label_path, label_stem, verify=verify)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(
            f"{image_path}: expected uint8 images of {IMAGE_SIZE}x{IMAGE_SIZE}, "
            f"got {images.dtype} {'x'.join(map(str, images.shape))}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{label_path}: expected a 1-D array of uint8 labels, got {labels.shape}")
    if len(labels) != len(images):
        raise DataError(
            f"{split}: {len(images)} images ({image_path.name}) but {len(labels)} labels "
            f"({label_path.name})"
        )
    if len(labels) and int(labels.max()) >= len(CLASS_NAMES):
        bad = int(np.argmax(labels >= len(CLASS_NAMES)))
        raise DataError(
            f"{label_path}: label {int(labels[bad])} at index {bad} is out of range "
            f"0..{len(CLASS_NAMES) - 1}"
        )
    return Split(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))


@functools.lru_cache(maxsize=4)
def _load_cached(directory: Path, how: str, verify: bool) -> FashionMNIST:
    source = DataSource(directory, how)
    return FashionMNIST(
        train=_read_split(directory, "train", verify),
        test=_read_split(directory, "test", verify),
        source=source,
        verified=verify,
    )


def load_fashion_mnist(
    data_dir: str | Path | None = None,
    *,
    torchvision_root: str | Path | None = None,
    download: bool = True,
    verify: bool = True,
    show_progress: bool = True,
) -> FashionMNIST:
    """Find, verify and load Fashion-MNIST (cached per directory within a process)."""
    source = locate_fashion_mnist(
        data_dir, torchvision_root=torchvision_root, download=download, show_progress=show_progress
    )
    return _load_cached(source.path, source.how, verify)


def split_validation(train: Split, size: int | float, seed: int = 0) -> tuple[Split, Split]:
    """Carve a deterministic validation set out of the training split.

    `size` is a count of examples, or a fraction of the split when below 1. The same seed
    gives the same carve on every machine (torch's CPU generator is portable).
    """
    count = int(round(size * len(train))) if isinstance(size, float) and size < 1 else int(size)
    if not 0 < count < len(train):
        raise DataError(
            f"validation size must leave both parts non-empty: got {size} of {len(train)} examples"
        )
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    return train.subset(order[count:]), train.subset(order[:count])

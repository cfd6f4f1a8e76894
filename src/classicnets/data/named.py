"""Finding, verifying and loading the named data sets (Fashion-MNIST, MNIST, KMNIST, CIFAR-10).

Search order (the first directory holding all of a data set's files wins):
1. a directory passed explicitly (`data_dir`, `--data-dir`);
2. `$CLASSICNETS_DATA`;
3. the user cache, `~/.cache/classicnets/NAME` (`$XDG_CACHE_HOME` respected);
4. torchvision's `ROOT/NAME/raw` layout under a given root (default: seed 002's
   `~/.pytorch/F_MNIST_data`);
5. a Debian package (`dataset-fashion-mnist`, `/usr/share/datasets/fashion-mnist`);
6. otherwise a download from the data set's mirrors (or `--mirror`) into the user cache.

A directory the user names (1, 2) must hold the data: silently falling through to another
copy would hide their mistake. It may hold the files itself, or `NAME/` or torchvision's
layout under it, so one directory can hold several data sets.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from classicnets.data.catalog import (
    CIFAR_BINARY,
    IDX_SPLITS,
    CatalogEntry,
    catalog_entry,
    check_md5,
    find_member,
    missing_members,
)
from classicnets.data.cifar import read_archive
from classicnets.data.download import download_dataset
from classicnets.data.split import Split, check_labels
from classicnets.data.verify import read_member
from classicnets.errors import DataError, DataNotFoundError, DownloadError
from classicnets.fileio import cache_dir
from classicnets.inputs import Dataset

ENV_VAR = "CLASSICNETS_DATA"
DEFAULT_TORCHVISION_ROOT = Path("~/.pytorch/F_MNIST_data")  # seed 002's download root


def user_cache_dir(name: str = "fashion-mnist") -> Path:
    return cache_dir() / name


@dataclass(frozen=True)
class DataSource:
    """Where the data was found: the directory (or file) and which rule found it."""

    path: Path
    how: str


@dataclass(frozen=True)
class Data:
    """A data set's two splits, its facts and where they came from."""

    info: Dataset
    train: Split
    test: Split
    source: DataSource
    verified: bool
    fingerprint: str = ""  # a user's own data set: what its files were when read
    test_fraction: float = 0.0  # the share of each class held out as the test split (0: the data set's own)
    skipped: tuple[tuple[str, str], ...] = ()  # (file, why) of pictures that could not be read


def _layouts(path: Path, entry: CatalogEntry) -> list[Path]:
    layouts = [path, path / entry.info.name]
    if entry.torchvision_dir:
        layouts.append(path / entry.torchvision_dir / "raw")
    return layouts


def _named_dir(path: Path, how: str, entry: CatalogEntry) -> DataSource:
    """A directory the user named: it (or a layout under it) must hold all the files."""
    path = path.expanduser()
    for candidate in _layouts(path, entry):
        if candidate.is_dir() and not missing_members(candidate, entry):
            return DataSource(candidate.resolve(), how)
    if not path.is_dir():
        raise DataNotFoundError(f"{how} names {path}, which is not a directory")
    missing = ", ".join(_shown(entry, name) for name in missing_members(path, entry))
    raise DataNotFoundError(f"{how} names {path}, which lacks {entry.info.title}'s {missing}")


def _shown(entry: CatalogEntry, name: str) -> str:
    return name if entry.format == CIFAR_BINARY else f"{name.removesuffix('.gz')}[.gz]"


def locate_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    torchvision_root: str | Path | None = None,
    download: bool = True,
    mirror_url: str | None = None,
    show_progress: bool = True,
) -> DataSource:
    """Find data set `name` following the search order above, downloading it as a last resort."""
    entry = catalog_entry(name)
    if data_dir is not None:
        return _named_dir(Path(data_dir), "--data-dir", entry)
    if os.environ.get(ENV_VAR):
        return _named_dir(Path(os.environ[ENV_VAR]), f"${ENV_VAR}", entry)

    cache = user_cache_dir(name)
    tv_root = Path(torchvision_root or DEFAULT_TORCHVISION_ROOT).expanduser()
    candidates = [(cache, "user cache")]
    if entry.torchvision_dir:
        candidates.append((tv_root / entry.torchvision_dir / "raw", "torchvision layout"))
    if entry.debian_dir is not None:
        candidates.append((entry.debian_dir, f"Debian package dataset-{name}"))
    for path, how in candidates:
        if path.is_dir() and not missing_members(path, entry):
            return DataSource(path, how)

    tried = [str(path) for path, _ in candidates]
    mirrors = (mirror_url,) if mirror_url else entry.mirrors
    if download:
        for url in mirrors:
            try:
                download_dataset(entry, cache, url, show_progress=show_progress)
                return DataSource(cache, f"downloaded from {url}")
            except DownloadError as exc:
                tried.append(f"download from {url}: {exc}")
    fixes = [
        f"download {', '.join(m.name for m in entry.members)} from {mirrors[0]} into {cache}",
        f"pass --data-dir DIR (or set ${ENV_VAR}) naming a directory that holds them",
    ]
    if entry.debian_dir is not None:
        fixes.insert(0, f"install the Debian package: apt-get install dataset-{name}")
    raise DataNotFoundError(
        f"{entry.info.title} not found. Tried: "
        + "; ".join(tried)
        + ". Fix it by one of: "
        + "; ".join(f"({i}) {fix}" for i, fix in enumerate(fixes, 1))
    )


def _idx_split(directory: Path, entry: CatalogEntry, split: str, verify: bool) -> Split:
    info = entry.info
    members = [entry.member(n) for n in IDX_SPLITS[split]]
    paths = [find_member(directory, m) for m in members]
    if None in paths:
        raise DataNotFoundError(f"{directory} lacks the {split} files {', '.join(m.stem for m in members)}")
    image_path, label_path = paths[0], paths[1]
    assert image_path is not None and label_path is not None
    images = read_member(image_path, members[0], info.title, verify=verify)
    labels = read_member(label_path, members[1], info.title, verify=verify)
    side = info.native_size
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (side, side):
        raise DataError(
            f"{image_path}: expected uint8 images of {side}x{side}, "
            f"got {images.dtype} {'x'.join(map(str, images.shape))}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{label_path}: expected a 1-D array of uint8 labels, got {labels.shape}")
    if len(labels) != len(images):
        raise DataError(
            f"{split}: {len(images)} images ({image_path.name}) but {len(labels)} labels ({label_path.name})"
        )
    check_labels(labels, len(info.class_names), str(label_path))
    return Split(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))


@functools.lru_cache(maxsize=4)
def _load_cached(name: str, directory: Path, how: str, verify: bool) -> Data:
    entry = catalog_entry(name)
    source = DataSource(directory, how)
    if entry.format == CIFAR_BINARY:
        member = entry.members[0]
        path = directory / member.name
        if verify:
            check_md5(path, member, entry.info.title)
        splits = {
            split: Split(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)))
            for split, (images, labels) in read_archive(path).items()
        }
        return Data(entry.info, splits["train"], splits["test"], source, verify)
    return Data(
        entry.info,
        _idx_split(directory, entry, "train", verify),
        _idx_split(directory, entry, "test", verify),
        source,
        verify,
    )


def load_dataset(
    name: str = "fashion-mnist",
    data_dir: str | Path | None = None,
    *,
    torchvision_root: str | Path | None = None,
    download: bool = True,
    verify: bool = True,
    mirror_url: str | None = None,
    show_progress: bool = True,
) -> Data:
    """Find, verify and load a named data set (cached per directory within a process)."""
    source = locate_dataset(
        name,
        data_dir,
        torchvision_root=torchvision_root,
        download=download,
        mirror_url=mirror_url,
        show_progress=show_progress,
    )
    return _load_cached(name, source.path, source.how, verify)


def load_fashion_mnist(data_dir: str | Path | None = None, **options: object) -> Data:
    """`load_dataset("fashion-mnist", ...)`: the book's data set, the notebooks' shorthand."""
    return load_dataset("fashion-mnist", data_dir, **options)  # type: ignore[arg-type]

"""Shared fixtures. Tests use the real Fashion-MNIST (the Debian package in CI) on the CPU."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from classicnets.data import Data, load_fashion_mnist, locate_dataset
from classicnets.data.catalog import CATALOG

ALL_FILES = tuple(m.stem for m in CATALOG["fashion-mnist"].members)

if os.environ.get("PYTEST_XDIST_WORKER"):
    # one worker per core (make test's -n auto): one thread each, for the worker and the processes it starts
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
else:
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def fashion() -> Data:
    """The real, verified data set, found the way a user's run finds it (never downloaded)."""
    return load_fashion_mnist(download=False, show_progress=False)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    return locate_dataset("fashion-mnist", download=False, show_progress=False).path


def _train(tmp_path_factory: pytest.TempPathFactory, model: str, recipe: str, **overrides: object) -> Path:
    from classicnets.trainer import run
    from classicnets.training import recipe_config

    out = tmp_path_factory.mktemp(f"{model}-{recipe}")
    return run(
        recipe_config(model, recipe, **overrides), out=out, show_progress=False, log=lambda s: None
    ).run_dir


@pytest.fixture(scope="session")
def trained_mlp_dir(tmp_path_factory: pytest.TempPathFactory, fashion: Data) -> Path:
    """Seed 002's MLP with its book recipe, 2 epochs on 20,000 images (about 85% test accuracy)."""
    return _train(tmp_path_factory, "mlp", "book", epochs=2, limit=20000)


@pytest.fixture(scope="session")
def trained_lenet_dir(tmp_path_factory: pytest.TempPathFactory, fashion: Data) -> Path:
    """LeNet with the fast recipe, 1 epoch on 20,000 images: a trained CNN in seconds."""
    return _train(tmp_path_factory, "lenet", "fast", epochs=1, limit=20000)


@pytest.fixture
def isolated_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every place the search order looks is an empty directory under `tmp_path`."""
    import dataclasses

    from classicnets.data import catalog, named

    monkeypatch.delenv("CLASSICNETS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    entry = catalog.CATALOG["fashion-mnist"]
    monkeypatch.setitem(
        catalog.CATALOG, "fashion-mnist", dataclasses.replace(entry, debian_dir=tmp_path / "debian")
    )
    monkeypatch.setattr(named, "DEFAULT_TORCHVISION_ROOT", tmp_path / "torchvision")
    return tmp_path


def link_real_files(src: Path, dest: Path) -> Path:
    """Make `dest` hold the four real files (as symlinks: no copying 30 MB per test)."""
    dest.mkdir(parents=True, exist_ok=True)
    for stem in ALL_FILES:
        (dest / f"{stem}.gz").symlink_to(src / f"{stem}.gz")
    return dest


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """Encode `array` as an IDX file (big-endian), as the format defines it."""
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_gz(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data))
    return path

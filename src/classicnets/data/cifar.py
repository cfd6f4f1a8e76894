"""Reading CIFAR-10's binary version: fixed-length records (one label byte, then the red, green
and blue 32x32 planes) in six files inside one .tar.gz, read from the archive as a stream.

Nothing is extracted and nothing is unpickled (the Python version is a pickle, which runs
code when it is read). Every member's size is checked against the format before it is read,
so a forged archive cannot make the reader allocate more than the data set's own 180 MB.
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path

import numpy as np

from classicnets.data.catalog import CIFAR_PER_BATCH, CIFAR_RECORD, CIFAR_SPLITS
from classicnets.data.split import check_labels
from classicnets.errors import DataError

_SIDE = 32
CLASSES = 10


def parse_records(data: bytes | bytearray | memoryview, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Records -> (uint8 images (N, 3, 32, 32), uint8 labels (N,)), every label checked."""
    if len(data) == 0 or len(data) % CIFAR_RECORD:
        raise DataError(
            f"{name}: {len(data):,} bytes is not a whole number of {CIFAR_RECORD}-byte CIFAR-10 records"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    labels = records[:, 0].copy()
    check_labels(labels, CLASSES, f"{name} (not CIFAR-10)")
    return records[:, 1:].reshape(-1, 3, _SIDE, _SIDE).copy(), labels


def read_archive(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The archive's train and test splits, each (images, labels)."""
    wanted = {name: split for split, names in CIFAR_SPLITS.items() for name in names}
    expected = CIFAR_PER_BATCH * CIFAR_RECORD
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with tarfile.open(path, mode="r|gz") as archive:
            for info in archive:
                if info.name not in wanted:
                    continue
                if not info.isfile() or info.size != expected:
                    raise DataError(
                        f"{path}: {info.name} is {info.size:,} bytes, not the {expected:,} of "
                        f"{CIFAR_PER_BATCH:,} records: not CIFAR-10's binary version"
                    )
                handle = archive.extractfile(info)
                data = handle.read(expected) if handle else b""
                if len(data) != expected:
                    raise DataError(
                        f"{path}: the archive ends inside {info.name}; delete it and fetch it again"
                    )
                parts[info.name] = parse_records(data, f"{path}:{info.name}")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{path} is not a readable .tar.gz ({exc}); delete it and fetch it again") from None
    missing = sorted(set(wanted) - set(parts))
    if missing:
        raise DataError(
            f"{path} lacks {', '.join(missing)}: not CIFAR-10's binary version (cifar-10-binary.tar.gz)"
        )
    return {
        split: (np.concatenate([parts[n][0] for n in names]), np.concatenate([parts[n][1] for n in names]))
        for split, names in CIFAR_SPLITS.items()
    }

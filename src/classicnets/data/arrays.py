"""A user's own arrays: an .npz file holding x_train, y_train, x_test, y_test (and optionally
class_names), read with allow_pickle=False so that nothing in it runs.

Images are uint8, (N, H, W) for grey or (N, H, W, C) / (N, C, H, W) with C = 1 or 3; labels
integers 0..K-1. Each member's size is checked against the archive before it is read, so a
small forged file cannot make the reader allocate gigabytes.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from classicnets.data.catalog import file_digest
from classicnets.data.named import Data, DataSource
from classicnets.data.split import Split, check_labels, check_splits
from classicnets.data.stats import channel_stats
from classicnets.errors import DataError
from classicnets.inputs import MAX_RESIZE, Dataset, check_class_names
from classicnets.validation import Invalid

REQUIRED = ("x_train", "y_train", "x_test", "y_test")
MAX_MEMBER_BYTES = 16 << 30
MAX_RATIO = 1000  # uncompressed / compressed: uint8 pictures compress far less


def _read_members(path: Path) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            missing = [k for k in REQUIRED if k not in infos]
            if missing:
                raise DataError(
                    f"npz:{path} lacks {', '.join(missing)} (it needs x_train, y_train, x_test, y_test)"
                )
            arrays = {}
            for key in (*REQUIRED, "class_names"):
                info = infos.get(key)
                if info is None:
                    continue
                if info.file_size > MAX_MEMBER_BYTES or info.file_size > MAX_RATIO * max(
                    info.compress_size, 1
                ):
                    raise DataError(
                        f"npz:{path}: {key} unpacks to {info.file_size:,} bytes from {info.compress_size:,}: "
                        "not a data set classicnets reads"
                    )
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = read_header(member)
                    need = math.prod(shape) * dtype.itemsize
                    if dtype.hasobject:
                        raise DataError(
                            f"npz:{path}: {key} holds Python objects (a pickle), which classicnets "
                            "never loads: store plain arrays"
                        )
                    if need > info.file_size:
                        raise DataError(
                            f"npz:{path}: {key} declares {shape} of {dtype}, more than its "
                            f"{info.file_size:,} bytes hold"
                        )
                with archive.open(info) as member:
                    arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
            return arrays
    # zipfile says NotImplementedError for a compression or zip version it lacks, RuntimeError
    # for an encrypted member: the file is still only one that cannot be read.
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        ValueError,
        SyntaxError,
        TypeError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        raise DataError(f"npz:{path}: not a NumPy .npz file classicnets can read ({exc})") from None


def _images(array: np.ndarray, name: str) -> np.ndarray:
    """uint8 (N, C, H, W) from (N, H, W), (N, H, W, C) or (N, C, H, W)."""
    if array.dtype != np.uint8:
        raise DataError(f"{name} holds {array.dtype}; store the pixels as uint8 (0..255)")
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[3] in (1, 3) and array.shape[1] not in (1, 3):
        array = array.transpose(0, 3, 1, 2)
    if array.ndim != 4 or array.shape[1] not in (1, 3):
        raise DataError(
            f"{name} is {array.shape}; expected (N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1 or 3"
        )
    if array.shape[2] != array.shape[3] or not 1 <= array.shape[2] <= MAX_RESIZE:
        raise DataError(
            f"{name}: images of {array.shape[2]}x{array.shape[3]}; they must be square, at most {MAX_RESIZE} px"
        )
    return np.ascontiguousarray(array)


def _labels(array: np.ndarray, count: int, name: str) -> np.ndarray:
    if array.dtype.kind not in "iu" or array.ndim != 1 or len(array) != count:
        raise DataError(
            f"{name} is {array.dtype} {array.shape}; expected {count} integer labels, one per image"
        )
    return array.astype(np.int64)


def load_npz(path: str | Path) -> Data:
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise DataError(f"npz:{path}: no such file")
    arrays = _read_members(path)
    x_train, x_test = _images(arrays["x_train"], "x_train"), _images(arrays["x_test"], "x_test")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            f"npz:{path}: x_train's images are {x_train.shape[1:]} but x_test's {x_test.shape[1:]}"
        )
    y_train = _labels(arrays["y_train"], len(x_train), "y_train")
    y_test = _labels(arrays["y_test"], len(x_test), "y_test")
    if "class_names" in arrays:
        names = arrays["class_names"]
        if names.dtype.kind != "U" or names.ndim != 1:
            raise DataError(
                f"npz:{path}: class_names is {names.dtype} {names.shape}; expected a 1-D array of strings"
            )
        classes = tuple(str(n) for n in names)
    else:
        top = int(max(y_train.max(initial=0), y_test.max(initial=0)))
        classes = tuple(str(i) for i in range(top + 1))
    try:
        check_class_names(classes, f"npz:{path}")
    except Invalid as exc:
        raise DataError(str(exc)) from None
    for labels, name in ((y_train, "y_train"), (y_test, "y_test")):
        check_labels(labels, len(classes), f"npz:{path}: {name}")
    train = Split(torch.from_numpy(x_train), torch.from_numpy(y_train))
    test = Split(torch.from_numpy(x_test), torch.from_numpy(y_test))
    check_splits(f"npz:{path}", train, test, classes)
    mean, std = channel_stats(train.images)
    info = Dataset(
        name=f"npz:{path}",
        title=f"npz:{path}",
        class_names=classes,
        native_size=x_train.shape[2],
        channels=x_train.shape[1],
        images=True,
        mean=mean,
        std=std,
    )
    return Data(
        info, train, test, DataSource(path, "read"), verified=False, fingerprint=file_digest(path, "sha256")
    )

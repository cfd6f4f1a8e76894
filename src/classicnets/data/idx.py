"""Reading IDX files (the MNIST family's format), gzipped or not, with full validation.

An IDX file is a 4-byte magic number (two zero bytes, an element-type code, the number of
dimensions), one big-endian uint32 per dimension, then the elements in C order, big-endian.
Every field is checked against the file's real length, so a truncated or padded file is an
error rather than a silently shorter data set.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classicnets.errors import DataError

# Element-type code -> big-endian NumPy dtype, as the format's definition lists them.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class IdxFile:
    """A parsed IDX file: its array and the SHA-256 of its decompressed bytes."""

    array: np.ndarray
    sha256: str


def read_raw_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed if it is gzip (decided by its magic bytes, not its name)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(
            f"{path} is a damaged gzip file ({exc}); delete it and fetch it again"
        ) from None


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the decompressed bytes of an IDX file into a native-endian array.

    `name` appears in error messages so the user knows which file is bad.
    """
    if len(data) < 4:
        raise DataError(f"{name}: {len(data)} bytes is too short for an IDX header")
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{name}: bad magic number 0x{data[:4].hex()} (an IDX file starts with two zero "
            "bytes); this is not an IDX file"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_DTYPES:
        raise DataError(f"{name}: unknown IDX element type 0x{type_code:02x}")
    if ndim == 0:
        raise DataError(f"{name}: IDX header declares zero dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(f"{name}: truncated header ({len(data)} bytes, need {header_len})")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[type_code]
    expected = header_len + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has trailing bytes"
        raise DataError(
            f"{name}: file {problem}: header says {'x'.join(map(str, dims))} elements of "
            f"{dtype.itemsize} byte(s) = {expected} bytes, file has {len(data)}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: Path) -> IdxFile:
    """Read, decompress and parse one IDX file, and hash its decompressed bytes."""
    data = read_raw_bytes(path)
    array = parse_idx(data, name=str(path))
    return IdxFile(array=array, sha256=hashlib.sha256(data).hexdigest())

"""Reading IDX files (the MNIST family's format), gzipped or not, with full validation.

An IDX file is a 4-byte magic number (two zero bytes, an element-type code, the number of
dimensions), one big-endian uint32 per dimension, then the elements in C order, big-endian.
Every field is checked against the file's real length before anything is allocated, so a
truncated or padded file is an error rather than a silently shorter data set, and a small
file cannot make the reader allocate gigabytes: a gzip file is read as a stream, its header
first, and never past the length its header declares.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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
# Fashion-MNIST's largest file is 47 MB; a header declaring more than this is not a data set
# this package reads, whatever the file's length says.
MAX_IDX_BYTES = 1 << 30
# Labels have one dimension and images three (N, H, W), or four with channels; NumPy itself
# stops at 64, and a header byte can say 255.
MAX_IDX_DIMS = 4
_CHUNK = 1 << 20


@dataclass(frozen=True)
class IdxFile:
    """A parsed IDX file: its array and the SHA-256 of its decompressed bytes."""

    array: np.ndarray
    sha256: str


@dataclass(frozen=True)
class _Header:
    dims: tuple[int, ...]
    dtype: np.dtype
    length: int  # bytes of the header itself

    @property
    def total(self) -> int:
        """Bytes the whole file must have: header plus elements (exact, no overflow)."""
        count = 1
        for d in self.dims:
            count *= d
        return self.length + count * self.dtype.itemsize

    def describe(self) -> str:
        return (
            f"{'x'.join(map(str, self.dims))} elements of {self.dtype.itemsize} byte(s) = {self.total} bytes"
        )


def _parse_magic(head: bytes, name: str) -> tuple[int, int]:
    """(type code, number of dimensions) from the first 4 bytes."""
    if len(head) < 4:
        raise DataError(f"{name}: {len(head)} bytes is too short for an IDX header")
    if head[0] != 0 or head[1] != 0:
        raise DataError(
            f"{name}: bad magic number 0x{head[:4].hex()} (an IDX file starts with two zero "
            "bytes); this is not an IDX file"
        )
    type_code, ndim = head[2], head[3]
    if type_code not in IDX_DTYPES:
        raise DataError(f"{name}: unknown IDX element type 0x{type_code:02x}")
    if ndim == 0:
        raise DataError(f"{name}: IDX header declares zero dimensions")
    if ndim > MAX_IDX_DIMS:
        raise DataError(
            f"{name}: IDX header declares {ndim} dimensions; a data set of labels or images has at most "
            f"{MAX_IDX_DIMS}, so this is not one"
        )
    return type_code, ndim


def _parse_header(head: bytes, name: str) -> _Header:
    """The header at the start of `head` (which may hold more bytes after it)."""
    type_code, ndim = _parse_magic(head, name)
    length = 4 + 4 * ndim
    if len(head) < length:
        raise DataError(f"{name}: truncated header ({len(head)} bytes, need {length})")
    dims = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    header = _Header(dims=dims, dtype=IDX_DTYPES[type_code], length=length)
    if header.total > MAX_IDX_BYTES:
        raise DataError(
            f"{name}: header declares {header.describe()}, more than the "
            f"{MAX_IDX_BYTES >> 20} MiB an IDX data set here can have; this is not one"
        )
    return header


def _length_error(name: str, header: _Header, actual: int, how: str = "file has") -> DataError:
    problem = "truncated" if actual < header.total else "has trailing bytes"
    return DataError(f"{name}: file {problem}: header says {header.describe()}, {how} {actual}")


def _to_array(body: bytes | bytearray | memoryview, header: _Header, offset: int = 0) -> np.ndarray:
    array = np.frombuffer(body, dtype=header.dtype, offset=offset).reshape(header.dims)
    return array.astype(header.dtype.newbyteorder("="), copy=False)


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the decompressed bytes of an IDX file into a native-endian array.

    `name` appears in error messages so the user knows which file is bad.
    """
    header = _parse_header(data, name)
    if len(data) != header.total:
        raise _length_error(name, header, len(data))
    return _to_array(data, header, offset=header.length)


def _gzip_size(handle: BinaryIO) -> int:
    """The uncompressed length modulo 2**32 that a gzip file's trailer records (ISIZE)."""
    handle.seek(-4, 2)
    size = int.from_bytes(handle.read(4), "little")
    handle.seek(0)
    return size


def _read_stream(
    stream: io.BufferedIOBase, name: str, check: Callable[[_Header], None]
) -> tuple[np.ndarray, str]:
    """Read an IDX file from `stream`, its header first; `check(header)` compares the length
    the header declares with what the container says, before anything is allocated."""
    head = stream.read(4)
    _, ndim = _parse_magic(head, name)
    head += stream.read(4 * ndim)
    header = _parse_header(head, name)
    check(header)
    body = bytearray(header.total - header.length)
    view, filled = memoryview(body), 0
    while filled < len(body):
        got = stream.readinto(view[filled : filled + _CHUNK])
        if not got:
            raise _length_error(name, header, header.length + filled)
        filled += got
    if stream.read(1):
        raise _length_error(name, header, header.total + 1, "it has at least")
    digest = hashlib.sha256(head)
    digest.update(body)
    return _to_array(body, header), digest.hexdigest()


def encode_idx(array: np.ndarray) -> bytes:
    """`array` as an IDX file's bytes: the inverse of `parse_idx`."""
    codes = {dtype.str[1:]: code for code, dtype in IDX_DTYPES.items()}
    code = codes.get(array.dtype.str[1:])
    if code is None or not 1 <= array.ndim <= MAX_IDX_DIMS:
        raise DataError(f"an IDX file cannot hold a {array.ndim}-D array of {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(IDX_DTYPES[code], copy=False).tobytes()


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def read_idx(path: Path) -> IdxFile:
    """Read, decompress (gzip, decided by the magic bytes, not the name), parse and hash one
    IDX file; the SHA-256 is of the decompressed bytes."""
    name = str(path)
    damaged = f"{path} is a damaged gzip file"
    try:
        with open(path, "rb") as handle:
            if handle.read(2) != GZIP_MAGIC:
                size = handle.seek(0, 2)
                handle.seek(0)

                def check(header: _Header) -> None:
                    if header.total != size:
                        raise _length_error(name, header, size)

                array, sha = _read_stream(handle, name, check)
            else:
                isize = _gzip_size(handle)

                def check(header: _Header) -> None:
                    if header.total % (1 << 32) != isize:
                        raise DataError(
                            f"{damaged} or not an IDX file: its header says {header.describe()}, its "
                            f"gzip trailer {isize} bytes; delete it and fetch it again"
                        )

                try:
                    with gzip.GzipFile(fileobj=handle) as stream:
                        array, sha = _read_stream(stream, name, check)
                except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                    raise DataError(f"{damaged} ({exc}); delete it and fetch it again") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return IdxFile(array=array, sha256=sha)

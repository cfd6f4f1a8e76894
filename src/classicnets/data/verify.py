"""Whether a file is the named data set's file: its published checksum and its format."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classicnets.data.catalog import CIFAR_BINARY, CatalogEntry, Member, check_md5
from classicnets.data.cifar import read_archive
from classicnets.data.idx import is_gzip, read_idx
from classicnets.data.unpacked import keep_unpacked, read_unpacked
from classicnets.errors import DataError


def read_member(path: Path, member: Member, title: str, *, verify: bool = True) -> np.ndarray:
    """Parse one IDX file; with `verify`, its checksum must be the known one: the SHA-256 of its
    decompressed bytes where we know it, else the published MD5 of the .gz as distributed.
    A gzipped file verified once is read decompressed from the user cache (`data.unpacked`)."""
    gzipped = is_gzip(path)
    if gzipped and (kept := read_unpacked(path, member)) is not None:
        return kept
    parsed = read_idx(path)
    if member.sha256 and parsed.sha256 == member.sha256:
        if gzipped:
            keep_unpacked(path, member, parsed.array)
        return parsed.array
    if not verify:
        return parsed.array
    if gzipped and not member.sha256:  # the .gz as distributed
        check_md5(path, member, title)
        return parsed.array
    if member.sha256:
        raise DataError(
            f"{path} does not match {title}'s {member.stem}: SHA-256 of its decompressed bytes is "
            f"{parsed.sha256}, expected {member.sha256}. The file is damaged or is another data set with the "
            "same file name (MNIST, KMNIST and Fashion-MNIST share their names); replace it"
        )
    raise DataError(
        f"{path}: an uncompressed copy of {title}'s {member.stem} cannot be verified (what is published "
        f"is the MD5 of {member.name}); keep {member.name} beside it"
    )


def verify_file(path: Path, member: Member, entry: CatalogEntry) -> None:
    """Raise `DataError` unless `path` is `member` of `entry`: its checksum and its format."""
    if entry.format == CIFAR_BINARY:
        check_md5(path, member, entry.info.title)
        read_archive(path)
    else:
        read_member(path, member, entry.info.title)

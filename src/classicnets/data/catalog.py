"""The named data sets' files: their names, published checksums, sizes, where copies are
often found and where to download them from. The data sets' other facts (classes, side,
channels, statistics) live in `classicnets.inputs`, which the PyTorch-free runtime reads too.

Checksums: the MD5 each data set's authors (and torchvision) publish for the files as they
are distributed (.gz, .tar.gz). Fashion-MNIST also has the SHA-256 of its decompressed files,
so that a recompressed copy (Debian's package) verifies too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from classicnets.errors import DataError
from classicnets.inputs import CIFAR10, FASHION_MNIST, KMNIST, MNIST, Dataset, get_dataset

IDX, CIFAR_BINARY = "idx", "cifar10-binary"
CIFAR_RECORD = 1 + 3 * 32 * 32  # one label byte, then the red, green and blue 32x32 planes
CIFAR_PER_BATCH = 10_000


@dataclass(frozen=True)
class Member:
    """One file of a data set as it is distributed."""

    name: str  # on disk and on the mirror (an IDX file may also be found uncompressed, without ".gz")
    md5: str  # of the distributed file
    size: int  # bytes of the decompressed IDX file, or of the archive itself: bounds downloads and reads
    sha256: str = ""  # of the decompressed IDX bytes, where known

    @property
    def stem(self) -> str:
        return self.name.removesuffix(".gz")


@dataclass(frozen=True)
class CatalogEntry:
    info: Dataset
    format: str  # IDX or CIFAR_BINARY
    members: tuple[Member, ...]
    mirrors: tuple[str, ...]  # the official address first
    torchvision_dir: str  # torchvision keeps ROOT/<this>/raw (IDX sets); "" for none
    debian_dir: Path | None = None  # a Debian package that installs the files

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)


def _idx_members(
    md5: tuple[str, str, str, str], sha256: tuple[str, ...] = ("", "", "", "")
) -> tuple[Member, ...]:
    sizes = (16 + 60000 * 28 * 28, 8 + 60000, 16 + 10000 * 28 * 28, 8 + 10000)
    names = (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    )
    return tuple(Member(n, m, s, h) for n, m, s, h in zip(names, md5, sizes, sha256))


# (images, labels) member names per split of an IDX data set.
IDX_SPLITS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# The CIFAR-10 binary archive's members per split (never the Python version: it is a pickle).
CIFAR_DIR = "cifar-10-batches-bin"
CIFAR_SPLITS: dict[str, tuple[str, ...]] = {
    "train": tuple(f"{CIFAR_DIR}/data_batch_{i}.bin" for i in range(1, 6)),
    "test": (f"{CIFAR_DIR}/test_batch.bin",),
}

CATALOG: dict[str, CatalogEntry] = {
    e.info.name: e
    for e in (
        CatalogEntry(
            FASHION_MNIST,
            IDX,
            _idx_members(
                (
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "25c81989df183df01b3e8a0aad5dffbe",
                    "bef4ecab320f06d8554ea6380940ec79",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                ),
                (
                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                ),
            ),
            (
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            ),
            "FashionMNIST",
            Path("/usr/share/datasets/fashion-mnist"),
        ),
        CatalogEntry(
            MNIST,
            IDX,
            _idx_members(
                (
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                    "9fb629c4189551a2d022fa330f9573f3",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                )
            ),
            ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
            "MNIST",
        ),
        CatalogEntry(
            KMNIST,
            IDX,
            _idx_members(
                (
                    "bdb82020997e1d708af4cf47b453dcf7",
                    "e144d726b3acfaa3e44228e80efcd344",
                    "5c965bf0a639b31b8f53240b1b52f4d7",
                    "7320c461ea6c1c855c0b718fb2a4b134",
                )
            ),
            ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
            "KMNIST",
        ),
        CatalogEntry(
            CIFAR10,
            CIFAR_BINARY,
            (Member("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", 170_052_171),),
            ("https://www.cs.toronto.edu/~kriz/",),
            "",
        ),
    )
}


def catalog_entry(name: str) -> CatalogEntry:
    info = get_dataset(name)
    if name not in CATALOG:
        raise DataError(f"{info.name} has no files to find: it is built in")
    return CATALOG[name]


def find_member(directory: Path, member: Member) -> Path | None:
    """The file for `member` in `directory` (gzipped preferred, then an uncompressed IDX), or None."""
    candidates = [directory / member.name]
    if member.name.endswith(".gz") and not member.name.endswith(".tar.gz"):
        candidates.append(directory / member.stem)
    return next((c for c in candidates if c.is_file()), None)


def missing_members(directory: Path, entry: CatalogEntry) -> list[str]:
    return [m.name for m in entry.members if find_member(directory, m) is None]


def file_digest(path: Path, algorithm: str) -> str:
    """The hex digest of a whole file ("md5" for the published checksums, "sha256" for fingerprints)."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_md5(path: Path, member: Member, title: str) -> None:
    """The distributed file's published MD5, or one line naming what to do."""
    actual = file_digest(path, "md5")
    if actual != member.md5:
        raise DataError(
            f"{path} does not match {title}'s {member.name}: its MD5 is {actual}, the published one "
            f"is {member.md5}. The file is damaged, or another data set's file of the same name "
            "(MNIST, KMNIST and Fashion-MNIST share their names); replace it"
        )

"""A user's own pictures, one folder per class: `PATH/train/CLASS/*` and `PATH/test/CLASS/*`,
or `PATH/CLASS/*` (a seeded, stratified share of each class is then held out as the test split).

Every picture Pillow reads (PNG, JPEG, BMP, WebP, ...; grey, colour, transparent, palette,
16-bit) is decoded once, in order (classes by name, files by name within each), by the same
function `predict` uses (`numpy_runtime.picture.plain_array`), into a cached uint8 array in the
user cache. The cache is keyed by every file's name, size and modification time, so a changed
folder is read again. Decoding writes straight into a memory-mapped file, so memory stays
bounded however many pictures there are. A file that cannot be decoded is skipped and listed
(or, with `strict`, is an error).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from classicnets.data.named import Data, DataSource
from classicnets.data.split import Split, check_splits, stratified_holdout
from classicnets.data.stats import channel_stats
from classicnets.errors import DataError
from classicnets.fileio import cache_dir, write_text_atomic
from classicnets.inputs import MAX_RESIZE, Dataset, check_class_names
from classicnets.numpy_runtime.picture import decode, is_colour, open_picture, plain_array
from classicnets.validation import Invalid, parse_json

_VERSION = 2  # of the decoder and the cache's layout: a change reads every folder again
MAX_PICTURES = 2_000_000
MAX_CACHE_BYTES = 64 << 30


@dataclass(frozen=True)
class _File:
    path: Path
    label: int
    test: bool  # in PATH/test


def _class_dirs(root: Path) -> list[Path]:
    return sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name
    )


def _pictures(directory: Path) -> list[Path]:
    return sorted(
        (p for p in directory.iterdir() if not p.name.startswith(".") and p.is_file()), key=lambda p: p.name
    )


def scan(root: Path) -> tuple[tuple[str, ...], list[_File], bool]:
    """(class names, every file in order, whether the folder has its own train/test split)."""
    if not root.is_dir():
        raise DataError(f"folder:{root}: not a directory (expected one folder of pictures per class)")
    split = (root / "train").is_dir() and (root / "test").is_dir()
    train_root = root / "train" if split else root
    classes = tuple(d.name for d in _class_dirs(train_root))
    if split:
        extra = sorted({d.name for d in _class_dirs(root / "test")} - set(classes))
        if extra:
            raise DataError(f"folder:{root}: test/ has classes that train/ lacks: {', '.join(extra[:5])}")
    files: list[_File] = []
    for test, base in ((False, train_root), (True, root / "test")) if split else ((False, root),):
        for label, name in enumerate(classes):
            if (base / name).is_dir():
                files.extend(_File(p, label, test) for p in _pictures(base / name))
        if len(files) > MAX_PICTURES:
            raise DataError(f"folder:{root}: more than {MAX_PICTURES:,} files")
    if not files:
        raise DataError(
            f"folder:{root}: no pictures found; expected {root}/CLASS/picture.png for each class "
            f"(or {root}/train/CLASS/ and {root}/test/CLASS/)"
        )
    try:
        check_class_names(classes, f"folder:{root}")
    except Invalid as exc:
        raise DataError(f"{exc} (one folder of pictures per class)") from None
    return classes, files, split


def _fingerprint(root: Path, files: list[_File]) -> str:
    digest = hashlib.sha256(f"classicnets folder v{_VERSION}\n".encode())
    for f in files:
        info = f.path.stat()
        digest.update(
            f"{f.path.relative_to(root)}\0{info.st_size}\0{info.st_mtime_ns}\0{f.label}\0{f.test}\n".encode()
        )
    return digest.hexdigest()


def _choose(
    root: Path, files: list[_File], channels: int | None, side: int | None, strict: bool, progress: Progress
) -> tuple[int, int, dict[int, str]]:
    """The channels and side the pictures are decoded to (from their headers unless given),
    and the files whose header cannot be read (index -> why)."""
    bad: dict[int, str] = {}
    colour, sizes = False, Counter[tuple[int, int]]()
    task = progress.add_task("reading picture headers", total=len(files))
    for index, f in enumerate(files):
        try:
            with open_picture(f.path) as image:
                colour = colour or is_colour(image)
                sizes[image.size] += 1
        except DataError as exc:
            if strict:
                raise DataError(f"{exc} (without --strict it would be skipped)") from None
            bad[index] = str(exc)
        progress.advance(task)
    progress.remove_task(task)
    if side is None:
        if not sizes:
            raise DataError(f"folder:{root}: none of its {len(files):,} files is a picture")
        if len(sizes) > 1 or next(iter(sizes))[0] != next(iter(sizes))[1]:
            shown = ", ".join(f"{w}x{h} ({n:,})" for (w, h), n in sizes.most_common(3))
            raise DataError(
                f"folder:{root}: the pictures are not all one square size ({shown}{', ...' if len(sizes) > 3 else ''}); "
                "pass --image-size S to resize every picture to S x S"
            )
        side = next(iter(sizes))[0]
        if side > MAX_RESIZE:
            raise DataError(
                f"folder:{root}: the pictures are {side} px; pass --image-size S (at most {MAX_RESIZE})"
            )
    return channels or (3 if colour else 1), side, bad


def _cache_path(fingerprint: str, channels: int | None, side: int | None) -> Path:
    key = hashlib.sha256(f"{fingerprint}\0{channels}\0{side}".encode()).hexdigest()[:32]
    return cache_dir() / "folders" / key


def _read_cache(path: Path, count: int) -> tuple[np.ndarray, dict] | None:
    """The decoded pictures and their description, or None when the cache is missing or damaged."""
    try:
        meta = parse_json((path / "meta.json").read_bytes(), f"{path}/meta.json")
        images = np.load(path / "images.npy", mmap_mode="r", allow_pickle=False)
        kept = meta["kept"]
        if (
            images.dtype != np.uint8
            or images.ndim != 4
            or len(images) != len(kept)
            or len(kept) > count
            or images.shape[1:] != (meta["channels"], meta["side"], meta["side"])
        ):
            return None
        return images, meta
    except (OSError, ValueError, KeyError, TypeError, Invalid):
        return None


def _decode_all(
    root: Path,
    files: list[_File],
    channels: int | None,
    side: int | None,
    strict: bool,
    path: Path,
    show_progress: bool,
) -> None:
    """Decode every picture into `path` (written under a temporary name, renamed when whole)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True, disable=not show_progress) as progress:
        channels, side, bad = _choose(root, files, channels, side, strict, progress)
        if len(files) * channels * side * side > MAX_CACHE_BYTES:
            raise DataError(
                f"folder:{root}: {len(files):,} pictures of {channels}x{side}x{side} would need more "
                f"than {MAX_CACHE_BYTES >> 30} GiB; pass a smaller --image-size"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.part-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        try:
            images = np.lib.format.open_memmap(
                partial / "all.npy", mode="w+", dtype=np.uint8, shape=(len(files), channels, side, side)
            )
            kept: list[int] = []
            task = progress.add_task(f"decoding {len(files):,} pictures", total=len(files))
            for index, f in enumerate(files):
                if index not in bad:
                    try:
                        with open_picture(f.path) as image:
                            images[len(kept)] = plain_array(decode(image), channels, side)
                        kept.append(index)
                    except DataError as exc:
                        if strict:
                            raise DataError(f"{exc} (without --strict it would be skipped)") from None
                        bad[index] = str(exc)
                progress.advance(task)
            if not kept:
                raise DataError(f"folder:{root}: none of its {len(files):,} files is a picture")
            final = np.lib.format.open_memmap(
                partial / "images.npy", mode="w+", dtype=np.uint8, shape=(len(kept), channels, side, side)
            )
            for start in range(0, len(kept), 4096):
                end = min(start + 4096, len(kept))
                final[start:end] = images[start:end]
            final.flush()
            del images, final
            (partial / "all.npy").unlink()
            skipped = [[str(files[i].path.relative_to(root)), why] for i, why in sorted(bad.items())]
            meta = {"version": _VERSION, "channels": channels, "side": side, "kept": kept, "skipped": skipped}
            (partial / "meta.json").write_text(json.dumps(meta))
            shutil.rmtree(path, ignore_errors=True)
            try:
                os.rename(partial, path)
            except OSError:
                if not (
                    path / "meta.json"
                ).is_file():  # else another process (a torchrun rank) finished first
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)


def load_folder(
    root: str | Path,
    *,
    channels: int | None = None,
    image_size: int | None = None,
    test_fraction: float = 0.2,
    strict: bool = False,
    show_progress: bool = True,
) -> Data:
    """The pictures under `root` as a data set (decoded once, then read from the cache)."""
    root = Path(root).expanduser().resolve()
    classes, files, own_split = scan(root)
    fingerprint = _fingerprint(root, files)
    # The pictures are cached under the channels and side they were decoded to; what was chosen
    # from the pictures themselves is remembered beside it, so a run read either way finds them.
    alias = _cache_path(fingerprint, channels, image_size).with_suffix(".json")
    if channels is None or image_size is None:
        try:
            chosen = parse_json(alias.read_bytes(), str(alias))
            channels, image_size = int(chosen["channels"]), int(chosen["side"])
        except (OSError, ValueError, KeyError, TypeError, Invalid):
            pass
    path = _cache_path(fingerprint, channels, image_size)
    cached = _read_cache(path, len(files))
    how = "decoded from the cache"
    if cached is None:
        _decode_all(root, files, channels, image_size, strict, path, show_progress)
        cached = _read_cache(path, len(files))
        how = "decoded"
        if cached is None:
            raise DataError(f"the decoded pictures of folder:{root} could not be read back from {path}")
    mapped, meta = cached
    if path != _cache_path(fingerprint, meta["channels"], meta["side"]):
        final = _cache_path(fingerprint, meta["channels"], meta["side"])
        shutil.rmtree(final, ignore_errors=True)
        with contextlib.suppress(OSError):  # another process may have moved it first
            os.rename(path, final)
        write_text_atomic(alias, json.dumps({"channels": meta["channels"], "side": meta["side"]}))
    if strict and meta["skipped"]:
        first = meta["skipped"][0]
        raise DataError(
            f"{root / first[0]}: {first[1]} ({len(meta['skipped'])} files cannot be read; "
            "without --strict they are skipped)"
        )
    kept = meta["kept"]
    labels = torch.tensor([files[i].label for i in kept], dtype=torch.int64)
    if own_split:
        is_test = torch.tensor([files[i].test for i in kept], dtype=torch.bool)
        test_fraction = 0.0
    else:
        is_test = stratified_holdout(labels, test_fraction, len(classes))
    # Each split is gathered from the memory-mapped file straight into memory: one copy of the pictures, not two.
    train, test = (
        Split(torch.from_numpy(mapped[part.numpy()]), labels[part]) for part in (~is_test, is_test)
    )
    check_splits(f"folder:{root}", train, test, classes)
    mean, std = channel_stats(train.images)
    info = Dataset(
        name=f"folder:{root}",
        title=f"folder:{root}",
        class_names=classes,
        native_size=int(meta["side"]),
        channels=int(meta["channels"]),
        images=True,
        mean=mean,
        std=std,
    )
    skipped = tuple((str(root / name), why) for name, why in meta["skipped"])
    return Data(
        info,
        train,
        test,
        DataSource(root, how),
        verified=False,
        fingerprint=fingerprint,
        test_fraction=test_fraction,
        skipped=skipped,
    )

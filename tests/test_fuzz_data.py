"""Property-based fuzzing (hypothesis) of every reader of data files: the IDX reader, CIFAR-10's
record reader, the picture reader, the .npz reader and the folder scanner meet random and mutated
bytes with only the tool's own errors, bounded memory and no hang."""

from __future__ import annotations

import contextlib
import gzip
import io
import resource
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import idx_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from classicnets.data.arrays import load_npz
from classicnets.data.cifar import parse_records
from classicnets.data.folder import load_folder
from classicnets.data.idx import parse_idx, read_idx
from classicnets.errors import ClassicnetsError
from classicnets.inputs import CIFAR10, FASHION_MNIST, InputSpec
from classicnets.numpy_runtime.picture import read_picture

FUZZ = settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck))
SECONDS = 5.0  # the slowest honest case here takes milliseconds
GROWTH = 400 << 20  # peak memory may grow by this much over all the cases of one reader


def _mutate(data: st.DataObject, seed: bytes) -> bytes:
    """`seed` with a few bytes flipped, cut short or padded, as damage does."""
    body = bytearray(seed)
    for _ in range(data.draw(st.integers(0, 6))):
        if body:
            body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    return bytes(body[:cut]) + data.draw(st.binary(max_size=64)) if data.draw(st.booleans()) else bytes(body)


def _bytes(data: st.DataObject, seeds: list[bytes]) -> bytes:
    if data.draw(st.booleans()):
        return data.draw(st.binary(max_size=4096))
    return _mutate(data, data.draw(st.sampled_from(seeds)))


class _Bounded:
    """Each case must end within SECONDS and with only our errors; peak memory stays bounded."""

    def __init__(self) -> None:
        self.start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10

    def __call__(self, read, *args) -> None:
        started = time.monotonic()
        with contextlib.suppress(ClassicnetsError):
            read(*args)
        assert time.monotonic() - started < SECONDS
        assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10) - self.start < GROWTH


@pytest.fixture(scope="module")
def seeds(fashion) -> dict[str, list[bytes]]:
    images, labels = fashion.train.images[:4, 0].numpy(), fashion.train.labels[:4].numpy()
    pictures = []
    for fmt, mode in (
        ("PNG", "L"),
        ("JPEG", "RGB"),
        ("BMP", "RGB"),
        ("WEBP", "RGB"),
        ("PNG", "RGBA"),
        ("GIF", "P"),
    ):
        buffer = io.BytesIO()
        Image.fromarray(images[0]).convert(mode).save(buffer, format=fmt)
        pictures.append(buffer.getvalue())
    arrays = io.BytesIO()
    np.savez(arrays, x_train=images, y_train=labels, x_test=images, y_test=labels)
    record = np.concatenate(
        [labels[:, None].astype(np.uint8), np.repeat(images.reshape(4, -1), 4, axis=1)[:, :3072]], 1
    )
    return {
        "idx": [idx_bytes(images), idx_bytes(labels), gzip.compress(idx_bytes(images))],
        "cifar": [record.tobytes()],
        "picture": pictures,
        "npz": [arrays.getvalue()],
    }


@FUZZ
@given(data=st.data())
def test_the_idx_reader_meets_random_bytes_with_its_own_errors(data, seeds, tmp_path_factory):
    bounded, body = _Bounded(), _bytes(data, seeds["idx"])
    bounded(parse_idx, body)
    path = tmp_path_factory.mktemp("idx") / "file"
    path.write_bytes(body)
    bounded(read_idx, path)


@FUZZ
@given(data=st.data())
def test_the_cifar_record_reader_meets_random_bytes_with_its_own_errors(data, seeds):
    _Bounded()(parse_records, _bytes(data, seeds["cifar"]), "records")


@FUZZ
@given(data=st.data())
def test_the_picture_reader_meets_random_bytes_with_its_own_errors(data, seeds, tmp_path_factory):
    path = tmp_path_factory.mktemp("picture") / "picture"
    path.write_bytes(_bytes(data, seeds["picture"]))
    grey = InputSpec.create(FASHION_MNIST, resize=None, mean=None, std=None)
    colour = InputSpec.create(CIFAR10, resize=None, mean=None, std=None)
    bounded = _Bounded()
    bounded(read_picture, path, grey)
    bounded(read_picture, path, colour)


@FUZZ
@given(data=st.data())
def test_the_npz_reader_meets_random_bytes_with_its_own_errors(data, seeds, tmp_path_factory):
    path = tmp_path_factory.mktemp("npz") / "arrays.npz"
    path.write_bytes(_bytes(data, seeds["npz"]))
    _Bounded()(load_npz, path)


@pytest.mark.parametrize("damage", ["encrypted", "unknown compression"])
def test_an_npz_zipfile_cannot_open_is_one_error(damage, seeds, tmp_path):
    # Found by the fuzzer above: zipfile raises RuntimeError for an encrypted member and
    # NotImplementedError for a compression method it lacks.
    body = bytearray(seeds["npz"][0])
    for signature, flags, method in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        start = 0
        while (at := body.find(signature, start)) >= 0:
            if damage == "encrypted":
                body[at + flags] |= 1
            else:
                body[at + method : at + method + 2] = (99).to_bytes(2, "little")
            start = at + 4
    path = tmp_path / "arrays.npz"
    path.write_bytes(bytes(body))
    with pytest.raises(ClassicnetsError, match="not a NumPy .npz file classicnets can read"):
        load_npz(path)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_folder_scanner_meets_random_files_with_its_own_errors(
    data, seeds, tmp_path_factory, monkeypatch
):
    root = tmp_path_factory.mktemp("folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / ".cache"))
    for index in range(data.draw(st.integers(0, 8))):
        folder = root / data.draw(st.sampled_from(["a", "b", "c d", "é"]))
        folder.mkdir(exist_ok=True)
        (folder / f"{index}.png").write_bytes(_bytes(data, seeds["picture"]))
    _Bounded()(lambda: load_folder(Path(root), show_progress=False, test_fraction=0.5))

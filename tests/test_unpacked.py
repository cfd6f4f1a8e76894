"""The decompressed copies of verified IDX files in the user cache (`data.unpacked`): used only
when they verify, keyed by the original, never a reason to fail."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from classicnets.data import unpacked, verify
from classicnets.data.catalog import CATALOG
from classicnets.data.idx import read_idx

LABELS = CATALOG["fashion-mnist"].member("t10k-labels-idx1-ubyte.gz")


@pytest.fixture
def original(tmp_path: Path, real_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return Path(shutil.copy(real_data_dir / LABELS.name, tmp_path / LABELS.name))


def _read(path: Path) -> np.ndarray:
    return verify.read_member(path, LABELS, "Fashion-MNIST")


def test_a_verified_file_is_read_from_the_cache_the_next_time(original: Path, monkeypatch) -> None:
    first = _read(original)
    entry = unpacked.entry_path(original, LABELS)
    assert entry.is_file() and entry.stat().st_size == LABELS.size
    monkeypatch.setattr(verify, "read_idx", lambda path: pytest.fail(f"{path} was inflated again"))
    assert np.array_equal(_read(original), first)


def test_an_altered_entry_is_not_used_and_is_replaced(original: Path) -> None:
    expected = _read(original)
    entry = unpacked.entry_path(original, LABELS)
    data = bytearray(entry.read_bytes())
    data[-1] = (data[-1] + 1) % 10  # still a valid IDX file of valid labels, but not the published one
    entry.write_bytes(bytes(data))
    assert np.array_equal(_read(original), expected)
    assert read_idx(entry).sha256 == LABELS.sha256


def test_a_changed_original_is_read_again(original: Path) -> None:
    _read(original)
    before = unpacked.entry_path(original, LABELS)
    os.utime(original, ns=(1, 1))
    assert unpacked.entry_path(original, LABELS) != before
    original.write_bytes(b"\x1f\x8b" + b"\0" * 40)  # damaged gzip: the old entry must not hide it
    with pytest.raises(Exception, match="damaged gzip"):
        _read(original)


def test_a_fifo_at_the_entry_is_ignored(original: Path) -> None:
    entry = unpacked.entry_path(original, LABELS)
    entry.parent.mkdir(parents=True)
    os.mkfifo(entry)
    assert len(_read(original)) == 10000  # neither blocked on the FIFO nor replaced it
    assert not entry.is_file()


def test_an_unwritable_cache_only_means_inflating_again(original: Path, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "not-a-dir").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-dir"))
    assert len(_read(original)) == 10000

import gzip

import numpy as np
import pytest
from conftest import idx_bytes, write_gz

from classicnets.data.idx import parse_idx, read_idx
from classicnets.errors import DataError


def test_parse_idx_round_trips_uint8_and_int32():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(parse_idx(idx_bytes(images)), images)
    ints = np.array([[1, -2], [300000, 4]], dtype=np.int32)
    parsed = parse_idx(idx_bytes(ints, type_code=0x0C))
    assert parsed.dtype == np.int32 and np.array_equal(parsed, ints)


def test_bad_magic_is_rejected():
    data = b"\x01\x00" + idx_bytes(np.zeros(3, np.uint8))[2:]
    with pytest.raises(DataError, match="bad magic number"):
        parse_idx(data, "x.idx")


def test_unknown_element_type_is_rejected():
    data = bytearray(idx_bytes(np.zeros(3, np.uint8)))
    data[2] = 0x07
    with pytest.raises(DataError, match="unknown IDX element type 0x07"):
        parse_idx(bytes(data))


def test_truncated_file_names_expected_and_actual_length():
    data = idx_bytes(np.zeros((10, 28, 28), np.uint8))
    with pytest.raises(DataError, match=r"labels.idx: file truncated: header says 10x28x28 .* file has"):
        parse_idx(data[:-1], "labels.idx")


def test_trailing_bytes_are_rejected():
    with pytest.raises(DataError, match="trailing bytes"):
        parse_idx(idx_bytes(np.zeros(5, np.uint8)) + b"\x00")


def test_truncated_header_is_rejected():
    with pytest.raises(DataError, match="truncated header"):
        parse_idx(idx_bytes(np.zeros((2, 2), np.uint8))[:7])


def test_read_idx_detects_gzip_by_content_and_hashes_decompressed_bytes(tmp_path):
    raw = idx_bytes(np.arange(6, dtype=np.uint8))
    plain, packed = tmp_path / "a", write_gz(tmp_path / "b.gz", raw)
    plain.write_bytes(raw)
    assert read_idx(plain).sha256 == read_idx(packed).sha256
    assert np.array_equal(read_idx(packed).array, np.arange(6))


def test_damaged_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(1000, np.uint8)))[:-20])
    with pytest.raises(DataError, match="damaged gzip file"):
        read_idx(path)


def test_dimensions_whose_product_overflows_are_rejected_before_allocating():
    header = bytes([0, 0, 0x08, 4]) + (0xFFFFFFFF).to_bytes(4, "big") * 4
    with pytest.raises(DataError, match="more than the 1024 MiB"):
        parse_idx(header + b"\x00" * 16, "huge.idx")


def _refused_within(path, match, limit=4 << 20):
    """read_idx(path) raises DataError matching `match`, having allocated less than `limit` bytes."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=match):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit


def test_gzip_bomb_is_refused_from_its_trailer_without_inflating(tmp_path):
    # A valid 10-byte IDX header and body, then 64 MiB of zeros: a small file that inflates hugely.
    path = write_gz(tmp_path / "bomb.gz", idx_bytes(np.zeros(10, np.uint8)) + bytes(64 << 20))
    assert path.stat().st_size < 1 << 20
    _refused_within(path, "damaged gzip file or not an IDX file")


def test_gzip_with_a_forged_trailer_is_read_no_further_than_its_header_declares(tmp_path):
    data = bytearray(gzip.compress(idx_bytes(np.zeros(10, np.uint8)) + bytes(64 << 20)))
    data[-4:] = (4 + 4 + 10).to_bytes(4, "little")  # ISIZE agreeing with the header
    path = tmp_path / "forged.gz"
    path.write_bytes(bytes(data))
    _refused_within(path, "trailing bytes")


def test_plain_file_length_is_checked_against_the_header(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(idx_bytes(np.zeros((10, 28, 28), np.uint8))[:-5])
    with pytest.raises(DataError, match="file truncated: header says 10x28x28"):
        read_idx(path)

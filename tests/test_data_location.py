import numpy as np
import pytest
from conftest import idx_bytes, link_real_files, write_gz

from classicnets.data import load_fashion_mnist, locate_dataset
from classicnets.errors import DataError, DataNotFoundError


def test_explicit_directory_wins_over_everything(isolated_search, real_data_dir, monkeypatch):
    mine = link_real_files(real_data_dir, isolated_search / "mine")
    link_real_files(real_data_dir, isolated_search / "env")
    monkeypatch.setenv("CLASSICNETS_DATA", str(isolated_search / "env"))
    source = locate_dataset("fashion-mnist", mine, download=False)
    assert source.path == mine.resolve() and source.how == "--data-dir"


def test_environment_variable_comes_before_cache(isolated_search, real_data_dir, monkeypatch):
    env = link_real_files(real_data_dir, isolated_search / "env")
    link_real_files(real_data_dir, isolated_search / "cache" / "classicnets" / "fashion-mnist")
    monkeypatch.setenv("CLASSICNETS_DATA", str(env))
    assert locate_dataset("fashion-mnist", download=False).how == "$CLASSICNETS_DATA"


def test_cache_then_torchvision_then_debian(isolated_search, real_data_dir):
    debian = link_real_files(real_data_dir, isolated_search / "debian")
    assert locate_dataset("fashion-mnist", download=False).path == debian
    tv = link_real_files(real_data_dir, isolated_search / "torchvision" / "FashionMNIST" / "raw")
    assert locate_dataset("fashion-mnist", download=False).path == tv
    cache = link_real_files(real_data_dir, isolated_search / "cache" / "classicnets" / "fashion-mnist")
    assert locate_dataset("fashion-mnist", download=False).path == cache


def test_explicit_torchvision_root_layout_is_accepted(isolated_search, real_data_dir):
    raw = link_real_files(real_data_dir, isolated_search / "root" / "FashionMNIST" / "raw")
    assert locate_dataset("fashion-mnist", isolated_search / "root", download=False).path == raw.resolve()


def test_named_directory_missing_a_file_is_an_error_not_a_fallthrough(isolated_search, real_data_dir):
    link_real_files(real_data_dir, isolated_search / "debian")
    partial = link_real_files(real_data_dir, isolated_search / "partial")
    (partial / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataNotFoundError, match="lacks Fashion-MNIST's t10k-labels-idx1-ubyte"):
        locate_dataset("fashion-mnist", partial, download=False)


def test_nothing_found_lists_what_was_tried_and_three_fixes(isolated_search):
    with pytest.raises(DataNotFoundError) as info:
        locate_dataset("fashion-mnist", download=False)
    message = str(info.value)
    assert str(isolated_search / "debian") in message and str(isolated_search / "cache") in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "--data-dir" in message and "CLASSICNETS_DATA" in message and "(3)" in message


def test_real_data_verifies_and_has_the_documented_shape(fashion):
    assert fashion.verified
    assert (
        fashion.train.images.shape == (60000, 1, 28, 28)
        and fashion.train.images.dtype.is_floating_point is False
    )
    assert fashion.test.labels.shape == (10000,)
    assert fashion.train.class_counts(10) == [6000] * 10


def test_checksum_mismatch_names_the_file(isolated_search, real_data_dir):
    bad = link_real_files(real_data_dir, isolated_search / "bad")
    (bad / "t10k-labels-idx1-ubyte.gz").unlink()
    labels = np.zeros(10000, np.uint8)  # right shape and range, wrong content
    write_gz(bad / "t10k-labels-idx1-ubyte.gz", idx_bytes(labels))
    with pytest.raises(
        DataError, match=r"t10k-labels-idx1-ubyte.gz does not match Fashion-MNIST's t10k-labels"
    ):
        load_fashion_mnist(bad, download=False)


def test_labels_out_of_range_are_rejected_even_unverified(isolated_search, real_data_dir):
    bad = link_real_files(real_data_dir, isolated_search / "bad")
    (bad / "t10k-labels-idx1-ubyte.gz").unlink()
    labels = np.zeros(10000, np.uint8)
    labels[1234] = 10
    write_gz(bad / "t10k-labels-idx1-ubyte.gz", idx_bytes(labels))
    with pytest.raises(DataError, match="label 10 at index 1234 is out of range 0..9"):
        load_fashion_mnist(bad, download=False, verify=False)


def test_image_and_label_counts_must_agree(isolated_search, real_data_dir):
    bad = link_real_files(real_data_dir, isolated_search / "bad")
    (bad / "t10k-labels-idx1-ubyte.gz").unlink()
    write_gz(bad / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros(9999, np.uint8)))
    with pytest.raises(DataError, match="10000 images .* but 9999 labels"):
        load_fashion_mnist(bad, download=False, verify=False)

"""The downloader against a local HTTP server on 127.0.0.1 (never the internet)."""

import gzip
import http.server
import threading
import time
from pathlib import Path

import pytest
from conftest import ALL_FILES

from classicnets.data import download_dataset, load_fashion_mnist, locate_dataset
from classicnets.data.catalog import CATALOG
from classicnets.errors import DataNotFoundError, DownloadError


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    cut_short: set[str] = set()  # announce the full length, send half, hang up
    trickle: set[str] = set()  # one byte every 0.2 s, for ever
    endless: set[str] = set()  # no length announced, bytes without end
    requests: list[str] = []

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        self.requests.append(name)
        body = self.files.get(name)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        if name in self.endless or name in self.trickle:
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"\0" * (1 << 16) if name in self.endless else b"\0")
                    self.wfile.flush()
                    if name in self.trickle:
                        time.sleep(0.2)
            except OSError:
                return  # the client gave up, as it should
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if name in self.cut_short else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(real_data_dir):
    """A mirror serving the real files; tests corrupt or truncate them in `handler.files`."""
    handler = type(
        "Handler",
        (_Handler,),
        {
            "files": {f"{stem}.gz": (real_data_dir / f"{stem}.gz").read_bytes() for stem in ALL_FILES},
            "cut_short": set(),
            "trickle": set(),
            "endless": set(),
            "requests": [],
        },
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # shutdown() waits for serve_forever to poll: every 0.5 s by default, every 20 ms here
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", handler
    server.shutdown()
    server.server_close()


def _leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir() if p.name.startswith("."))


def test_download_verifies_and_renames_into_place(mirror, tmp_path):
    url, _ = mirror
    dest = download_dataset(CATALOG["fashion-mnist"], tmp_path / "fm", url, show_progress=False)
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{s}.gz" for s in ALL_FILES)
    assert load_fashion_mnist(dest, download=False).verified


def test_corrupted_file_is_rejected_and_not_kept(mirror, tmp_path):
    url, handler = mirror
    handler.files["t10k-labels-idx1-ubyte.gz"] = gzip.compress(
        gzip.decompress(handler.files["t10k-labels-idx1-ubyte.gz"])[:-1] + b"\x03"
    )
    dest = tmp_path / "fm"
    with pytest.raises(DownloadError, match="t10k-labels-idx1-ubyte.gz but it does not verify.*SHA-256"):
        download_dataset(CATALOG["fashion-mnist"], dest, url, show_progress=False)
    assert not (dest / "t10k-labels-idx1-ubyte.gz").exists()
    assert _leftovers(dest) == []


def test_truncated_file_is_rejected_and_not_kept(mirror, tmp_path):
    url, handler = mirror
    body = handler.files["train-labels-idx1-ubyte.gz"]
    handler.files["train-labels-idx1-ubyte.gz"] = body[: len(body) // 2]
    dest = tmp_path / "fm"
    with pytest.raises(DownloadError, match="does not verify.*damaged gzip"):
        download_dataset(CATALOG["fashion-mnist"], dest, url, show_progress=False)
    assert not (dest / "train-labels-idx1-ubyte.gz").exists() and _leftovers(dest) == []


def test_connection_closed_early_is_a_clear_error(mirror, tmp_path):
    url, handler = mirror
    handler.cut_short.add("t10k-images-idx3-ubyte.gz")
    dest = tmp_path / "fm"
    with pytest.raises(DownloadError, match="connection closed after"):
        download_dataset(CATALOG["fashion-mnist"], dest, url, show_progress=False)
    assert _leftovers(dest) == []


def test_valid_files_already_present_are_not_fetched_again(mirror, tmp_path):
    url, handler = mirror
    dest = download_dataset(CATALOG["fashion-mnist"], tmp_path / "fm", url, show_progress=False)
    handler.requests.clear()
    download_dataset(CATALOG["fashion-mnist"], dest, url, show_progress=False)
    assert handler.requests == []


def test_search_order_downloads_into_the_cache_as_a_last_resort(mirror, isolated_search):
    url, _ = mirror
    source = locate_dataset("fashion-mnist", mirror_url=url, show_progress=False)
    assert source.path == isolated_search / "cache" / "classicnets" / "fashion-mnist"
    assert source.how.startswith("downloaded from")


def test_unreachable_mirror_gives_the_not_found_message(isolated_search):
    with pytest.raises(
        DataNotFoundError, match=r"download from http://127.0.0.1:9/.*cannot download.*Fix it by one of"
    ):
        locate_dataset("fashion-mnist", mirror_url="http://127.0.0.1:9/", show_progress=False)


def test_a_mirror_that_trickles_is_given_up_at_the_deadline(mirror, tmp_path, monkeypatch):
    from classicnets.data import download

    url, handler = mirror
    handler.trickle.add("train-labels-idx1-ubyte.gz")
    monkeypatch.setattr(
        download, "MIN_BYTES_PER_SECOND", 100_000
    )  # the deadline: timeout + 0.6 s for this file
    dest = tmp_path / "fm"
    started = time.monotonic()
    with pytest.raises(
        DownloadError, match=r"train-labels-idx1-ubyte.gz: only \d+ bytes arrived in \d+ s, slower than"
    ):
        download_dataset(CATALOG["fashion-mnist"], dest, url, show_progress=False, timeout=1.0)
    assert time.monotonic() - started < 30
    assert _leftovers(dest) == []


def test_a_mirror_that_never_ends_is_cut_at_the_files_known_size(mirror, tmp_path):
    url, handler = mirror
    handler.endless.add("t10k-labels-idx1-ubyte.gz")
    dest = tmp_path / "fm"
    with pytest.raises(DownloadError, match="more than the 75,644 bytes this file can have arrived"):
        download_dataset(CATALOG["fashion-mnist"], dest, url, show_progress=False)
    assert _leftovers(dest) == []


def test_a_mirror_announcing_more_than_the_file_can_have_is_refused(mirror, tmp_path):
    url, handler = mirror
    handler.files["t10k-labels-idx1-ubyte.gz"] = bytes(200_000)
    with pytest.raises(DownloadError, match="announces 200,000 bytes, more than the 75,644"):
        download_dataset(CATALOG["fashion-mnist"], tmp_path / "fm", url, show_progress=False)


# --- the other named data sets: MNIST's format and CIFAR-10's binary archive -------------------


def _entry_with(name, monkeypatch, bodies):
    """The catalog's entry for `name`, its published MD5s replaced by those of `bodies` (ours)."""
    import dataclasses
    import hashlib

    entry = CATALOG[name]
    members = tuple(
        dataclasses.replace(m, md5=hashlib.md5(bodies[m.name]).hexdigest()) for m in entry.members
    )
    monkeypatch.setitem(CATALOG, name, dataclasses.replace(entry, members=members))
    return CATALOG[name]


def _cache_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_fashion_mnists_files_served_as_mnist_fail_mnists_published_checksums(mirror, isolated_search):
    url, _ = mirror
    with pytest.raises(
        DataNotFoundError,
        match=r"does not verify.*MD5 is [0-9a-f]{32}, the published one is "
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ):
        locate_dataset("mnist", mirror_url=url, show_progress=False)
    assert _cache_files(isolated_search / "cache") == []


def test_an_mnist_format_data_set_downloads_verifies_and_loads(mirror, isolated_search, monkeypatch):
    from classicnets.data import load_dataset

    url, handler = mirror
    _entry_with("mnist", monkeypatch, handler.files)
    data = load_dataset("mnist", mirror_url=url, show_progress=False)
    assert data.verified and data.info.class_names[0] == "0" and data.train.images.shape == (60000, 1, 28, 28)
    assert data.source.path == isolated_search / "cache" / "classicnets" / "mnist"


@pytest.mark.parametrize("damage", ["corrupted", "truncated"])
def test_a_damaged_mnist_download_is_one_error_and_leaves_nothing(
    mirror, isolated_search, monkeypatch, damage
):
    url, handler = mirror
    _entry_with("mnist", monkeypatch, handler.files)
    body = handler.files["t10k-images-idx3-ubyte.gz"]
    handler.files["t10k-images-idx3-ubyte.gz"] = (
        body[:1000] + bytes([body[1000] ^ 1]) + body[1001:]
        if damage == "corrupted"
        else body[: len(body) // 3]
    )
    with pytest.raises(DataNotFoundError, match="t10k-images-idx3-ubyte.gz but it does not verify"):
        locate_dataset("mnist", mirror_url=url, show_progress=False)
    assert not any(
        name.startswith("mnist/t10k-images") or "/." in name
        for name in _cache_files(isolated_search / "cache" / "classicnets")
    )


def _cifar_bytes(per_batch: int, seed: int = 0) -> bytes:
    import io
    import tarfile

    import numpy as np

    from classicnets.data.catalog import CIFAR_RECORD, CIFAR_SPLITS

    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in (*CIFAR_SPLITS["train"], *CIFAR_SPLITS["test"]):
            records = rng.integers(0, 256, (per_batch, CIFAR_RECORD), dtype=np.uint8)
            records[:, 0] %= 10
            info = tarfile.TarInfo(name)
            info.size = records.nbytes
            archive.addfile(info, io.BytesIO(records.tobytes()))
    return buffer.getvalue()


@pytest.mark.parametrize("damage", [None, "corrupted", "truncated", "wrong records"])
def test_cifar10s_binary_archive_downloads_or_is_one_error_and_leaves_nothing(
    mirror, isolated_search, monkeypatch, damage
):
    from classicnets.data import cifar, load_dataset

    url, handler = mirror
    monkeypatch.setattr(cifar, "CIFAR_PER_BATCH", 50)  # the real files hold 10,000 records each
    body = _cifar_bytes(50)
    _entry_with("cifar10", monkeypatch, {"cifar-10-binary.tar.gz": body})
    if damage == "corrupted":
        body = body[:500] + bytes([body[500] ^ 1]) + body[501:]
    elif damage == "truncated":
        body = body[: len(body) // 2]
        _entry_with("cifar10", monkeypatch, {"cifar-10-binary.tar.gz": body})  # past the MD5, to the format
    elif damage == "wrong records":
        monkeypatch.setattr(cifar, "CIFAR_PER_BATCH", 40)
    handler.files["cifar-10-binary.tar.gz"] = body
    if damage is None:
        data = load_dataset("cifar10", mirror_url=url, show_progress=False)
        assert data.train.images.shape == (250, 3, 32, 32) and data.test.images.shape == (50, 3, 32, 32)
        return
    with pytest.raises(DataNotFoundError, match="cifar-10-binary.tar.gz but it does not verify"):
        load_dataset("cifar10", mirror_url=url, show_progress=False)
    assert _cache_files(isolated_search / "cache") == []

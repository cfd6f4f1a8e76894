"""Downloading Fashion-MNIST from a mirror, verified, without ever leaving a partial file.

Each file is streamed to a temporary name beside its destination, parsed and checked against
its SHA-256, and only then renamed into place, so an interrupted or corrupted download leaves
nothing that a later run could mistake for data.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from classicnets.data.catalog import ALL_FILES, MIRROR_URL, find_member, read_member
from classicnets.errors import DataError, DownloadError

CHUNK_BYTES = 1 << 16


def _fetch(url: str, target: Path, progress: Progress | None, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, target.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            task = progress.add_task(url.rsplit("/", 1)[-1], total=total) if progress else None
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                if progress is not None and task is not None:
                    progress.advance(task, len(chunk))
            if total is not None and out.tell() != total:
                raise DownloadError(
                    f"{url}: connection closed after {out.tell()} of {total} bytes; try again"
                )
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except http.client.IncompleteRead as exc:
        raise DownloadError(f"{url}: connection closed after {len(exc.partial)} bytes; try again") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(f"cannot download {url}: {reason}") from None


def download_fashion_mnist(
    dest: Path,
    base_url: str = MIRROR_URL,
    *,
    show_progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Download the four files into `dest` (skipping ones already there and valid).

    Returns `dest`. Raises `DownloadError` naming the file and what went wrong.
    """
    dest.mkdir(parents=True, exist_ok=True)
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, transient=True, disable=not show_progress) as progress:
        for stem in ALL_FILES:
            existing = find_member(dest, stem)
            if existing is not None:
                try:
                    read_member(existing, stem)
                    continue
                except DataError:
                    pass  # a bad copy is replaced below; the rename overwrites it
            final = dest / f"{stem}.gz"
            part = dest / f".{stem}.gz.part-{os.getpid()}"
            try:
                _fetch(base_url + f"{stem}.gz", part, progress, timeout)
                try:
                    read_member(part, stem)
                except DataError as exc:
                    raise DownloadError(
                        f"downloaded {base_url}{stem}.gz but it does not verify: {exc}"
                    ) from None
                os.replace(part, final)
                if existing is not None and existing != final:
                    existing.unlink()
            finally:
                part.unlink(missing_ok=True)
    return dest

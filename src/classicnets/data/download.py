"""Downloading a named data set from a mirror, verified, without ever leaving a partial file.

Each file is streamed to a temporary name beside its destination, checked against its
published checksum and parsed, and only then renamed into place, so an interrupted or corrupted download leaves
nothing that a later run could mistake for data.
"""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from classicnets.data.catalog import CatalogEntry, Member, find_member
from classicnets.data.verify import verify_file
from classicnets.errors import DataError, DownloadError
from classicnets.fileio import open_no_follow, temporary

CHUNK_BYTES = 1 << 16
# A download slower than this on average is given up (a mirror that trickles a byte every
# 20 s would otherwise be waited on for ever, as each byte resets the socket's timeout).
MIN_BYTES_PER_SECOND = 20_000


def size_cap(member: Member) -> int:
    """The most bytes a download of `member` may have: the file's known size plus gzip's overhead."""
    return member.size + member.size // 100 + (64 << 10)


def _fetch(url: str, target: Path, progress: Progress | None, timeout: float, cap: int) -> None:
    started = time.monotonic()
    deadline = started + timeout + cap / MIN_BYTES_PER_SECOND
    try:
        fd = open_no_follow(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            if total is not None and total > cap:
                raise DownloadError(
                    f"{url}: the server announces {total:,} bytes, more than the {cap:,} this file can "
                    "have: not the data set; try another mirror"
                )
            task = progress.add_task(url.rsplit("/", 1)[-1], total=total) if progress else None
            while chunk := response.read1(CHUNK_BYTES):  # what has arrived, so the deadline is checked often
                out.write(chunk)
                if out.tell() > cap:
                    raise DownloadError(
                        f"{url}: more than the {cap:,} bytes this file can have arrived: not the "
                        "data set; try another mirror"
                    )
                if time.monotonic() > deadline:
                    raise DownloadError(
                        f"{url}: only {out.tell():,} bytes arrived in {time.monotonic() - started:.0f} s, "
                        f"slower than {MIN_BYTES_PER_SECOND // 1000} KB/s; try again later or another mirror"
                    )
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


def download_dataset(
    entry: CatalogEntry,
    dest: Path,
    base_url: str,
    *,
    show_progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Download the data set's files into `dest` (skipping ones already there and valid).

    Each is verified (its checksum and its format) before it is renamed into place. Returns
    `dest`. Raises `DownloadError` naming the file and what went wrong.
    """
    dest.mkdir(parents=True, exist_ok=True)
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, transient=True, disable=not show_progress) as progress:
        for member in entry.members:
            existing = find_member(dest, member)
            if existing is not None:
                try:
                    verify_file(existing, member, entry)
                    continue
                except DataError:
                    pass  # a bad copy is replaced below; the rename overwrites it
            final = dest / member.name
            with temporary(dest / f".{member.name}.part-{os.getpid()}") as part:
                _fetch(base_url + member.name, part, progress, timeout, size_cap(member))
                try:
                    verify_file(part, member, entry)
                except DataError as exc:
                    raise DownloadError(
                        f"downloaded {base_url}{member.name} but it does not verify: {exc}"
                    ) from None
                os.replace(part, final)
                if existing is not None and existing != final:
                    existing.unlink()
    return dest

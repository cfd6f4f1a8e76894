"""The `.npz` export: weights, the network as a spec, and how to prepare its input, in one
NumPy archive that loads without pickle and runs without PyTorch."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classicnets.fileio import atomic_path
from classicnets.numpy_runtime.exported import ExportedModel, with_source
from classicnets.numpy_runtime.walker import Node, SpecError, dry_run, run_spec
from classicnets.validation import Invalid, parse_json

FORMAT = "classicnets-npz"
VERSION = 2  # 2: meta["input"] is a whole InputSpec (class names included)
_SPEC_KEY, _META_KEY, _WEIGHT_PREFIX = "__spec__", "__meta__", "w:"
# The zoo's largest export (VGG-19 at 224 px) is 0.55 GB of float32 weights. An archive that
# would unpack to more, or whose members are compressed more than weights ever compress, is
# refused before it is unpacked.
MAX_UNPACKED_BYTES = 1 << 30
MAX_MEMBERS = 4096
MAX_RATIO = 50


@dataclass
class NpzModel(ExportedModel):
    """A network exported to NumPy: `classify` needs nothing but NumPy."""

    spec: list[Node]
    weights: dict[str, np.ndarray]
    meta: dict[str, Any]  # model, model_args, input (an InputSpec as a dict)

    def run(self, x: np.ndarray) -> np.ndarray:
        return run_spec(self.spec, x, self.weights, dtype=np.float32)

    def trial(self, shape: tuple[int, int, int]) -> tuple[int, int]:
        return dry_run(self.spec, shape, self.weights)


def save_npz(
    path: str | Path, spec: Sequence[Node], weights: Mapping[str, np.ndarray], meta: Mapping[str, Any]
) -> Path:
    """Write the archive atomically (temporary name in the same directory, then rename)."""
    path = Path(path)
    arrays = {f"{_WEIGHT_PREFIX}{k}": np.ascontiguousarray(v) for k, v in weights.items()}
    arrays[_SPEC_KEY] = np.array(json.dumps(list(spec)))
    arrays[_META_KEY] = np.array(json.dumps({**meta, "format": FORMAT, "version": VERSION}))
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub: a key might be allow_pickle. A handle, not a name: np.savez would append ".npz" to the name
    return path


def load_npz(path: str | Path) -> NpzModel:
    """Read an archive written by `save_npz`; anything else gets a SpecError saying why."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: no such file, or not a regular file")
    try:
        with open(path, "rb") as handle:  # one open file: what is checked is what is read
            _check_members(handle, path)
            with np.load(handle, allow_pickle=False) as archive:  # never unpickle: an archive cannot run code
                arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
        raise SpecError(f"{path} is not a readable .npz archive ({str(exc)[:200]})") from None
    if _SPEC_KEY not in arrays or _META_KEY not in arrays:
        raise SpecError(f"{path} is not a classicnets export: it has no network description")
    try:
        spec = parse_json(_text(arrays.pop(_SPEC_KEY)), f"{path}'s network description")
        meta = parse_json(_text(arrays.pop(_META_KEY)), f"{path}'s metadata")
    except Invalid as exc:
        raise SpecError(str(exc)) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(spec, list):
        raise SpecError(f"{path} is not a classicnets export")
    if meta.get("version") != VERSION:
        raise SpecError(
            f"{path}: export version {meta.get('version')!r:.20} is not supported (this runtime reads "
            f"{VERSION})"
        )
    weights = {k[len(_WEIGHT_PREFIX) :]: v for k, v in arrays.items() if k.startswith(_WEIGHT_PREFIX)}
    if any(w.dtype.kind != "f" for w in weights.values()):
        raise SpecError(f"{path}: a weight tensor is not floating point")
    return with_source(path, NpzModel(spec=spec, weights=weights, meta=meta))


def _check_members(handle: Any, path: Path) -> None:
    """Refuse an archive that would unpack to more than MAX_UNPACKED_BYTES (a zip bomb)."""
    with zipfile.ZipFile(handle) as archive:
        members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise SpecError(f"{path} holds {len(members):,} arrays, more than any export")
    total = sum(m.file_size for m in members)
    if total > MAX_UNPACKED_BYTES:
        raise SpecError(
            f"{path} would unpack to {total / 2**30:.1f} GiB, more than the {MAX_UNPACKED_BYTES >> 30} GiB "
            "any network of the zoo needs"
        )
    for m in members:
        if m.compress_type != zipfile.ZIP_STORED and m.file_size > MAX_RATIO * max(m.compress_size, 1 << 10):
            raise SpecError(
                f"{path}: {m.filename} unpacks {m.file_size // max(m.compress_size, 1):,} times larger "
                "than it is stored, which weights never do: refused as a zip bomb"
            )
    handle.seek(0)


def _text(array: np.ndarray) -> str:
    if array.dtype.kind != "U" or array.ndim != 0:
        raise SpecError("the export's description is not a text entry")
    return str(array)

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
from classicnets.numpy_runtime.exported import ExportedModel
from classicnets.numpy_runtime.walker import Node, SpecError, run_spec

FORMAT = "classicnets-npz"
VERSION = 2  # 2: meta["input"] is a whole InputSpec (class names included)
_SPEC_KEY, _META_KEY, _WEIGHT_PREFIX = "__spec__", "__meta__", "w:"


@dataclass
class NpzModel(ExportedModel):
    """A network exported to NumPy: `classify` needs nothing but NumPy."""

    spec: list[Node]
    weights: dict[str, np.ndarray]
    meta: dict[str, Any]  # model, model_args, input (an InputSpec as a dict)

    def logits(self, images: np.ndarray, dtype: type[np.floating] = np.float32) -> np.ndarray:
        return run_spec(self.spec, self.prepare(images), self.weights, dtype=dtype)


def save_npz(path: str | Path, spec: Sequence[Node], weights: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> Path:
    """Write the archive atomically (temporary name in the same directory, then rename)."""
    path = Path(path)
    arrays = {f"{_WEIGHT_PREFIX}{k}": np.ascontiguousarray(v) for k, v in weights.items()}
    arrays[_SPEC_KEY] = np.array(json.dumps(list(spec)))
    arrays[_META_KEY] = np.array(json.dumps({**meta, "format": FORMAT, "version": VERSION}))
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)  # a handle, not a name: np.savez would append ".npz" to the name
    return path


def load_npz(path: str | Path) -> NpzModel:
    """Read an archive written by `save_npz`; anything else gets a SpecError saying why."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:  # never unpickle: an archive cannot run code
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise SpecError(f"{path} is not a readable .npz archive ({exc})") from None
    if _SPEC_KEY not in arrays or _META_KEY not in arrays:
        raise SpecError(f"{path} is not a classicnets export: it has no network description")
    try:
        spec = json.loads(str(arrays.pop(_SPEC_KEY)))
        meta = json.loads(str(arrays.pop(_META_KEY)))
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path}: its network description is damaged ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(spec, list):
        raise SpecError(f"{path} is not a classicnets export")
    if meta.get("version") != VERSION:
        raise SpecError(f"{path}: export version {meta.get('version')} is not supported (this runtime reads {VERSION})")
    weights = {k[len(_WEIGHT_PREFIX):]: v for k, v in arrays.items() if k.startswith(_WEIGHT_PREFIX)}
    return NpzModel(spec=spec, weights=weights, meta=meta)

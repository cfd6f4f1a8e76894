"""The `.onnx` export run by ONNX Runtime, with the same input preparation as the `.npz`
runtime (NumPy and PIL): what `classicnets export --format onnx` writes, others can run
without PyTorch or classicnets' network code.

The file's metadata (`classicnets` key, JSON) holds the network's name and arguments, the
input description (size, mean, std, class names) and what the output is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classicnets.numpy_runtime.exported import ExportedModel, with_source
from classicnets.numpy_runtime.walker import SpecError
from classicnets.validation import Invalid, parse_json

FORMAT = "classicnets-onnx"
VERSION = 1
META_KEY = "classicnets"
INPUT_NAME, OUTPUT_NAME = "input", "output"


@dataclass
class OnnxModel(ExportedModel):
    session: Any  # onnxruntime.InferenceSession
    meta: dict[str, Any]

    def run(self, x: np.ndarray) -> np.ndarray:
        """The network's output for an already prepared float32 input (N, C, S, S)."""
        try:
            out = self.session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(x, dtype=np.float32)})[0]
        except Exception as exc:  # onnxruntime's own error types: the graph does not take this input
            raise SpecError(
                f"the ONNX graph cannot run on a {list(x.shape)} input ({str(exc).splitlines()[0][:200]})"
            ) from None
        return np.asarray(out)

    def trial(self, shape: tuple[int, int, int]) -> tuple[int, int]:
        out = self.run(np.zeros((1, *shape), dtype=np.float32))
        if out.ndim != 2:
            raise SpecError(
                f"the network's output is {list(out.shape)}, not one row of class scores per image"
            )
        # ONNX Runtime plans its own memory; the input is the part that grows with the chunk.
        return int(out.shape[1]), int(np.prod(shape)) * 8


def load_onnx(path: str | Path) -> OnnxModel:
    """Read an ONNX file written by `classicnets export --format onnx`."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: no such file")
    try:
        import onnxruntime
    except ImportError:
        raise SpecError(
            "running an .onnx export needs onnxruntime: pip install onnxruntime (or 'classicnets[onnx]')"
        ) from None
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for unreadable or invalid files
        raise SpecError(f"{path} is not a readable ONNX model ({str(exc).splitlines()[0]})") from None
    raw = session.get_modelmeta().custom_metadata_map.get(META_KEY)
    try:
        meta = parse_json(raw, f"{path}'s metadata") if raw is not None else None
    except Invalid:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SpecError(f"{path} is not a classicnets export: its metadata has no '{META_KEY}' description")
    if meta.get("version") != VERSION:
        raise SpecError(
            f"{path}: export version {meta.get('version')} is not supported (this runtime reads {VERSION})"
        )
    return with_source(path, OnnxModel(session=session, meta=meta))

"""What every exported network shares, whatever runs it (the NumPy walker for `.npz`, ONNX
Runtime for `.onnx`): its input description, the input preparation, and turning its output
into class probabilities. Nothing here imports PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from classicnets.errors import ClassicnetsError
from classicnets.inputs import InputSpec
from classicnets.numpy_runtime import ops
from classicnets.numpy_runtime.walker import SpecError


class ExportedModel:
    """A network exported with its input description (`meta["input"]`, an InputSpec as a dict);
    subclasses run the network itself (`logits`)."""

    meta: dict[str, Any]  # model, model_args, input

    @property
    def input(self) -> InputSpec:
        try:
            return InputSpec.from_dict(self.meta["input"])
        except (KeyError, ClassicnetsError) as exc:
            raise SpecError(f"the export's input description is damaged ({exc})") from None

    @property
    def class_names(self) -> list[str]:
        return list(self.input.class_names)

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (N, H, W) -> the normalised, resized float input (N, 1, S, S)."""
        spec = self.input
        x = images.astype(np.float32)[:, None] / 255.0
        x = (x - spec.mean) / spec.std
        resize = spec.resize
        if resize != x.shape[-1]:
            if resize < x.shape[-1]:
                raise SpecError(f"the NumPy runtime only enlarges images; this model wants {resize} px")
            x = ops.resize_bilinear(x, resize)
        return x

    def logits(self, images: np.ndarray) -> np.ndarray:
        """The network's output (N, K) for uint8 images (N, H, W)."""
        raise NotImplementedError

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, K); a log-softmax or sigmoid output is handled too (the
        softmax of log-probabilities is the probabilities themselves)."""
        out = self.logits(images)
        if out.shape[1] == 1:  # one sigmoid output: P(class 1)
            return np.concatenate([1 - out, out], axis=1)
        return ops.softmax(out, 1)

    def classify(self, images: np.ndarray, top_k: int = 3) -> list[list[tuple[str, float]]]:
        probs = self.probabilities(images)
        names = self.class_names
        order = np.argsort(-probs, axis=1)[:, :top_k]
        return [[(names[i], float(row[i])) for i in idx] for row, idx in zip(probs, order)]


def load_exported(path: str | Path) -> ExportedModel:
    """An `.onnx` file (run by ONNX Runtime) or a `.npz` archive (run by NumPy), by its name."""
    if Path(path).suffix.lower() == ".onnx":
        from classicnets.numpy_runtime.onnx_model import load_onnx

        return load_onnx(path)
    from classicnets.numpy_runtime.archive import load_npz

    return load_npz(path)

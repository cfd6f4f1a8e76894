"""What every exported network shares, whatever runs it (the NumPy walker for `.npz`, ONNX
Runtime for `.onnx`): its input description, the input preparation, and turning its output
into class probabilities. Nothing here imports PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from classicnets.errors import ClassicnetsError
from classicnets.inputs import InputSpec, outputs_fit
from classicnets.numpy_runtime import ops
from classicnets.numpy_runtime.walker import SpecError

# What classifying one chunk of pictures may take, in bytes of float32 values per layer; the
# chunk's size follows from the network's largest layer (measured by `check`).
CHUNK_BYTES = 256 << 20
MAX_CHUNK = 256


class ExportedModel:
    """A network exported with its input description (`meta["input"]`, an InputSpec as a dict);
    subclasses run the network itself (`logits`)."""

    meta: dict[str, Any]  # model, model_args, input, flip_tta
    chunk: int = 1  # pictures classified at once; set by `check`

    def check(self) -> None:
        """Refuse an export that cannot classify: its input description is checked, and the
        network runs once on a blank picture, before any real one. Sets `chunk`."""
        spec = self.input
        if not isinstance(self.meta.get("flip_tta", False), bool):
            raise SpecError(f"the export's flip_tta is {self.meta['flip_tta']!r:.40}, not true or false")
        outputs, peak = self.trial(spec.shape)
        if not outputs_fit(outputs, len(spec.class_names)):
            raise SpecError(
                f"the network has {outputs} outputs but the export names {len(spec.class_names)} classes"
            )
        self.chunk = max(1, min(MAX_CHUNK, CHUNK_BYTES // (4 * max(peak, 1))))

    def trial(self, shape: tuple[int, int, int]) -> tuple[int, int]:
        """(outputs per example, the most values one layer computes per example) for a blank input."""
        raise NotImplementedError

    @property
    def input(self) -> InputSpec:
        try:
            return InputSpec.from_dict(self.meta.get("input"))
        except ClassicnetsError as exc:
            raise SpecError(f"the export's input description is damaged ({exc})") from None

    @property
    def class_names(self) -> list[str]:
        return list(self.input.class_names)

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (N, C, H, W) (or (N, H, W) for one channel) -> the normalised, resized
        float input (N, C, S, S), channel by channel as the run was trained."""
        spec = self.input
        if images.ndim == 3 and spec.channels == 1:
            images = images[:, None]
        if images.ndim != 4 or images.shape[1:] != (spec.channels, spec.native_size, spec.native_size):
            raise SpecError(
                f"expected images ({spec.channels}, {spec.native_size}, {spec.native_size}) as the "
                f"export's data set has, got {images.shape[1:]}"
            )
        mean = np.asarray(spec.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(spec.std, dtype=np.float32)[:, None, None]
        x = (images.astype(np.float32) / 255.0 - mean) / std
        resize = spec.resize
        if resize != x.shape[-1]:
            if resize < x.shape[-1]:
                raise SpecError(f"the NumPy runtime only enlarges images; this model wants {resize} px")
            x = ops.resize_bilinear(x, resize)
        return x

    def run(self, x: np.ndarray) -> np.ndarray:
        """The network's output (N, K) for a prepared float input (N, C, S, S)."""
        raise NotImplementedError

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, K) of uint8 images (N, C, H, W), as the run classified its test
        set: with test-time flips (`flip_tta`) the mean over each picture and its mirror image. A
        log-softmax or sigmoid output is handled too (the softmax of log-probabilities is the
        probabilities themselves)."""
        x = self.prepare(images)
        views = (x, np.ascontiguousarray(x[..., ::-1])) if self.meta.get("flip_tta", False) else (x,)
        total = self._probabilities(self.run(views[0]))
        for view in views[1:]:
            total = total + self._probabilities(self.run(view))
        return total / len(views)

    @staticmethod
    def _probabilities(out: np.ndarray) -> np.ndarray:
        if out.shape[1] == 1:  # one sigmoid output: P(class 1)
            return np.concatenate([1 - out, out], axis=1)
        return ops.softmax(out, 1)

    def classify(self, images: np.ndarray, top_k: int = 3) -> list[list[tuple[str, float]]]:
        """The top-k (class, probability) pairs of each image, `chunk` images at a time."""
        names, tops = self.class_names, []
        for start in range(0, len(images), self.chunk):
            probs = self.probabilities(images[start : start + self.chunk])
            order = np.argsort(-probs, axis=1)[:, :top_k]
            tops += [[(names[i], float(row[i])) for i in idx] for row, idx in zip(probs, order)]
        return tops


def load_exported(path: str | Path) -> ExportedModel:
    """An `.onnx` file (run by ONNX Runtime) or a `.npz` archive (run by NumPy), by its name."""
    if Path(path).suffix.lower() == ".onnx":
        from classicnets.numpy_runtime.onnx_model import load_onnx

        return load_onnx(path)
    from classicnets.numpy_runtime.archive import load_npz

    return load_npz(path)


_Model = TypeVar("_Model", bound="ExportedModel")


def with_source(path: str | Path, model: _Model) -> _Model:
    """`model`, checked (`check`), with any problem named after the file it came from."""
    try:
        model.check()
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None
    return model

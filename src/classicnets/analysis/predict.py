"""Classifying a user's own images with a trained run."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from classicnets.data.batches import BatchConfig, to_model_input
from classicnets.errors import ClassicnetsError, DataError
from classicnets.numpy_runtime.picture import is_blank, read_picture
from classicnets.training.checkpoint import LoadedRun, load_run


@dataclass
class Prediction:
    path: str
    top: list[tuple[str, float]] = field(default_factory=list)  # (class, probability), best first
    error: str | None = None  # the file could not be read; `top` is empty
    warning: str | None = None  # classified, but the result means little (a blank picture)

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "top": [{"class": c, "probability": p} for c, p in self.top],
            "error": self.error,
            "warning": self.warning,
        }


@torch.no_grad()
def probabilities(run: LoadedRun, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """uint8 images of the run's data set (N, C, H, W; or (N, H, W) for one channel) -> class
    probabilities (N, K) on the CPU, prepared as the run was trained (normalisation, resize), in
    batches of `batch_size`."""
    names = run.class_names
    images = run_images(run, images)
    config = BatchConfig.for_input(run.input)
    model = run.model.eval()
    device = next(model.parameters()).device
    inference = run.inference()
    chunks = [
        inference.probabilities(
            model, to_model_input(images[i : i + batch_size].to(device), config), device
        ).cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(chunks) if chunks else torch.empty(0, len(names))


def run_images(run: LoadedRun, images: torch.Tensor) -> torch.Tensor:
    """`images` as (N, C, H, W) of the run's channels and side, or one clear error."""
    spec = run.input
    if not spec.images:
        raise ClassicnetsError(
            f"this run was trained on {spec.dataset}, not on pictures: it classifies no picture"
        )
    if images.ndim == 3 and spec.channels == 1:
        images = images.unsqueeze(1)
    if images.dtype != torch.uint8 or tuple(images.shape[1:]) != (
        spec.channels,
        spec.native_size,
        spec.native_size,
    ):
        raise ClassicnetsError(
            f"expected uint8 images ({spec.channels}, {spec.native_size}, {spec.native_size}) as "
            f"{spec.title}'s, got {images.dtype} {tuple(images.shape[1:])}"
        )
    return images


def classify(run: LoadedRun, images: torch.Tensor, top_k: int = 3) -> list[list[tuple[str, float]]]:
    """uint8 images (N, C, H, W) -> the top-k (class, probability) pairs for each."""
    names = run.class_names
    probs = probabilities(run, images)
    values, indices = probs.topk(min(top_k, len(names)), dim=1)
    return [
        [(names[i], float(v)) for v, i in zip(vs, idx)] for vs, idx in zip(values.tolist(), indices.tolist())
    ]


BLANK = "nothing in it stands out from its background after conversion: the prediction is a guess"


def iter_predictions(
    run: LoadedRun, paths: Iterable[str | Path], top_k: int = 3, chunk: int = 256
) -> Iterator[Prediction]:
    """Classify each file, `chunk` files at a time, in order, so that memory stays bounded
    however many there are; a file that cannot be read gets an error and the others go on."""
    paths = iter(paths)
    while batch := list(itertools.islice(paths, chunk)):
        results: list[Prediction] = []
        images: list[tuple[int, torch.Tensor]] = []
        for path in batch:
            try:
                image = torch.from_numpy(read_picture(path, run.input))
            except DataError as exc:
                results.append(Prediction(path=str(path), error=str(exc)))
                continue
            images.append((len(results), image))
            blank = run.input.picture == "object" and is_blank(image.numpy())
            results.append(Prediction(path=str(path), warning=BLANK if blank else None))
        if images:
            tops = classify(run, torch.stack([image for _, image in images]), top_k)
            for (index, _), top in zip(images, tops):
                results[index].top = top
        yield from results


def predict_files(run: LoadedRun, paths: list[str | Path], top_k: int = 3) -> list[Prediction]:
    """Classify each file; a file that cannot be read gets an error and the others go on."""
    return list(iter_predictions(run, paths, top_k))


def predict(
    run: LoadedRun | str | Path, images: list[str | Path] | torch.Tensor, top_k: int = 3
) -> list[Prediction]:
    """Classify image files, or uint8 images of the run's data set (N, C, H, W), with a run
    (a `LoadedRun`, a run directory or a checkpoint file)."""
    loaded = run if isinstance(run, LoadedRun) else load_run(run)
    if isinstance(images, torch.Tensor):
        return [Prediction(path=f"[{i}]", top=top) for i, top in enumerate(classify(loaded, images, top_k))]
    return predict_files(loaded, list(images), top_k)

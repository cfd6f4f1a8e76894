"""The translation test (seed 003): shift an image a few pixels and watch each network's class
probabilities; then the same over the whole test set, as accuracy against the shift.

Seed 003 shows it on one training image (index 24150) with an MLP, whose prediction changes
after about 2 pixels; a CNN's should hold longer. The test-set curve turns that anecdote into
a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classicnets.analysis.predict import probabilities
from classicnets.data.sources import data_for_run
from classicnets.errors import ClassicnetsError
from classicnets.experiments.defaults import SEED_INDEX, SHIFT_AXES
from classicnets.experiments.output import ExperimentOutput, write_experiment
from classicnets.reports.figures import picture_for_display, plt
from classicnets.training.checkpoint import LoadedRun, load_run


def shift_images(
    images: torch.Tensor, shift: int, axis: str = "horizontal", wrap: bool = False
) -> torch.Tensor:
    """(N, [C,] H, W) images moved `shift` pixels right (horizontal) or down (vertical); what leaves
    one side comes back on the other with `wrap` (seed 003's np.roll), else the gap is black."""
    if axis not in SHIFT_AXES:
        raise ClassicnetsError(f"unknown axis {axis!r}; choose one of: {', '.join(SHIFT_AXES)}")
    dim = images.ndim - 1 if axis == "horizontal" else images.ndim - 2
    if wrap or shift == 0:
        return torch.roll(images, shift, dims=dim)
    size = images.shape[dim]
    out = torch.zeros_like(images)
    if abs(shift) >= size:
        return out
    if shift > 0:
        out.narrow(dim, shift, size - shift).copy_(images.narrow(dim, 0, size - shift))
    else:
        out.narrow(dim, 0, size + shift).copy_(images.narrow(dim, -shift, size + shift))
    return out


@dataclass
class RunShift:
    label: str
    run_dir: str
    model: str
    probabilities: list[list[float]]  # (shifts, classes) for the one image
    accuracy: list[float]  # test accuracy per shift


@dataclass
class ShiftResult:
    shifts: list[int]
    axis: str
    wrap: bool
    image: dict[str, Any]  # split, index, label
    class_names: list[str]
    test_images: int
    runs: list[RunShift]

    def to_dict(self) -> dict[str, Any]:
        return {
            "shifts": self.shifts,
            "axis": self.axis,
            "wrap": self.wrap,
            "image": self.image,
            "class_names": self.class_names,
            "test_images": self.test_images,
            "runs": [
                {
                    "label": r.label,
                    "run_dir": r.run_dir,
                    "model": r.model,
                    "probabilities": r.probabilities,
                    "predicted": [self.class_names[int(np.argmax(p))] for p in r.probabilities],
                    "accuracy": r.accuracy,
                }
                for r in self.runs
            ],
        }


def shift_accuracy(
    run: LoadedRun,
    images: torch.Tensor,
    labels: torch.Tensor,
    shifts: list[int],
    axis: str = "horizontal",
    wrap: bool = False,
) -> list[float]:
    """Accuracy on `images` shifted by each of `shifts`."""
    return [
        float((probabilities(run, shift_images(images, s, axis, wrap)).argmax(1) == labels).double().mean())
        for s in shifts
    ]


def shift_experiment(
    runs: list[str | Path],
    *,
    index: int = SEED_INDEX,
    split: str = "train",
    max_shift: int = 5,
    axis: str = "horizontal",
    wrap: bool = False,
    limit: int | None = None,
    data_dir: str | None = None,
    dataset: str | None = None,
) -> ShiftResult:
    """The translation test of `runs` (on pictures of the same classes) on the first run's data
    set, or on `dataset` (the same classes)."""
    if not runs:
        raise ClassicnetsError("name at least one run directory to test")
    loaded = [load_run(r) for r in runs]
    data = data_for_run(loaded[0].input, dataset=dataset, data_dir=data_dir)
    side = data.info.native_size
    if not 0 <= max_shift < side:
        # A shift of the whole side moves the image out of its frame: nothing is left to classify.
        raise ClassicnetsError(
            f"--max-shift must be from 0 to {side - 1} (the images are {side} px wide), got {max_shift}"
        )
    if split not in ("train", "test"):
        raise ClassicnetsError(f"split must be train or test, got {split!r}")
    source = data.train if split == "train" else data.test
    if not 0 <= index < len(source):
        raise ClassicnetsError(f"--index {index} is outside the {split} set (0..{len(source) - 1})")
    test = data.test.head(limit)
    shifts = list(range(-max_shift, max_shift + 1))
    names = loaded[0].class_names
    image = source.images[index : index + 1]
    moved = torch.cat([shift_images(image, s, axis, wrap) for s in shifts])
    results = []
    for run in loaded:
        probs = probabilities(run, moved)
        results.append(
            RunShift(
                label=run.label,
                run_dir=str(run.run_dir),
                model=run.info.model,
                probabilities=probs.tolist(),
                accuracy=shift_accuracy(run, test.images, test.labels, shifts, axis, wrap),
            )
        )
    label = int(source.labels[index])
    return ShiftResult(
        shifts=shifts,
        axis=axis,
        wrap=wrap,
        image={"split": split, "index": index, "label": names[label]},
        class_names=names,
        test_images=len(test),
        runs=results,
    )


def plot_shift(result: ShiftResult, image: np.ndarray | None = None) -> plt.Figure:
    """Heatmaps of class probability (rows: shift, columns: class), one per run, side by side;
    below them, test accuracy against the shift, one curve per run."""
    n = len(result.runs)
    fig = plt.figure(figsize=(5.2 * n + 1.6, 10.5), layout="constrained")
    grid = fig.add_gridspec(2, n + 1, height_ratios=[1.35, 1], width_ratios=[0.45] + [1] * n)
    rows = [f"{s:+d} px" for s in result.shifts]
    if image is not None:
        ax = fig.add_subplot(grid[0, 0])
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
        ax.set_title(f"{result.image['split']} #{result.image['index']}\n{result.image['label']}", fontsize=9)
        ax.axis("off")
    for i, run in enumerate(result.runs):
        ax = fig.add_subplot(grid[0, i + 1])
        probs = np.array(run.probabilities)
        ax.imshow(probs, cmap="gray", vmin=0, vmax=1, aspect="auto")
        for r in range(probs.shape[0]):
            for c in range(probs.shape[1]):
                ax.text(
                    c,
                    r,
                    f"{probs[r, c]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="black" if probs[r, c] > 0.5 else "white",
                )
        ax.set_xticks(range(len(result.class_names)), result.class_names, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_title(run.label, fontsize=10)
    ax = fig.add_subplot(grid[1, :])
    for run in result.runs:
        ax.plot(result.shifts, run.accuracy, marker="o", label=run.label)
    ax.set_xlabel(f"{result.axis} shift in pixels ({'wrapped around' if result.wrap else 'zero fill'})")
    ax.set_ylabel("test accuracy")
    ax.set_title(
        f"Accuracy on {result.test_images:,} test images, each shifted by the same amount", fontsize=10
    )
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.suptitle("Probability of each class for various translations", fontsize=12)
    return fig


def run_shift(
    runs: list[str | Path],
    *,
    out_dir: str | Path | None = None,
    data_dir: str | None = None,
    dataset: str | None = None,
    **kwargs: Any,
) -> tuple[ShiftResult, ExperimentOutput]:
    result = shift_experiment(runs, data_dir=data_dir, dataset=dataset, **kwargs)
    data = data_for_run(load_run(runs[0]).input, dataset=dataset, data_dir=data_dir)
    source = data.train if result.image["split"] == "train" else data.test
    image = picture_for_display(source.images[result.image["index"]])
    return result, write_experiment("shift", result.to_dict(), plot_shift(result, image), out_dir)

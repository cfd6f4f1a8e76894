"""Figures, written atomically (temporary name, then rename), with the Agg backend outside Jupyter."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from classicnets.reports.notebook import in_notebook

if not in_notebook():
    # No display on servers; set before pyplot is imported. A Jupyter kernel keeps its own
    # (inline) backend, or the learner's own plots would stop showing; ours are saved and closed.
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from classicnets.data.split import Split
from classicnets.fileio import atomic_path

MAX_GRID_CLASSES = 20  # rows of a sample grid; a data set with more classes shows its first 20


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 120) -> Path:
    """Save `fig` as PNG to `path` atomically and close it."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def picture_for_display(image: torch.Tensor) -> np.ndarray:
    """A uint8 (C, H, W) image as imshow takes it: (H, W) grey or (H, W, 3) colour."""
    array = image.numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


def sample_grid(
    split: Split,
    class_names: tuple[str, ...],
    path: str | Path,
    title: str,
    per_class: int = 8,
    seed: int = 0,
) -> Path:
    """A grid of labelled samples: one row per class, `per_class` random examples each."""
    gen = torch.Generator().manual_seed(seed)
    rows = class_names[:MAX_GRID_CLASSES]
    fig, axes = plt.subplots(
        len(rows), per_class, figsize=(per_class * 1.0, len(rows) * 1.1), layout="constrained", squeeze=False
    )
    for row, name in enumerate(rows):
        indices = torch.nonzero(split.labels == row).flatten()
        chosen = indices[torch.randperm(len(indices), generator=gen)[:per_class]]
        for col in range(per_class):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(chosen):
                picture = picture_for_display(split.images[chosen[col]])
                ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=255)
                ax.set_title(f"#{int(chosen[col])}", fontsize=6, pad=2)
            if col == 0:
                ax.set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(f"{title} samples (row: class, title: index in the split)", fontsize=10)
    return save_figure(fig, path)

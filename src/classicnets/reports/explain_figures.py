"""Pictures of what a network sees: one figure per image (the input, Grad-CAM and saliency
over it, the feature maps of each stage) and one of the first layer's filters; `explain`
computes them for a run and writes them with explain.json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classicnets.analysis.explain import Explanation, explain_images, first_layer_filters
from classicnets.analysis.receptive import LayerField, receptive_fields
from classicnets.fileio import write_text_atomic
from classicnets.numpy_runtime.picture import read_picture
from classicnets.reports.figures import plt, save_figure
from classicnets.training.checkpoint import LoadedRun, load_run


def _overlay(ax: plt.Axes, image: np.ndarray, heat: np.ndarray | None, title: str) -> None:
    ax.imshow(image, cmap="gray")
    if heat is not None:
        ax.imshow(heat, cmap="jet", alpha=0.5, vmin=0, vmax=max(float(heat.max()), 1e-12))
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_explanation(explanation: Explanation, path: str | Path, title: str = "") -> Path:
    """Row 1: the input, Grad-CAM and saliency for the predicted class; then one row per stage
    with its most active feature maps (titled with their channel numbers)."""
    stages = explanation.stages
    columns = max(3, *(len(s.maps) for s in stages)) if stages else 3
    fig, axes = plt.subplots(
        1 + len(stages),
        columns,
        figsize=(columns * 1.3, (1 + len(stages)) * 1.45),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.flat:
        ax.axis("off")
    (name, probability), *_ = explanation.top
    _overlay(axes[0, 0], explanation.image, None, f"input\n{name} {probability:.0%}")
    cam_title = (
        f"Grad-CAM\n{explanation.grad_cam_layer}"
        if explanation.grad_cam is not None
        else "Grad-CAM\n(no conv stage)"
    )
    _overlay(axes[0, 1], explanation.image, explanation.grad_cam, cam_title)
    _overlay(axes[0, 2], explanation.image, explanation.saliency, "saliency\n|d score / d pixel|")
    for ax in axes[0, :3]:
        ax.axis("on")
    for row, stage in enumerate(stages, start=1):
        for col, fmap in enumerate(stage.maps):
            ax = axes[row, col]
            ax.imshow(fmap, cmap="viridis")
            # The stage's name runs on over the empty first lines of its neighbours' titles.
            heading = f"{stage.name} {'x'.join(map(str, stage.shape))}" if col == 0 else ""
            ax.set_title(f"{heading}\nchannel {stage.channels[col]}", fontsize=7, loc="left")
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def plot_filters(filters: np.ndarray, path: str | Path, title: str, limit: int = 64) -> Path:
    """The first `limit` filters in a grid, each on its own symmetric colour scale."""
    shown = filters[:limit]
    columns = min(8, len(shown))
    rows = -(-len(shown) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(columns * 1.1, rows * 1.1 + 0.4), squeeze=False, layout="constrained"
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, kernel in zip(axes.flat, shown):
        bound = max(float(np.abs(kernel).max()), 1e-12)
        ax.imshow(kernel, cmap="RdBu_r", vmin=-bound, vmax=bound)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


@dataclass
class ExplainReport:
    """What `explain` computed and where it drew it."""

    document: dict[str, Any]  # receptive fields, filters, one entry per image (what explain.json holds)
    fields: list[LayerField]
    explanations: list[Explanation]
    files: list[Path]


def explain(
    run: LoadedRun | str | Path,
    images: Sequence[str | Path] | torch.Tensor,
    out_dir: str | Path | None = None,
) -> ExplainReport:
    """Explain image files (or uint8 images of the run's data set, (N, C, H, W)) with a run: receptive fields, the first
    layer's filters, and per image its feature maps, Grad-CAM and saliency. Figures and
    explain.json go to `out_dir` (default RUN_DIR/explain); in Jupyter, show them with
    `IPython.display.Image(filename=...)` or look at `report.explanations`."""
    loaded = run if isinstance(run, LoadedRun) else load_run(run)
    if isinstance(images, torch.Tensor):
        sources = names = [f"image{i}" for i in range(len(images))]
        pixels = images
    else:
        sources, names = [str(p) for p in images], [Path(p).stem for p in images]
        spec = loaded.input
        pixels = (
            torch.stack([torch.from_numpy(read_picture(p, spec)) for p in images])
            if images
            else torch.empty(0, *spec.shape[:1], spec.native_size, spec.native_size, dtype=torch.uint8)
        )
    explanations = explain_images(loaded, pixels)  # every image read before any file is written
    out = Path(out_dir) if out_dir is not None else loaded.run_dir / "explain"
    fields = receptive_fields(loaded.model, loaded.input.resize)
    layer, filters = first_layer_filters(loaded.model)
    files = [plot_filters(filters, out / "filters.png", f"{loaded.label}: first layer ({layer}) weights")]
    entries = []
    for index, (source, name, explanation) in enumerate(zip(sources, names, explanations)):
        png = out / f"{index:02d}-{name}.png"
        files.append(plot_explanation(explanation, png, title=f"{loaded.label}: {name}"))
        entries.append({"image": source, **explanation.to_dict(), "png": str(png)})
    document = {
        "run_dir": str(loaded.run_dir),
        "model": loaded.info.model,
        "input": loaded.input.to_dict(),
        "receptive_fields": [f.to_dict() for f in fields],
        "filters": {"layer": layer, "shape": list(filters.shape), "png": str(files[0])},
        "images": entries,
    }
    json_path = out / "explain.json"
    write_text_atomic(json_path, json.dumps(document, indent=2) + "\n")
    return ExplainReport(
        document=document, fields=fields, explanations=explanations, files=[*files, json_path]
    )

"""The book's Animator picture: train loss, train accuracy and test accuracy against epochs,
redrawn after every epoch so a running job can be watched; the confusion matrix; and the
learning-rate range test's curve."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classicnets.reports.figures import plt, save_figure

if TYPE_CHECKING:
    from classicnets.training.lr_find import LrFindResult


def plot_curves(metrics: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    epochs = [m["epoch"] for m in metrics]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(epochs, [m["train_loss"] for m in metrics], "-", color="C0", label="train loss")
    ax.plot(epochs, [m["train_acc"] for m in metrics], "--", color="C1", label="train acc")
    ax.plot(epochs, [m["test_acc"] for m in metrics], "-.", color="C2", label="test acc")
    if all("val_acc" in m for m in metrics):
        ax.plot(epochs, [m["val_acc"] for m in metrics], ":", color="C3", label="val acc")
    ax.set_xlabel("epoch")
    ax.set_xlim(1, max(max(epochs, default=1), 2))
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def plot_confusion(
    matrix: Sequence[Sequence[int]], class_names: Sequence[str], path: str | Path, title: str = ""
) -> Path:
    """Row: true class, column: predicted class; each cell shows its count."""
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    peak = max(max(row) for row in matrix) or 1
    for i in range(n):
        for j in range(n):
            value = matrix[i][j]
            ax.text(
                j,
                i,
                str(value),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value > peak / 2 else "black",
            )
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def plot_lr_find(result: LrFindResult, path: str | Path) -> Path:
    """The range test: the loss of each step (faint) and smoothed, against the learning rate in
    log scale; the falling range shaded, the suggestion and the recipe's own rate marked."""
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    ax.plot(result.lrs, result.losses, color="C0", alpha=0.25, linewidth=0.8, label="loss per step")
    ax.plot(result.lrs, result.smoothed, color="C0", label="smoothed")
    ax.axvspan(*result.falling, color="C2", alpha=0.12, label="loss falling")
    ax.axvline(result.suggestion, color="C3", label=f"suggestion {result.suggestion:.3g}")
    ax.axvline(
        result.recipe_lr, color="0.3", linestyle="--", label=f"{result.recipe} recipe {result.recipe_lr:g}"
    )
    ax.set_xscale("log")
    # The blow-up at the end would flatten everything before it.
    top = max(result.smoothed[: max(len(result.smoothed) // 10, 1)] + [min(result.smoothed) * 1.5])
    ax.set_ylim(min(result.smoothed) * 0.9, top * 1.15)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{result.model} ({result.recipe} recipe): learning-rate range test", fontsize=10)
    return save_figure(fig, path)

"""The book's Animator picture: train loss, train accuracy and test accuracy against epochs,
redrawn after every epoch so a running job can be watched; and the confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from classicnets.reports.figures import plt, save_figure


def plot_curves(metrics: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    epochs = [m["epoch"] for m in metrics]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(epochs, [m["train_loss"] for m in metrics], "-", color="C0", label="train loss")
    ax.plot(epochs, [m["train_acc"] for m in metrics], "--", color="C1", label="train acc")
    ax.plot(epochs, [m["test_acc"] for m in metrics], "-.", color="C2", label="test acc")
    ax.set_xlabel("epoch")
    ax.set_xlim(1, max(max(epochs, default=1), 2))
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def plot_confusion(matrix: Sequence[Sequence[int]], class_names: Sequence[str], path: str | Path, title: str = "") -> Path:
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
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                    color="white" if value > peak / 2 else "black")
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)

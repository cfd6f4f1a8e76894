"""Pictures of finished runs: several runs' curves overlaid (`compare`), and the mistakes one
network makes (`evaluate --mistakes`)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.ticker import MaxNLocator

from classicnets.analysis.mistakes import Mistakes
from classicnets.analysis.runs import RunSummary
from classicnets.data.split import Split
from classicnets.reports.figures import picture_for_display, plt, save_figure
from classicnets.training.rundir import run_clock


def plot_comparison(runs: list[RunSummary], path: str | Path) -> Path:
    """Test accuracy against epochs and against the run's own wall time, and the training loss,
    every run one colour (dotted: its validation accuracy)."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained")
    by_epoch, by_time, loss = axes
    for index, run in enumerate(runs):
        colour = f"C{index % 10}"
        epochs = [row["epoch"] for row in run.rows]
        clock = run_clock(run.rows)
        accuracy = [row["test_acc"] for row in run.rows]
        label = f"{run.label} ({run.model}, {run.recipe})" + (
            "" if run.status == "finished" else f", {run.status}"
        )
        by_epoch.plot(epochs, accuracy, "-o", color=colour, markersize=3, label=label)
        by_time.plot(clock, accuracy, "-o", color=colour, markersize=3)
        loss.plot(epochs, [row["train_loss"] for row in run.rows], "-", color=colour)
        if run.val_acc is not None:
            by_epoch.plot(epochs, [row["val_acc"] for row in run.rows], ":", color=colour)
    by_epoch.set(xlabel="epoch", ylabel="test accuracy", title="test accuracy by epoch")
    by_time.set(
        xlabel="seconds of the run (its epochs, evaluation included)",
        ylabel="test accuracy",
        title="test accuracy by wall time",
    )
    loss.set(xlabel="epoch", ylabel="training loss", title="training loss", yscale="log")
    for ax in axes:
        ax.grid(alpha=0.3)
    for ax in (by_epoch, loss):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    by_epoch.legend(fontsize=7, loc="lower right")
    return save_figure(fig, path)


def plot_mistakes(
    mistakes: Mistakes, test: Split, path: str | Path, title: str = "", columns: int = 8
) -> Path:
    """The worst mistakes (highest loss first) in a grid, each with its true class, the predicted
    one and its probability; then one row per most-confused pair of classes, with examples."""
    worst_rows = -(-len(mistakes.worst) // columns)
    rows = worst_rows + len(mistakes.pairs)
    fig, axes = plt.subplots(
        max(rows, 1),
        columns,
        figsize=(columns * 1.45, max(rows, 1) * 1.75 + 0.6),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.flat:
        ax.axis("off")

    def show(ax: plt.Axes, index: int, caption: str, colour: str = "black") -> None:
        picture = picture_for_display(test.images[index])
        ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=255)
        ax.set_title(caption, fontsize=6.5, color=colour, pad=2)

    for k, mistake in enumerate(mistakes.worst):
        show(
            axes[k // columns, k % columns],
            mistake.index,
            f"true {mistake.true}\n{mistake.predicted} {mistake.probability:.0%}",
            "firebrick",
        )
    for r, pair in enumerate(mistakes.pairs, start=worst_rows):
        axes[r, 0].text(
            0.0,
            0.5,
            f"{pair.true}\nseen as\n{pair.predicted}:\n{pair.count} times",
            fontsize=8,
            va="center",
            ha="left",
            transform=axes[r, 0].transAxes,
        )
        for c, index in enumerate(pair.examples[: columns - 1], start=1):
            show(axes[r, c], index, f"#{index}")
    heading = (f"{title}: " if title else "") + (
        f"the {len(mistakes.worst)} mistakes with the highest loss of "
        f"{mistakes.wrong:,} in {mistakes.count:,} test pictures, then the "
        "most confused pairs"
    )
    fig.suptitle(heading, fontsize=9)
    return save_figure(fig, path)

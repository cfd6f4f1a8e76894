"""What shows a run while it trains, as observers of the loop (`training.observers`): the
progress bar (in a terminal, or in a Jupyter cell), the log lines, `curves.png` (shown in the
cell too), and TensorBoard's event files."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from classicnets.errors import ClassicnetsError
from classicnets.reports.curves import plot_curves
from classicnets.reports.notebook import LiveImage, NotebookProgress, in_notebook
from classicnets.training.config import TrainConfig
from classicnets.training.device import resolve_precision
from classicnets.training.observers import FINISHED, STOPPED, Observer, RunState, Throttle
from classicnets.training.rundir import BEST, CURVES, FINAL, METRICS, TENSORBOARD, examples_per_sec

_WRITE_EVERY_S = 1.0  # at most one plot and log line per second: seed 003's toy run has 2,000 epochs


class ProgressBar(Observer):
    """One bar per epoch, with the loss at the last check; in Jupyter an HTML bar updated in place."""

    def __init__(self, notebook: bool = False) -> None:
        self.notebook = notebook
        self.progress: Any = None
        self.task: int | None = None
        self.loss: float | None = None

    def on_start(self, run: RunState) -> None:
        if not run.main:
            return  # one process shows the run
        self.progress = (
            NotebookProgress()
            if self.notebook
            else Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
        )
        self.progress.__enter__()

    def on_step(self, run: RunState) -> None:
        position, epochs = run.position, run.config.epochs
        if self.progress is None:
            return
        if self.task is None:
            self.task = self.progress.add_task(
                f"epoch {position.epoch + 1}/{epochs}",
                total=len(run.parts.train_batches),
                completed=position.batch,
            )
        else:
            self.progress.advance(self.task)
        if run.loss is not None and run.loss != self.loss:
            self.loss = run.loss
            self.progress.update(
                self.task, description=f"epoch {position.epoch + 1}/{epochs} loss {run.loss:.3f}"
            )

    def on_epoch_end(self, run: RunState, row: dict[str, Any]) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.remove_task(self.task)
        self.task, self.loss = None, None

    def on_end(self, run: RunState, outcome: str) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)


class EpochLog(Observer):
    """The lines a run prints to its log (rank 0's under torchrun): what it trains, each epoch (at
    most one a second), and d2l's closing lines as `train_ch6` prints them."""

    def __init__(self, announce: bool = True, every: float = _WRITE_EVERY_S) -> None:
        self.announce, self.throttle = announce, Throttle(every)
        self.shown = 0  # epochs whose line is printed

    def on_start(self, run: RunState) -> None:
        config, parts = run.config, run.parts
        if not self.announce or run.position.step:
            return
        world, device = parts.world, parts.device
        on = f"{world.size} processes ({device.type})" if world.distributed else str(device)
        precision = resolve_precision(device, config.precision)
        on += ", bf16" if precision == "bf16" else ""
        if config.precision == "bf16" and precision != "bf16":
            run.log(
                f"bf16 asked for, but {device} has no native bf16 (AVX512-BF16, AMX or CUDA): training in float32"
            )
        run.log(
            f"training {config.model} ({config.recipe} recipe) on {on}: {config.epochs} epochs, "
            f"batch {config.batch_size}, lr {config.lr:g}, {config.optimizer}, -> {run.run_dir}"
        )

    def on_epoch_end(self, run: RunState, row: dict[str, Any]) -> None:
        if self.throttle():
            self._line(run, row)

    def on_end(self, run: RunState, outcome: str) -> None:
        if run.metrics and self.shown < run.metrics[-1]["epoch"]:
            self._line(run, run.metrics[-1])
        if outcome not in (FINISHED, STOPPED) or not run.metrics:
            return
        if outcome == STOPPED:
            run.log(run.stop_reason or "stopped")
        final = run.metrics[-1]
        run.log(
            f"loss {final['train_loss']:.3f}, train acc {final['train_acc']:.3f}, test acc {final['test_acc']:.3f}"
        )
        run.log(f"{examples_per_sec(run.metrics):.1f} examples/sec on {run.parts.device}")
        best = f", {BEST}" if run.config.keep_best else ""
        run.log(f"run directory: {run.run_dir} ({CURVES}, {METRICS}, {FINAL}{best})")

    def _line(self, run: RunState, row: dict[str, Any]) -> None:
        self.shown = row["epoch"]
        val = f", val acc {row['val_acc']:.3f}" if "val_acc" in row else ""
        run.log(
            f"epoch {row['epoch']:>3}/{run.config.epochs}: loss {row['train_loss']:.3f}, train acc "
            f"{row['train_acc']:.3f}, test acc {row['test_acc']:.3f}{val}, "
            f"{row['examples_per_sec']:,.0f} examples/sec, {row['seconds']:.1f} s"
        )


class CurvesPlot(Observer):
    """RUN_DIR/curves.png, redrawn at most once a second (every epoch in Jupyter, shown in the cell)."""

    def __init__(self, live: bool = False) -> None:
        self.live = LiveImage() if live else None
        self.throttle = Throttle(0.0 if live else _WRITE_EVERY_S)
        self.drawn = 0

    def on_epoch_end(self, run: RunState, row: dict[str, Any]) -> None:
        if run.main and self.throttle():
            self._draw(run)

    def on_end(self, run: RunState, outcome: str) -> None:
        if run.main and run.metrics and self.drawn < len(run.metrics):
            self._draw(run)

    def _draw(self, run: RunState) -> None:
        self.drawn = len(run.metrics)
        plot_curves(
            run.metrics, run.run_dir / CURVES, title=f"{run.config.model} ({run.config.recipe} recipe)"
        )
        if self.live is not None:
            self.live.show(run.run_dir / CURVES)


class TensorBoardLog(Observer):
    """RUN_DIR/tensorboard: every number of every epoch's row, by epoch."""

    KEYS = ("train_loss", "train_acc", "test_acc", "val_loss", "val_acc", "examples_per_sec", "lr")

    def __init__(self) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ClassicnetsError(
                "--tensorboard needs the tensorboard package: pip install 'classicnets[tensorboard]'"
            ) from None
        self.writer_class = SummaryWriter
        self.writer: Any = None

    def on_start(self, run: RunState) -> None:
        if run.main:
            self.writer = self.writer_class(str(run.run_dir / TENSORBOARD))

    def on_epoch_end(self, run: RunState, row: dict[str, Any]) -> None:
        if self.writer is not None:
            for key in self.KEYS:
                if key in row:
                    self.writer.add_scalar(key, row[key], row["epoch"])

    def on_end(self, run: RunState, outcome: str) -> None:
        if self.writer is not None:
            self.writer.close()


def display_observers(config: TrainConfig, show_progress: bool) -> list[Observer]:
    """What shows a run of `config`: the bar (with `show_progress`), the log lines, the curves
    and, when the configuration asks, TensorBoard (its package checked before anything is written)."""
    notebook = show_progress and in_notebook()
    shown: list[Observer] = [
        CurvesPlot(live=notebook),
        EpochLog(announce=show_progress, every=0.0 if notebook else _WRITE_EVERY_S),
    ]
    if config.tensorboard:
        shown.append(TensorBoardLog())
    if show_progress:
        shown.append(ProgressBar(notebook))  # last: the bar is taken down after the last lines are out
    return shown

"""Training as users start it: the loop (`training.loop`) with the observers that show it (the
progress bar, the log lines, curves.png, the notebook's live display, TensorBoard) and any of
the user's own.

    >>> import classicnets
    >>> result = classicnets.train("lenet", epochs=2, limit=5000)     # doctest: +SKIP
    >>> result.final()["test_acc"]                                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from classicnets.reports.curves import plot_lr_find
from classicnets.reports.live import display_observers
from classicnets.training import loop
from classicnets.training.checkpoint import Checkpoint
from classicnets.training.config import TrainConfig
from classicnets.training.loop import RunResult
from classicnets.training.lr_find import LrFindResult, range_test
from classicnets.training.observers import Observer
from classicnets.training.recipes import recipe_config
from classicnets.training.rundir import CONFIG, run_config


def run(
    config: TrainConfig,
    *,
    out: str | Path | None = None,
    checkpoint: Checkpoint | None = None,
    observers: Sequence[Observer] = (),
    show_progress: bool = True,
    log: Callable[[str], None] = print,
    stop_after_epoch: int | None = None,
    overwrite: bool = False,
) -> RunResult:
    """`training.loop.run`, shown: the bar (with `show_progress`), log lines, curves, TensorBoard
    when the configuration asks; `observers` watch it too (`training.observers`)."""
    shown = [*display_observers(config, show_progress), *observers]
    return loop.run(
        config,
        out=out,
        checkpoint=checkpoint,
        observers=shown,
        show_progress=show_progress,
        log=log,
        stop_after_epoch=stop_after_epoch,
        overwrite=overwrite,
    )


def train(
    model: str = "lenet",
    *,
    recipe: str = "book",
    out: str | Path | None = None,
    observers: Sequence[Observer] = (),
    show_progress: bool = True,
    log: Callable[[str], None] = print,
    overwrite: bool = False,
    **overrides: Any,
) -> RunResult:
    """Train `model` with `recipe` ("book", "fast", or "speedrun" for vgg11); keyword overrides change
    any TrainConfig field (`val_size=5000, keep_best=True, early_stop=3`, ...)."""
    config = recipe_config(model, recipe, **overrides)
    return run(
        config, out=out, observers=observers, show_progress=show_progress, log=log, overwrite=overwrite
    )


def resume(
    run_dir: str | Path,
    *,
    observers: Sequence[Observer] = (),
    show_progress: bool = True,
    log: Callable[[str], None] = print,
    stop_after_epoch: int | None = None,
) -> RunResult:
    """Continue a run from its last checkpoint (mid-epoch included), shown as `run` shows one."""
    config = run_config(Path(run_dir)) if (Path(run_dir) / CONFIG).is_file() else None
    shown = [*display_observers(config, show_progress), *observers] if config is not None else list(observers)
    return loop.resume(
        run_dir, observers=shown, show_progress=show_progress, log=log, stop_after_epoch=stop_after_epoch
    )


def lr_find(
    model: str = "lenet",
    *,
    recipe: str = "book",
    plot: str | Path | None = None,
    start_lr: float = 1e-6,
    end_lr: float = 10.0,
    steps: int = 200,
    show_progress: bool = False,
    **overrides: Any,
) -> LrFindResult:
    """The learning-rate range test for `model`'s `recipe` (overrides as `train` takes them), with
    its curve drawn to `plot` if given; no run directory is made.

    Examples:
        >>> found = classicnets.lr_find("lenet", plot="lr_find.png")   # doctest: +SKIP
        >>> found.suggestion, found.falling                            # doctest: +SKIP
    """
    result = range_test(
        recipe_config(model, recipe, **overrides),
        start_lr=start_lr,
        end_lr=end_lr,
        steps=steps,
        show_progress=show_progress,
    )
    if plot is not None:
        plot_lr_find(result, plot)
    return result

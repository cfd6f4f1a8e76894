"""The best checkpoint and early stopping: two observers that watch the validation accuracy
(`--val-size`). Both decide from the metrics rows alone, so a resumed run decides as the
uninterrupted one did: a run that stopped early resumes as stopped, and a `best.safetensors`
that a kill prevented is written from the checkpoint of the very epoch it belongs to."""

from __future__ import annotations

from typing import Any

from classicnets.training.checkpoint import CheckpointError, CheckpointMeta, read_checkpoint, save_checkpoint
from classicnets.training.observers import Observer, RunState
from classicnets.training.rundir import BEST

MONITOR = "val_acc"


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The row of the epoch with the highest validation accuracy (the first, on a tie)."""
    best: dict[str, Any] | None = None
    for row in rows:
        if MONITOR in row and (best is None or row[MONITOR] > best[MONITOR]):
            best = row
    return best


def early_stop_reason(
    rows: list[dict[str, Any]], patience: int, min_delta: float = 0.0, start_from: int = 1
) -> str | None:
    """Why the run should stop after the last of `rows`, or None: `patience` epochs in a row
    without a validation accuracy above the best so far by more than `min_delta`, counted from
    epoch `start_from + 1` on (the first `start_from` epochs are a warm-up, as Keras'
    `start_from_epoch`)."""
    best: dict[str, Any] | None = None
    waited = 0
    for row in rows:
        if row["epoch"] <= start_from or MONITOR not in row:
            continue
        if best is None or row[MONITOR] > best[MONITOR] + min_delta:
            best, waited = row, 0
            continue
        waited += 1
        if waited >= patience:
            return (
                f"early stopping after epoch {row['epoch']}: the validation accuracy has not improved "
                f"for {patience} epoch{'s' if patience != 1 else ''} (best {best[MONITOR]:.4f}, epoch "
                f"{best['epoch']})"
            )
    return None


class EarlyStopping(Observer):
    def __init__(self, patience: int, min_delta: float = 0.0, start_from: int = 1) -> None:
        self.patience, self.min_delta, self.start_from = patience, min_delta, start_from

    def _decide(self, run: RunState) -> None:
        reason = early_stop_reason(run.metrics, self.patience, self.min_delta, self.start_from)
        if reason:
            run.stop(reason)

    def on_start(self, run: RunState) -> None:
        self._decide(run)  # a run that stopped early, resumed: it stays stopped

    def on_epoch_end(self, run: RunState, row: dict[str, Any]) -> None:
        self._decide(run)


class KeepBest(Observer):
    """Writes RUN_DIR/best.safetensors (weights and metadata, as model.safetensors) whenever an
    epoch's validation accuracy is the best so far; the epoch's checkpoint is written first."""

    def on_start(self, run: RunState) -> None:
        best = best_row(run.metrics)
        # Killed between the epoch's checkpoint and best.safetensors: the weights resumed are that epoch's.
        if (
            best is not None
            and best["epoch"] == run.position.epoch
            and run.position.batch == 0
            and self._saved_epoch(run) != best["epoch"]
        ):
            self._save(run, best)

    def on_epoch_end(self, run: RunState, row: dict[str, Any]) -> None:
        if best_row(run.metrics) is row:
            self._save(run, row)

    @staticmethod
    def _saved_epoch(run: RunState) -> int | None:
        try:
            return read_checkpoint(run.run_dir / BEST).info.epoch if (run.run_dir / BEST).is_file() else None
        except CheckpointError:
            return None  # damaged: written again

    @staticmethod
    def _save(run: RunState, row: dict[str, Any]) -> None:
        if run.main:
            info = CheckpointMeta.of(
                run.config, run.parts.device, epoch=row["epoch"], step=run.position.step, metrics=row
            )
            save_checkpoint(run.run_dir / BEST, run.model, info)

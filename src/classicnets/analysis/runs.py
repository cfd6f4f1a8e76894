"""Runs side by side: what each trained and how it went (one `RunSummary` per run directory,
from its config.json, metrics.jsonl and checkpoints), the configuration fields in which they
differ, and their per-class test accuracy (`compare`)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from classicnets.analysis.evaluation import evaluate_run
from classicnets.analysis.summary import summary
from classicnets.errors import ClassicnetsError
from classicnets.models import create_model_for_spec
from classicnets.training.checkpoint import CheckpointError, load_run, read_checkpoint
from classicnets.training.config import TrainConfig
from classicnets.training.rundir import (
    CONFIG,
    FINAL,
    first_reaching,
    read_metrics,
    run_clock,
    run_config,
    run_environment,
)

THRESHOLDS = (0.90, 0.92, 0.93)  # the accuracies whose time each run is shown with
FINISHED, STOPPED, UNFINISHED = "finished", "stopped early", "unfinished"


@dataclass
class RunSummary:
    run_dir: str
    model: str
    recipe: str
    dataset: str
    status: str  # FINISHED, STOPPED or UNFINISHED
    epochs: int  # finished
    planned_epochs: int
    test_acc: float  # after the last finished epoch
    best_test_acc: float
    val_acc: float | None  # with a validation set: after the last epoch, and the best
    best_val_acc: float | None
    seconds: float  # the epochs' wall time, evaluation included (what a user waited, less start-up)
    time_to: dict[str, float | None]  # seconds into the run at which each THRESHOLD was first reached
    params: int
    flops: int  # of one forward pass, at the run's input size
    precision: str
    device: str
    date: str
    stop_reason: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)  # metrics.jsonl

    @property
    def label(self) -> str:
        return Path(self.run_dir).name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_runs(paths: Sequence[str | Path]) -> list[Path]:
    """The run directories `paths` name: each a run (it has a config.json), or a directory whose
    sub-directories are runs (all of them, in name order)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if (path / CONFIG).is_file():
            found.append(path)
        elif path.is_dir() and (runs := sorted(p for p in path.iterdir() if (p / CONFIG).is_file())):
            found.extend(runs)
        else:
            raise ClassicnetsError(f"{path} is neither a run directory (no {CONFIG}) nor a directory of runs")
    if len({p.resolve() for p in found}) != len(found):
        raise ClassicnetsError("a run is named twice: give each run directory once")
    return found


def summarize_run(run_dir: str | Path) -> RunSummary:
    """What `run_dir` trained, how far it got and how it went; one clear line for a directory
    that is not a run or has no finished epoch."""
    run_dir = Path(run_dir)
    config = run_config(run_dir)
    if config is None:
        raise ClassicnetsError(f"{run_dir} is not a run directory (no {CONFIG})")
    rows = read_metrics(run_dir)
    if not rows:
        raise ClassicnetsError(f"{run_dir} has no finished epoch yet: there is nothing to show")
    environment = run_environment(run_dir)
    stop_reason = _stop_reason(run_dir)
    status = STOPPED if stop_reason else FINISHED if (run_dir / FINAL).is_file() else UNFINISHED
    params, flops = _size(config)
    clock = [
        {"test_acc": row["test_acc"], "run_seconds": seconds} for row, seconds in zip(rows, run_clock(rows))
    ]
    validated = all("val_acc" in row for row in rows)
    date = environment.get("date") or time.strftime(
        "%Y-%m-%d %H:%M", time.localtime((run_dir / CONFIG).stat().st_mtime)
    )
    return RunSummary(
        run_dir=str(run_dir),
        model=config.model,
        recipe=config.recipe,
        dataset=config.dataset,
        status=status,
        epochs=rows[-1]["epoch"],
        planned_epochs=config.epochs,
        test_acc=rows[-1]["test_acc"],
        best_test_acc=max(row["test_acc"] for row in rows),
        val_acc=rows[-1]["val_acc"] if validated else None,
        best_val_acc=max(row["val_acc"] for row in rows) if validated else None,
        seconds=clock[-1]["run_seconds"],
        time_to={f"{t:.2f}": first_reaching(clock, t, "run_seconds") for t in THRESHOLDS},
        params=params,
        flops=flops,
        precision=str(environment.get("precision", config.precision)),
        device=str(environment.get("device_name") or environment.get("device", "")),
        date=str(date),
        stop_reason=stop_reason,
        config=config.to_dict(),
        rows=rows,
    )


def _stop_reason(run_dir: Path) -> str | None:
    if not (run_dir / FINAL).is_file():
        return None
    try:
        return read_checkpoint(run_dir / FINAL).info.stopped
    except CheckpointError:
        return None  # shown as finished; evaluating it would say what is wrong


def _size(config: TrainConfig) -> tuple[int, int]:
    """Parameters and FLOPs of the run's network at its input, worked out on the meta device."""
    spec = config.input_spec()
    with torch.device("meta"):
        model = create_model_for_spec(config.model, spec, **config.model_args)
    info = summary(model, spec.shape)
    return info.total_params, info.flops


def config_differences(runs: list[RunSummary]) -> dict[str, list[Any]]:
    """The configuration fields whose values are not the same in every run, each run's value."""
    names = list(runs[0].config)
    return {
        name: [run.config.get(name) for run in runs]
        for name in names
        if len({json.dumps(run.config.get(name), sort_keys=True) for run in runs}) > 1
    }


@dataclass
class Comparison:
    runs: list[RunSummary]
    differences: dict[str, list[Any]]  # config_differences
    class_names: list[str] | None  # None when the runs' classes differ
    per_class: list[list[float]] | None  # per run, per class: test accuracy
    note: str | None = None  # what is not compared, and why

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(
    paths: Sequence[str | Path], *, per_class: bool = True, device: str = "auto", data_dir: str | None = None
) -> Comparison:
    """Every run `paths` name (`find_runs`), summarised; with `per_class`, each run's network
    evaluated class by class on the test images its own test accuracy was measured on."""
    runs = [summarize_run(path) for path in find_runs(paths)]
    differences = config_differences(runs)
    datasets = sorted({run.dataset for run in runs})
    if len(datasets) > 1:
        return Comparison(
            runs,
            differences,
            None,
            None,
            note=f"the runs trained on different data sets ({', '.join(datasets)}): compared by their "
            "numbers and curves, not class by class",
        )
    if not per_class:
        return Comparison(runs, differences, None, None)
    names: list[str] | None = None
    table = []
    for run in runs:
        loaded = load_run(run.run_dir)
        names = names or loaded.class_names
        evaluation = evaluate_run(
            loaded,
            device=device,
            data_dir=data_dir or run.config.get("data_dir"),
            limit=run.config.get("limit"),
        )
        table.append(evaluation.per_class_accuracy)
    return Comparison(runs, differences, names, table)

"""Time to accuracy of every network's fast recipe, as a user runs it, on this machine.

    python benchmarks/tta.py [--models alexnet,nin,...] [--out runs/zoo]

Each network runs `classicnets train NET --recipe fast` in a fresh process (interpreter and
torch start-up, data loading and every evaluation included), one after the other. Recorded per
network: the whole run's wall time, the time at the end of the first epoch whose test accuracy
reached the book's reading (`BOOK_READINGS`) and 90/92/93%, the final test accuracy and the
per-epoch curve; and the 1-minute load average before and after the series (each run's own
start is recorded too, but it includes the previous run's 2 busy cores). Results go to
benchmarks/results/tta.json with the machine and the versions. Start it on an idle machine
(load below 1.0) and run nothing else until it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
from machine import add_idle_option, end_series, start_series, timed_run  # benchmarks/machine.py

from classicnets.models import list_models
from classicnets.training.config import PRECISIONS
from classicnets.training.device import resolve_device, resolve_precision
from classicnets.training.recipes import BOOK_READINGS, recipe_config
from classicnets.training.rundir import first_reaching, read_metrics

RESULTS = Path(__file__).parent / "results" / "tta.json"
THRESHOLDS = (0.90, 0.92, 0.93)


def seconds_to(curve: list[dict], accuracy: float, startup: float, clock: str = "elapsed") -> float | None:
    """Seconds from the process start to the end of the first epoch at or above `accuracy`
    (`clock`: the run's own seconds since its start, in each metrics row)."""
    seconds = first_reaching(curve, accuracy, clock=clock)
    return None if seconds is None else round(startup + seconds, 1)


def on_process_clock(curve: list[dict], startup: float, thresholds: tuple[float, ...]) -> dict:
    """A speedrun's per-epoch rows (epoch, wall_seconds on its own clock, test_acc) counted from
    the process start instead: the curve and the time to each accuracy in `thresholds`."""
    return {
        "seconds_to": {f"{t:.2f}": seconds_to(curve, t, startup, clock="wall_seconds") for t in thresholds},
        "curve": [
            {
                "epoch": m["epoch"],
                "wall_seconds": round(startup + m["wall_seconds"], 1),
                "test_acc": m["test_acc"],
            }
            for m in curve
        ],
    }


def measure(name: str, out: Path, precision: str | None = None) -> dict:
    """One network's fast recipe as a user runs it; with `precision`, in that precision instead
    of the recipe's (the comparison that shows what bf16 costs in accuracy)."""
    run_dir = out / name
    command = [
        str(Path(sys.executable).with_name("classicnets")),
        "train",
        name,
        "--recipe",
        "fast",
        "--out",
        str(run_dir),
        "--overwrite",
        "--quiet",
        "--json",
        *(["--precision", precision] if precision else []),
    ]
    done = timed_run(command)
    seconds = done.seconds
    final = json.loads(done.stdout)
    curve = read_metrics(run_dir)
    startup = seconds - final["seconds"]  # interpreter, imports and exit: outside `run`'s own clock
    config = recipe_config(name, "fast", precision=precision)
    book = BOOK_READINGS[name].test_acc
    return {
        "model": name,
        "measured": True,
        "test_acc": final["test_acc"],
        "seconds": round(seconds, 1),
        "book_acc": book,
        "seconds_to_book_acc": seconds_to(curve, book, startup),
        "seconds_to": {f"{t:.2f}": seconds_to(curve, t, startup) for t in THRESHOLDS},
        "reached_book_acc": final["test_acc"] >= book,
        "resize": config.input_spec().resize,
        "epochs": config.epochs,
        "model_args": config.model_args,
        "init": config.init,
        "lr": config.lr,
        "augment": config.augment,
        "flip_tta": config.flip_tta,
        "precision": resolve_precision(resolve_device(final["device"]), config.precision),
        "command": f"classicnets train {name} --recipe fast"
        + (f" --precision {precision}" if precision else ""),
        "startup_seconds": round(startup, 1),
        "curve": [
            {
                "epoch": r["epoch"],
                "seconds": round(startup + r["elapsed"], 1),
                "test_acc": r["test_acc"],
                "train_loss": round(r["train_loss"], 4),
            }
            for r in curve
        ],
        "loadavg_at_start": done.load_before,
        "device": final["device"],
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def _recipe(row: dict) -> str:
    """What makes two rows of one network different recipes, as a history key's tail (rows before
    2026-12-03 name no precision, no learning rate and no augmentation)."""
    parts = [f"{row['epochs']}epochs", row.get("precision", "fp32")]
    parts += [f"lr{row['lr']}"] if "lr" in row else []
    parts += [name for name in ("augment", "flip_tta") if row.get(name)]
    return "-".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default=",".join(list_models()))
    parser.add_argument("--out", default="runs/zoo", help="where the runs go (default runs/zoo)")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="train in this precision instead of each recipe's; recorded apart, under other_precisions",
    )
    add_idle_option(parser)
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    runs, history = results.get("runs", {}), results.get("history", {})
    others = results.get("other_precisions", {})
    earlier = results.get("series", [])
    earlier = [earlier] if isinstance(earlier, dict) else earlier
    series = {"models": args.models.split(","), **start_series(args.busy_ok), "loadavg_after": None}
    for name in args.models.split(","):
        row = measure(name, Path(args.out), args.precision)
        row["machine_index"] = series["machine_before"]["index_gflops"]  # of the host, at the series' start
        if args.precision:
            others[f"{name}@{args.precision}"] = row
        else:
            if name in runs and _recipe(runs[name]) != _recipe(row):  # keep what an earlier recipe measured
                history[f"{name}@{_recipe(runs[name])}"] = runs[name]
            runs[name] = row
        to_book = row["seconds_to_book_acc"]
        print(
            f"{name:10s} {row['test_acc']:.4f} (book {row['book_acc']:.3f}) in {row['seconds']:.0f} s; "
            f"book accuracy at {to_book if to_book is not None else '-'} s",
            flush=True,
        )
        series = end_series(series)
        results = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads",
            "python": platform.python_version(),
            "torch": torch.__version__,
            "command": "python benchmarks/tta.py",
            "series": [*earlier, series],
            "runs": runs,
            "other_precisions": others,
            "history": history,
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

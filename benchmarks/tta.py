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
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from classicnets.models import list_models
from classicnets.training.recipes import BOOK_READINGS, recipe_config
from classicnets.training.rundir import first_reaching, read_metrics

RESULTS = Path(__file__).parent / "results" / "tta.json"
THRESHOLDS = (0.90, 0.92, 0.93)


IDLE_LOAD = 1.0  # a 1-minute load average at or above this means something else is running


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def add_idle_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--busy-ok",
        action="store_true",
        help=f"time even when the 1-minute load average is {IDLE_LOAD} or more (flagged busy)",
    )


def start_series(busy_ok: bool) -> dict:
    """The start of a timed series: its load average and time. On a busy machine it refuses,
    or with `busy_ok` warns and flags the series `busy`: a timing taken beside other work is
    wrong, and a figure others cannot reproduce is a defect."""
    load = load_average()
    if load >= IDLE_LOAD:
        message = (
            f"the 1-minute load average is {load:.2f} (>= {IDLE_LOAD}): timings beside other work are wrong"
        )
        if not busy_ok:
            raise SystemExit(
                f"{message}; wait for an idle machine, or pass --busy-ok to record them flagged busy"
            )
        print(f"warning: {message}; recording them flagged busy", flush=True)
    return {"loadavg_before": load, "busy": load >= IDLE_LOAD, "started": time.strftime("%Y-%m-%d %H:%M")}


@dataclass(frozen=True)
class TimedRun:
    """A command run as a user runs it, timed from outside: interpreter start to exit."""

    stdout: str
    seconds: float
    load_before: float
    load_after: float


def timed_run(command: list[str], env: dict[str, str] | None = None) -> TimedRun:
    """Run `command`, timing the whole process; a failure ends the benchmark with its stderr."""
    load_before = load_average()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return TimedRun(stdout=done.stdout, seconds=seconds, load_before=load_before, load_after=load_average())


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


def measure(name: str, out: Path) -> dict:
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
    ]
    done = timed_run(command)
    seconds = done.seconds
    final = json.loads(done.stdout)
    curve = read_metrics(run_dir)
    startup = seconds - final["seconds"]  # interpreter, imports and exit: outside `run`'s own clock
    config = recipe_config(name, "fast")
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
        "command": f"classicnets train {name} --recipe fast",
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default=",".join(list_models()))
    parser.add_argument("--out", default="runs/zoo", help="where the runs go (default runs/zoo)")
    add_idle_option(parser)
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    runs, history = results.get("runs", {}), results.get("history", {})
    earlier = results.get("series", [])
    earlier = [earlier] if isinstance(earlier, dict) else earlier
    series = {"models": args.models.split(","), **start_series(args.busy_ok), "loadavg_after": None}
    for name in args.models.split(","):
        row = measure(name, Path(args.out))
        if name in runs and runs[name]["epochs"] != row["epochs"]:  # keep what an earlier recipe measured
            history[f"{name}@{runs[name]['epochs']}epochs"] = runs[name]
        runs[name] = row
        to_book = row["seconds_to_book_acc"]
        print(
            f"{name:10s} {row['test_acc']:.4f} (book {row['book_acc']:.3f}) in {row['seconds']:.0f} s; "
            f"book accuracy at {to_book if to_book is not None else '-'} s",
            flush=True,
        )
        series["loadavg_after"] = load_average()
        results = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads",
            "python": platform.python_version(),
            "torch": torch.__version__,
            "command": "python benchmarks/tta.py",
            "series": [*earlier, series],
            "runs": runs,
            "history": history,
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

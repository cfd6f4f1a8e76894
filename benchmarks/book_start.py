"""The start of every book recipe: does it learn as the book's does, and how long would it take here?

    python benchmarks/book_start.py [--models alexnet,nin,...] [--batches 200] [--seconds 150]

The book recipes of the conv networks take 3 to 19 hours each on 2 CPU cores, so none is run
to completion here. For each network this runs the book recipe exactly (its resize, init,
optimizer, learning rate and batch size; the loop's own `train_step`) for its first
`--batches` batches, or as many as fit in `--seconds`, and records the training loss of every
batch against chance (ln 10 = 2.303), the verdict (`learning`: the last quarter's mean loss is
at least 0.1 below chance; `at chance`; `diverged`), the median seconds per batch and the
recipe's projected hours here (median batch time x batches per epoch x epochs; evaluation not
included). Results go to benchmarks/results/book_start.json and book_start.png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from leaderboard import load_note  # benchmarks/*.py, beside this script
from machine import add_idle_option, end_series, start_series  # benchmarks/machine.py, beside this script
from throughput import recipe_steps, run_steps

from classicnets.models import list_models
from classicnets.reports.figures import plt, save_figure
from classicnets.training import recipe_config

RESULTS = Path(__file__).parent / "results"
CHANCE = math.log(10)


def verdict(losses: list[float]) -> str:
    if not all(math.isfinite(v) for v in losses):
        return "diverged"
    tail = losses[-max(1, len(losses) // 4) :]
    return "learning" if statistics.mean(tail) < CHANCE - 0.1 else "at chance"


def measure(name: str, batches: int, seconds: float, init: str | None = None) -> dict:
    config = recipe_config(name, "book", init=init)
    times, losses = run_steps(config, batches, seconds)
    batch_seconds = statistics.median(times[1:] or times)  # the first batch pays one-time set-up
    return {
        "model": name,
        "batches": len(losses),
        "batches_asked": batches,
        "batch_size": config.batch_size,
        "resize": config.input_spec().resize,
        "lr": config.lr,
        "optimizer": config.optimizer,
        "init": config.init,
        "model_args": config.model_args,
        "losses": [round(v, 4) for v in losses],
        "verdict": verdict(losses),
        "first_loss": round(losses[0], 4),
        "last_quarter_loss": round(statistics.mean(losses[-max(1, len(losses) // 4) :]), 4),
        "seconds_per_batch": round(batch_seconds, 3),
        "projected_hours": round(batch_seconds * recipe_steps(config) / 3600, 2),
        "command": f"classicnets train {name} --recipe book" + (f" --init {init}" if init else ""),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def plot(rows: dict[str, dict], note: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(9, 5.5), layout="constrained")
    for name, row in rows.items():
        ax.plot(
            range(1, len(row["losses"]) + 1), row["losses"], label=f"{name} ({row['verdict']})", linewidth=1
        )
    ax.axhline(CHANCE, color="black", linestyle="--", linewidth=1, label="chance (ln 10)")
    ax.set_xlabel("batch")
    ax.set_ylabel("training loss")
    ax.set_ylim(0, 4)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(f"The first batches of each book recipe on 2 CPU cores\n{note}", fontsize=8)
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models", default=",".join(n for n in list_models() if n not in ("mlp", "tiny_cnn"))
    )
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=160.0, help="time limit per network")
    parser.add_argument(
        "--init",
        choices=["xavier", "default", "kaiming"],
        help="replace the book's init (recorded as NAME+INIT): what makes a stuck recipe learn",
    )
    add_idle_option(parser)
    args = parser.parse_args()
    path = RESULTS / "book_start.json"
    document = json.loads(path.read_text()) if path.exists() else {}
    rows = document.get("runs", {})
    earlier = document.get("series", [])
    earlier = [earlier] if isinstance(earlier, dict) else earlier
    series = {
        "models": args.models.split(","),
        **start_series(args.busy_ok),
        "loadavg_after": None,
        "batches": args.batches,
        "seconds": args.seconds,
    }
    for name in args.models.split(","):
        row = measure(name, args.batches, args.seconds, args.init)
        rows[name + (f"+{args.init}" if args.init else "")] = row
        print(
            f"{name:10s} {row['batches']:3d} batches: loss {row['first_loss']:.3f} -> {row['last_quarter_loss']:.3f} "
            f"({row['verdict']}), {row['seconds_per_batch']:.2f} s/batch, recipe {row['projected_hours']:.1f} h here",
            flush=True,
        )
        series = end_series(series)
        document = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads",
            "torch": torch.__version__,
            "command": "python benchmarks/book_start.py",
            "series": [*earlier, series],
            "runs": rows,
        }
        path.write_text(json.dumps(document, indent=2) + "\n")
    plot(rows, load_note(document["series"], "measured"), RESULTS / "book_start.png")


if __name__ == "__main__":
    main()

"""`classicnets speedrun` from a cold start, as a user runs it, on this machine.

    python benchmarks/speedrun.py [--runs speedrun,mlp,lenet,lenet_bn] [--seeds 0,1,2]

Each entry (`speedrun`: the speedrun recipe, `classicnets speedrun`; MODEL or MODEL:EPOCHS: that
network's fast recipe) runs `classicnets speedrun [MODEL] [--epochs N] --seed S --json` in a fresh
process, once per seed for the speedrun recipe and with the first seed for the others, one after
the other, timed from outside (interpreter start to exit: what a user waits for). Its JSON (test
accuracy, wall time, the time to 90-94% counted from the process start) and the load average
before and after each run go to benchmarks/results/speedrun.json, with the mean, the spread
(standard deviation, min, max) over the seeds, the speedrun recipe as it was, and the load
before and after the series.
Start it on an idle machine (load below 1.0) and run nothing else until it ends.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from machine import add_idle_option, end_series, start_series, timed_run  # benchmarks/machine.py
from tta import on_process_clock  # benchmarks/tta.py

from classicnets.speedrun import THRESHOLDS
from classicnets.training.device import cpu_has_bf16
from classicnets.training.recipes import SPEEDRUN
from classicnets.training.rundir import read_metrics

RESULTS = Path(__file__).parent / "results" / "speedrun.json"


def one_run(entry: str, seed: int) -> dict:
    model, _, epochs = entry.partition(":")
    out = f"runs/speedrun/{entry.replace(':', '-')}-seed{seed}"
    args = (
        ([] if model == "speedrun" else [model])
        + (["--epochs", epochs] if epochs else [])
        + ["--seed", str(seed)]
    )
    command = [
        str(Path(sys.executable).with_name("classicnets")),
        "speedrun",
        *args,
        "--json",
        "--overwrite",
        "--out",
        out,
    ]
    timed = timed_run(command)
    row = {
        **json.loads(timed.stdout),
        "seed": seed,
        "process_seconds": round(timed.seconds, 1),
        "loadavg_before": timed.load_before,
        "loadavg_after": timed.load_after,
        "command": " ".join(["classicnets speedrun", *args]),
    }
    startup = timed.seconds - row["seconds"]  # interpreter and imports, before speedrun's clock
    return {**row, **on_process_clock(read_metrics(Path(out)), startup, THRESHOLDS)}


def spread(values: list[float]) -> dict:
    return {
        "mean": round(statistics.mean(values), 4),
        "stdev": round(statistics.stdev(values), 4) if len(values) > 1 else None,
        "min": min(values),
        "max": max(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", default="speedrun,mlp,lenet,lenet_bn")
    parser.add_argument(
        "--seeds", default="0,1,2", help="seeds of the speedrun recipe (the others: the first)"
    )
    add_idle_option(parser)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    series = start_series(args.busy_ok)
    entries = {}
    for entry in args.runs.split(","):
        rows = []
        for seed in seeds if entry == "speedrun" else seeds[:1]:
            rows.append(one_run(entry, seed))
            r = rows[-1]
            print(
                f"{entry:12s} seed {seed}: {r['test_acc']:.4f} in {r['process_seconds']:.1f} s "
                f"(load {r['loadavg_before']:.2f} before)",
                flush=True,
            )
        entries[entry] = {
            "command": rows[0]["command"].replace(f" --seed {seeds[0]}", ""),
            "runs": rows,
            "test_acc": spread([r["test_acc"] for r in rows]),
            "process_seconds": spread([r["process_seconds"] for r in rows]),
        }
    series = end_series(series)
    RESULTS.write_text(
        json.dumps(
            {
                "command": "python benchmarks/speedrun.py " + " ".join(sys.argv[1:]),
                "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
                "cpu_has_bf16": cpu_has_bf16(),
                "torch": torch.__version__,
                "date": time.strftime("%Y-%m-%d"),
                "recipe": SPEEDRUN,
                "series": series,
                "entries": entries,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()

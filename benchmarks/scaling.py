"""Data-parallel scaling: the same training run in one process and in N processes under torchrun.

    python benchmarks/scaling.py [--procs 2] [--repeats 3] [--runs lenet:3,resnet18:1:10000]

Each entry (MODEL:EPOCHS[:LIMIT], fast recipe, the same global batch on both sides) runs as a
fresh process, whole (interpreter start to exit, what a user waits for), alternating one
process and `torchrun --standalone --nproc_per_node=N`, `--repeats` times; the in-process
training time comes from the run's metrics.jsonl. Reports medians, the speed-up of N processes
over one, and the scaling efficiency (speed-up / N), with the load average before and after the
series, to benchmarks/results/scaling.json. On the 2-core CPU machines here N processes share the
same two cores that one process already uses with two threads: this measures what the
distribution costs, not a gain. Start it on an idle machine and run nothing else until it ends.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from machine import add_idle_option, end_series, start_series  # benchmarks/machine.py, beside this script

from classicnets.training.rundir import read_metrics

RESULTS = Path(__file__).parent / "results" / "scaling.json"


def timed(command: list[str], out: Path) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` failed:\n{done.stderr[-2000:]}")
    rows = read_metrics(out)
    return {
        "process_seconds": round(time.perf_counter() - started, 2),
        "train_seconds": round(sum(r["train_seconds"] for r in rows), 2),
        "test_acc": rows[-1]["test_acc"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runs", default="lenet:3,resnet18:1:10000")
    parser.add_argument("--out", default="runs/scaling")
    add_idle_option(parser)
    args = parser.parse_args()
    python = sys.executable
    series = {
        **start_series(args.busy_ok),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
    }
    results = {}
    for entry in args.runs.split(","):
        model, epochs, *limit = entry.split(":")
        train = [
            "train",
            model,
            "--recipe",
            "fast",
            "--epochs",
            epochs,
            "--quiet",
            "--overwrite",
            *(["--limit", limit[0]] if limit else []),
        ]
        sides = {
            "1 process": lambda out: [python, "-m", "classicnets", *train, "--out", str(out)],
            f"{args.procs} processes": lambda out: [
                python,
                "-m",
                "torch.distributed.run",
                "--standalone",
                f"--nproc_per_node={args.procs}",
                "-m",
                "classicnets",
                *train,
                "--out",
                str(out),
            ],
        }
        times: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
        for repeat in range(args.repeats):
            for side, command in sides.items():  # alternating, so drift hits both sides alike
                out = Path(args.out) / f"{entry.replace(':', '-')}-{side.split()[0]}"
                times[side].append(timed(command(out), out))
                print(f"{entry:18s} {side:12s} #{repeat + 1}: {times[side][-1]}", flush=True)
        medians = {
            side: {
                key: statistics.median(t[key] for t in runs) for key in ("process_seconds", "train_seconds")
            }
            for side, runs in times.items()
        }
        one, many = medians["1 process"], medians[f"{args.procs} processes"]
        results[entry] = {
            "command": f"classicnets {' '.join(train)} (and under torchrun --nproc_per_node={args.procs})",
            "runs": times,
            "medians": medians,
            "speedup_whole_process": round(one["process_seconds"] / many["process_seconds"], 3),
            "speedup_training": round(one["train_seconds"] / many["train_seconds"], 3),
            "efficiency_training": round(one["train_seconds"] / many["train_seconds"] / args.procs, 3),
        }
    series = end_series(series)
    RESULTS.write_text(
        json.dumps(
            {
                "command": "python benchmarks/scaling.py " + " ".join(sys.argv[1:]),
                "series": series,
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    for entry, row in results.items():
        print(
            f"{entry}: speed-up {row['speedup_training']}x training, {row['speedup_whole_process']}x whole process"
        )


if __name__ == "__main__":
    main()

"""How long `classicnets report` takes, and how large its file is: for one finished LeNet run (the
whole report: curves, confusion matrix, per-class accuracy, 16 mistakes, receptive fields, 3
Grad-CAMs) and for a comparison of five runs (a directory of runs).

    python benchmarks/report.py [--repeats 3] [--runs runs/report-bench]

The five runs are trained first, outside the timings (LeNet fast 3 epochs on the whole data set,
LeNet-BN fast 2, the MLP book 3, LeNet book 2, NiN fast 1 epoch on 6,000 pictures). Each report
is written by a fresh process (what a user waits for, interpreter start to exit), beside `python
-c "import torch"` as that process's floor, the three alternating in every repeat; medians, the
file sizes and the load average before and after go to benchmarks/results/report.json. Start it
on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from machine import (  # benchmarks/machine.py, beside this script
    IDLE_LOAD,
    add_idle_option,
    end_series,
    load_average,
    start_series,
)

RESULTS = Path(__file__).parent / "results" / "report.json"
RUNS = {
    "lenet-fast": ["lenet", "--recipe", "fast", "--epochs", "3"],
    "lenet_bn-fast": ["lenet_bn", "--recipe", "fast", "--epochs", "2"],
    "mlp-book": ["mlp", "--epochs", "3"],
    "lenet-book": ["lenet", "--epochs", "2"],
    "nin-fast": ["nin", "--recipe", "fast", "--epochs", "1", "--limit", "6000"],
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runs", default="runs/report-bench", help="where the five runs are trained")
    add_idle_option(parser)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "classicnets"]
    root = Path(args.runs)
    for name, argv in RUNS.items():
        if not (root / name / "model.safetensors").is_file():
            subprocess.run(
                [*cli, "train", *argv, "--out", str(root / name), "--overwrite", "--quiet"],
                check=True,
                capture_output=True,
            )
    out = root.parent / "report-bench-html"
    out.mkdir(parents=True, exist_ok=True)
    commands = {
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
        "report of one LeNet run": [*cli, "report", str(root / "lenet-fast"), "--out", str(out / "one.html")],
        "report comparing five runs": [*cli, "report", str(root), "--out", str(out / "five.html")],
    }
    deadline = time.monotonic() + 300  # the training above loaded the machine: let the load average settle
    while load_average() >= IDLE_LOAD and time.monotonic() < deadline:
        time.sleep(5)
    series = start_series(args.busy_ok)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, argv in commands.items():
            started = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            times[name].append(time.perf_counter() - started)
    series = end_series(series)
    results = {
        "command": "python benchmarks/report.py",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        **series,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "what": "whole process, seconds",
        "median_seconds": {name: statistics.median(values) for name, values in times.items()},
        "seconds": times,
        "bytes": {"one": (out / "one.html").stat().st_size, "five": (out / "five.html").stat().st_size},
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for name, value in results["median_seconds"].items():
        print(f"{name}: {value:.2f} s")
    print(
        f"sizes: one run {results['bytes']['one'] / 1e6:.2f} MB, five runs {results['bytes']['five'] / 1e6:.2f} MB"
    )


if __name__ == "__main__":
    main()

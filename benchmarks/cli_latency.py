"""How long the command line takes to answer, whole process (interpreter start to exit), against
`python -c "import torch"`.

    python benchmarks/cli_latency.py [--repeats 5]

Each command runs as a fresh process, the commands alternating within every repeat; medians go
to benchmarks/results/cli_latency.json with the load average before and after the series.
`show` reads a small run trained first (outside the timings). Start it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from machine import add_idle_option, end_series, start_series  # benchmarks/machine.py, beside this script

RESULTS = Path(__file__).parent / "results" / "cli_latency.json"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--run", default="runs/cli-latency", help="where the small run for `show` goes")
    add_idle_option(parser)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "classicnets"]
    subprocess.run(
        [
            *cli,
            "train",
            "mlp",
            "--epochs",
            "1",
            "--limit",
            "500",
            "--out",
            args.run,
            "--overwrite",
            "--quiet",
        ],
        check=True,
        capture_output=True,
    )
    commands = {
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
        "classicnets --help": [*cli, "--help"],
        "classicnets --version": [*cli, "--version"],
        "classicnets train --help": [*cli, "train", "--help"],
        "classicnets train nosuch (usage error)": [*cli, "train", "nosuch"],
        f"classicnets show {args.run}": [*cli, "show", args.run],
        "classicnets models --json": [*cli, "models", "--json"],
    }
    series = {**start_series(args.busy_ok), "torch": torch.__version__}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, capture_output=True)
            times[name].append(round(time.perf_counter() - started, 3))
    series = end_series(series)
    torch_import = statistics.median(times['python -c "import torch"'])
    rows = {
        name: {
            "median_seconds": statistics.median(t),
            "vs_import_torch": round(statistics.median(t) / torch_import, 2),
            "runs": t,
        }
        for name, t in times.items()
    }
    RESULTS.write_text(
        json.dumps(
            {"command": "python benchmarks/cli_latency.py", "series": series, "commands": rows}, indent=2
        )
        + "\n"
    )
    for name, row in rows.items():
        print(f"{name:42s} {row['median_seconds']:.2f} s  ({row['vs_import_torch']:.2f}x import torch)")


if __name__ == "__main__":
    main()

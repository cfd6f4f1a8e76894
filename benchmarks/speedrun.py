"""`classicnets speedrun` from a cold start, as a user runs it, on this machine.

    python benchmarks/speedrun.py [--runs mlp,lenet,lenet_bn,lenet:20,lenet_bn:20]

Each entry (MODEL or MODEL:EPOCHS) runs `classicnets speedrun MODEL [--epochs N] --json` in a
fresh process, one after the other; its JSON (test accuracy, wall time, the time to 90-94%) goes
to benchmarks/results/speedrun.json with the 1-minute load average before and after the series.
Start it on an idle machine (load below 1.0) and run nothing else until it ends.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from classicnets.training.rundir import read_metrics
from classicnets.training.speedrun import THRESHOLDS

from tta import add_idle_option, load_average, seconds_to, start_series  # benchmarks/tta.py, beside this script

RESULTS = Path(__file__).parent / "results" / "speedrun.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="mlp,lenet,lenet_bn,lenet:20,lenet_bn:20")
    add_idle_option(parser)
    args = parser.parse_args()
    series = start_series(args.busy_ok)
    runs = {}
    for entry in args.runs.split(","):
        model, _, epochs = entry.partition(":")
        command = [str(Path(sys.executable).with_name("classicnets")), "speedrun", model, "--json", "--overwrite",
                   "--out", f"runs/speedrun/{entry.replace(':', '-')}"] + (["--epochs", epochs] if epochs else [])
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{entry}: `{' '.join(command)}` failed:\n{done.stderr}")
        row = {**json.loads(done.stdout), "process_seconds": round(time.perf_counter() - started, 1),
               "command": "classicnets speedrun " + model + (f" --epochs {epochs}" if epochs else "")}
        startup = row["process_seconds"] - row["seconds"]  # interpreter and imports, before speedrun's clock
        curve = read_metrics(Path(command[command.index("--out") + 1]))
        row["seconds_to"] = {f"{t:.2f}": seconds_to(curve, t, startup, clock="wall_seconds") for t in THRESHOLDS}
        runs[entry] = row
        print(f"{entry:12s} {row['test_acc']:.4f} in {row['process_seconds']:.0f} s", flush=True)
    series["loadavg_after"] = load_average()
    RESULTS.write_text(json.dumps({"command": "python benchmarks/speedrun.py", "series": series, "runs": runs},
                                  indent=2) + "\n")


if __name__ == "__main__":
    main()

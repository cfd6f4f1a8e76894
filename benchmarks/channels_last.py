"""Does channels_last speed up CPU training of each network? (It decides `cpu_channels_last`
in each model's registered config.)

    python benchmarks/channels_last.py [--steps 4] [--repeats 3] [--models a,b]

For every network, with its fast recipe (batch size, input size, optimizer, schedule): the
loop's own training step (`train_step`) in the default (NCHW) layout and in channels_last,
alternating `--repeats` times, each a median of `--steps` timed steps after a warm-up step; the
median of the repeats per layout, their ratio, and the load average before and after go to
benchmarks/results/channels_last.json. Run it on an idle machine: `cpu_channels_last` in each
model's registered config follows its ratio (a test holds them together).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from machine import add_idle_option, end_series, start_series  # benchmarks/machine.py, beside this script
from throughput import measure

from classicnets.models import list_models

RESULTS = Path(__file__).parent / "results" / "channels_last.json"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--models", default=",".join(n for n in list_models() if n not in ("mlp", "tiny_cnn"))
    )
    add_idle_option(parser)
    args = parser.parse_args()
    series = start_series(args.busy_ok)
    rows = {}
    for name in args.models.split(","):
        runs: dict[bool, list[dict]] = {False: [], True: []}
        for _ in range(args.repeats):
            for layout in (False, True):  # alternating, so drift hits both layouts alike
                runs[layout].append(measure(name, "fast", args.steps, channels_last=layout))
        plain, last = (
            {**r[0], "train_img_per_s": statistics.median(x["train_img_per_s"] for x in r)}
            for r in (runs[False], runs[True])
        )
        rows[name] = {
            "size": plain["resize"],
            "batch": plain["batch_size"],
            "nchw_img_per_s": plain["train_img_per_s"],
            "channels_last_img_per_s": last["train_img_per_s"],
            "speedup": round(last["train_img_per_s"] / plain["train_img_per_s"], 2),
        }
        print(
            f"{name:10s} {plain['resize']:4d}px  NCHW {plain['train_img_per_s']:7.0f} img/s  "
            f"channels_last {last['train_img_per_s']:7.0f} img/s  x{rows[name]['speedup']:.2f}",
            flush=True,
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
                "torch": torch.__version__,
                "date": time.strftime("%Y-%m-%d"),
                "command": "python benchmarks/channels_last.py",
                **end_series(series),
                "networks": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()

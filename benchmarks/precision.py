"""Does bf16 autocast speed up CPU training here? (It decides the speedrun recipe's `precision`.)

    python benchmarks/precision.py [--steps 4] [--repeats 3] [--models a,b]

For every network, with its fast recipe in channels_last (the layout oneDNN's bf16 convolutions
want): the loop's own training step (`train_step`) in float32 and under bf16 autocast
(`precision="bf16"`), alternating `--repeats` times, each a median of `--steps` timed steps after
a warm-up step; the median of the repeats per precision, their ratio, whether this CPU computes
bf16 natively, and the load average before and after go to benchmarks/results/precision.json.
On a CPU without native bf16, `precision="bf16"` trains in float32 and the ratio is 1.
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

from classicnets.training.device import cpu_has_bf16

RESULTS = Path(__file__).parent / "results" / "precision.json"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="lenet,lenet_bn,alexnet,vgg11,nin,googlenet,resnet18,densenet")
    add_idle_option(parser)
    args = parser.parse_args()
    series = start_series(args.busy_ok)
    rows = {}
    for name in args.models.split(","):
        runs: dict[str, list[dict]] = {"fp32": [], "bf16": []}
        for _ in range(args.repeats):
            for precision in runs:  # alternating, so drift hits both precisions alike
                runs[precision].append(
                    measure(name, "fast", args.steps, precision=precision, channels_last=True)
                )
        fp32, bf16 = (statistics.median(x["train_img_per_s"] for x in runs[p]) for p in ("fp32", "bf16"))
        size = runs["fp32"][0]["resize"]
        rows[name] = {
            "size": size,
            "batch": runs["fp32"][0]["batch_size"],
            "fp32_img_per_s": fp32,
            "bf16_img_per_s": bf16,
            "speedup": round(bf16 / fp32, 2),
        }
        print(
            f"{name:10s} {size:4d}px  fp32 {fp32:7.0f} img/s  bf16 {bf16:7.0f} img/s  x{bf16 / fp32:.2f}",
            flush=True,
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
                "cpu_has_bf16": cpu_has_bf16(),
                "torch": torch.__version__,
                "date": time.strftime("%Y-%m-%d"),
                "command": "python benchmarks/precision.py",
                **end_series(series),
                "networks": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()

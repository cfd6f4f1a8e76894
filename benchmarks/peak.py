"""This machine's compute ceiling, and how close each network's training gets to it.

    python benchmarks/peak.py [--models lenet,alexnet,...] [--recipe book|fast] [--steps 1]

Measures fp32 GEMM GFLOP/s at large sizes and a 3x3 convolution's forward+backward GFLOP/s
(the ceiling), then each network's achieved training GFLOP/s at its recipe's batch and input
size (the book's by default): FLOPs per image forward (torch.utils.flop_counter, via classicnets.analysis.summary)
x 3 (forward + backward) x training images/s. Writes benchmarks/results/peak.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
from machine import (  # benchmarks/machine.py
    add_idle_option,
    conv3x3_gflops,
    end_series,
    gemm_gflops,
    start_series,
)
from throughput import measure  # benchmarks/throughput.py, beside this script

from classicnets.analysis.summary import summary
from classicnets.models import create_model_for_input, list_models
from classicnets.training import recipe_config

RESULTS = Path(__file__).parent / "results" / "peak.json"


def network_gflops(name: str, recipe: str, steps: int) -> dict:
    row = measure(name, recipe, steps)  # training images/s, as benchmarks/throughput.py measures it
    config = recipe_config(name, recipe)
    model = create_model_for_input(name, row["resize"], **config.model_args).eval()
    flops = summary(model, (1, row["resize"], row["resize"])).flops
    return {
        "model": name,
        "recipe": recipe,
        "batch_size": row["batch_size"],
        "input": row["resize"],
        "flops_per_image": flops,
        "train_img_per_s": row["train_img_per_s"],
        "train_gflops": round(3 * flops * row["train_img_per_s"] / 1e9, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default=",".join(n for n in list_models() if n != "tiny_cnn"))
    parser.add_argument("--recipe", default="book", choices=["book", "fast"])
    parser.add_argument("--steps", type=int, default=1, help="timed steps after one warm-up step")
    add_idle_option(parser)
    args = parser.parse_args()
    series = start_series(args.busy_ok)
    gemm = {n: round(gemm_gflops(n), 1) for n in (1024, 2048, 4096)}
    conv = round(conv3x3_gflops(), 1)
    ceiling = max(max(gemm.values()), conv)
    print(
        f"fp32 GEMM GFLOP/s: {gemm}; 3x3 conv fwd+bwd (64 ch, 28 px, batch 64): {conv}; ceiling {ceiling}",
        flush=True,
    )
    rows = []
    for name in args.models.split(","):
        row = network_gflops(name, args.recipe, args.steps)
        row["fraction_of_ceiling"] = round(row["train_gflops"] / ceiling, 3)
        rows.append(row)
        print(
            f"{name:10s} {row['input']:4d}px batch {row['batch_size']:4d}: {row['train_img_per_s']:9.1f} img/s, "
            f"{row['train_gflops']:6.1f} GFLOP/s = {row['fraction_of_ceiling']:.0%} of the ceiling",
            flush=True,
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
                "torch": torch.__version__,
                "date": time.strftime("%Y-%m-%d"),
                "gemm_gflops": gemm,
                "conv3x3_gflops": conv,
                "ceiling_gflops": ceiling,
                "networks": rows,
                "series": end_series(series),
                "command": " ".join(["python", "benchmarks/peak.py", *sys.argv[1:]]),
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()

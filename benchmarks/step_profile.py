"""Where the book recipes spend their time on this machine: the step of each network, and
LeNet's whole process.

    python benchmarks/step_profile.py [--models lenet,alexnet,vgg11,resnet18] [--steps 20] [--busy-ok]

1. The step: the loop's own `train_step` on real batches of the book recipe's size and resize
   under torch.profiler (after 2 warm-up steps): self CPU time per operator per step, largest
   first, and the step's wall time.
2. LeNet's whole process: `classicnets train lenet --recipe book --epochs 2` run as a user runs it,
   its wall time from outside, against `python -c "import torch"` (and with torch._dynamo, which
   building any optimizer imports) and against the run's own
   clock (metrics.jsonl: the training seconds and the seconds of each epoch, evaluation
   included), so that start-up, data loading, training, evaluation and the rest add up.
Results: benchmarks/results/step_profile.json, with the load before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from machine import (  # benchmarks/machine.py, beside this script
    add_idle_option,
    end_series,
    start_series,
    timed_run,
)
from torch.profiler import ProfilerActivity, profile

from classicnets.training import recipe_config
from classicnets.training.device import resolve_device
from classicnets.training.rundir import read_metrics
from classicnets.training.setup import build_training
from classicnets.training.step import train_step

RESULTS = Path(__file__).parent / "results" / "step_profile.json"
WARMUP = 2


def step_profile(name: str, steps: int) -> dict:
    config = recipe_config(name, "book", device="cpu")
    config.limit = config.batch_size * (steps + WARMUP)
    device = resolve_device("cpu")
    parts = build_training(config, device, show_progress=False)
    parts.model.train()
    batches = list(parts.train_batches.iter_epoch(0))
    for i, (x, y) in enumerate(batches[:WARMUP]):
        train_step(parts, x, y, i)
    started = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i, (x, y) in enumerate(batches[WARMUP:], start=WARMUP):
            train_step(parts, x, y, i)
    wall_ms = (time.perf_counter() - started) * 1000 / steps
    rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    ops = [
        {
            "op": e.key,
            "self_ms_per_step": round(e.self_cpu_time_total / 1000 / steps, 3),
            "calls_per_step": round(e.count / steps, 2),
        }
        for e in rows[:15]
    ]
    return {
        "model": name,
        "steps": steps,
        "batch_size": config.batch_size,
        "resize": config.input_spec().resize,
        "wall_ms_per_step_profiled": round(wall_ms, 2),
        "operators": ops,
    }


def whole_process(repeats: int) -> dict:
    import_torch, import_dynamo, runs = [], [], []
    for _ in range(repeats):
        import_torch.append(timed_run([sys.executable, "-c", "import torch"]).seconds)
        # PyTorch imports its compiler the first time an optimizer is built (Optimizer.add_param_group
        # is wrapped in torch._disable_dynamo), compiled or not: every training process pays this.
        import_dynamo.append(timed_run([sys.executable, "-c", "import torch, torch._dynamo"]).seconds)
        with tempfile.TemporaryDirectory() as out:
            wall = timed_run(
                [
                    str(Path(sys.executable).with_name("classicnets")),
                    "train",
                    "lenet",
                    "--recipe",
                    "book",
                    "--epochs",
                    "2",
                    "--out",
                    out,
                    "--overwrite",
                    "--quiet",
                    "--device",
                    "cpu",
                ]
            ).seconds
            rows = read_metrics(Path(out))
        runs.append(
            {
                "wall_s": round(wall, 2),
                "epochs_s": [round(r["seconds"], 2) for r in rows],
                "train_s": [round(r["train_seconds"], 2) for r in rows],
                "last_epoch_end_s": round(rows[-1]["elapsed"], 2),
            }
        )
    median = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    return {
        "import_torch_s": sorted(round(t, 2) for t in import_torch),
        "import_torch_and_dynamo_s": sorted(round(t, 2) for t in import_dynamo),
        "runs": runs,
        "median_run": median,
        "outside_the_epochs_s": round(median["wall_s"] - sum(median["epochs_s"]), 2),
        "evaluation_and_epoch_end_s": [
            round(e - t, 2) for e, t in zip(median["epochs_s"], median["train_s"])
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="lenet,alexnet,vgg11,resnet18")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    add_idle_option(parser)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    series = start_series(args.busy_ok)
    steps = []
    for name in args.models.split(","):
        steps.append(step_profile(name, args.steps if name == "lenet" else max(2, args.steps // 5)))
        print(
            f"{name}: {steps[-1]['wall_ms_per_step_profiled']:.1f} ms/step; "
            + ", ".join(f"{op['op']} {op['self_ms_per_step']:.2f}" for op in steps[-1]["operators"][:6]),
            flush=True,
        )
    whole = whole_process(args.repeats)
    print(json.dumps(whole["median_run"]), flush=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                "torch": torch.__version__,
                "date": time.strftime("%Y-%m-%d"),
                "series": end_series(series),
                "command": " ".join(["python", "benchmarks/step_profile.py", *sys.argv[1:]]),
                "steps": steps,
                "lenet_whole_process": whole,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()

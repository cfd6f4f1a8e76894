"""Training throughput of each network under each recipe, from a few steps, on this machine.

    python benchmarks/throughput.py [--models a,b] [--recipes book,fast] [--steps 2]

Runs `--steps` timed optimisation steps (after one warm-up step) at the recipe's batch size,
input size, layout and optimizer, on real Fashion-MNIST batches, and reports training
images/s and the projected wall time of one epoch (60,000 images) and of the whole recipe
(evaluation not included). Results go to benchmarks/results/throughput.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from machine import add_idle_option, end_series, start_series  # benchmarks/machine.py, beside this script

from classicnets.models import list_models
from classicnets.training import TrainConfig, recipe_config
from classicnets.training.device import resolve_device
from classicnets.training.setup import build_training
from classicnets.training.step import train_step

RESULTS = Path(__file__).parent / "results" / "throughput.json"


TRAIN_IMAGES = 60000


def recipe_steps(config: TrainConfig) -> int:
    """Steps of the whole recipe on the full training set: the length of its schedule."""
    return config.epochs * math.ceil(TRAIN_IMAGES / config.batch_size)


def run_steps(config: TrainConfig, steps: int, seconds: float = math.inf) -> tuple[list[float], list[float]]:
    """The first `steps` steps of `config` (or as many as end within `seconds`), each one call of
    the loop's own `train_step` on real batches, on the schedule of the whole recipe:
    (seconds, training loss) per step."""
    config.limit = config.batch_size * steps
    device = resolve_device(config.device)
    parts = build_training(config, device, show_progress=False)
    parts.total_steps = recipe_steps(config)  # the schedule of the real run, not of this slice
    parts.model.train()
    times, losses = [], []
    started = time.perf_counter()
    for i, (x, y) in enumerate(parts.train_batches.iter_epoch(0)):
        begin = time.perf_counter()
        _, loss, _ = train_step(parts, x, y, step=i)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - begin)
        losses.append(loss)
        if time.perf_counter() - started > seconds:
            break
    return times, [float(v) for v in losses]


def measure(name: str, recipe: str, steps: int, **overrides: object) -> dict:
    """Median seconds of `steps` calls of the loop's own `train_step` (after one warm-up step)."""
    config = recipe_config(name, recipe, **overrides)
    times, _ = run_steps(config, steps + 1)
    per_second = config.batch_size / statistics.median(times[1:])
    return {
        "model": name,
        "recipe": recipe,
        "batch_size": config.batch_size,
        "resize": config.input_spec().resize,
        "train_img_per_s": round(per_second, 1),
        "epoch_seconds": round(TRAIN_IMAGES / per_second),
        "recipe_hours": round(TRAIN_IMAGES / per_second * config.epochs / 3600, 2),
        "epochs": config.epochs,
        "device": str(resolve_device(config.device)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default=",".join(n for n in list_models() if n != "tiny_cnn"))
    parser.add_argument("--recipes", default="book,fast")
    parser.add_argument("--steps", type=int, default=2)
    add_idle_option(parser)
    args = parser.parse_args()
    series = start_series(args.busy_ok)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": {}}
    for name in args.models.split(","):
        for recipe in args.recipes.split(","):
            row = measure(name, recipe, args.steps)
            results["runs"][f"{name}/{recipe}"] = row
            print(
                f"{name:10s} {recipe:4s} {row['resize']:4d}px batch {row['batch_size']:4d}: "
                f"{row['train_img_per_s']:9.1f} img/s, epoch {row['epoch_seconds']:7d} s, "
                f"recipe {row['recipe_hours']:6.2f} h",
                flush=True,
            )
            results.update(
                {
                    "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
                    "torch": torch.__version__,
                    "date": time.strftime("%Y-%m-%d"),
                    "series": end_series(series),
                    "command": " ".join(["python", "benchmarks/throughput.py", *sys.argv[1:]]),
                }
            )
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""This machine's compute ceiling, and how close each network's training gets to it.

    python benchmarks/peak.py [--models lenet,alexnet,...] [--recipe book|fast] [--steps 1]

Measures fp32 GEMM GFLOP/s at large sizes and a 3x3 convolution's forward+backward GFLOP/s
(the ceiling), then each network's achieved training GFLOP/s at its recipe's batch and input
size (the book's by default): FLOPs per image forward (torch.utils.flop_counter, via classicnets.analysis.summary)
x 3 (forward + backward) x training images/s. Writes benchmarks/results/peak.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from classicnets.analysis.summary import summary
from classicnets.models import list_models
from classicnets.training import recipe_config
from classicnets.training.device import resolve_device
from classicnets.training.loop import build_training

RESULTS = Path(__file__).parent / "results" / "peak.json"


def _median_seconds(fn: Callable[[], object], repeats: int = 5) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_gflops(n: int) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n ** 3 / _median_seconds(lambda: a @ b) / 1e9


def conv3x3_gflops(batch: int = 64, channels: int = 64, size: int = 28) -> float:
    """Forward + backward (input and weight gradients) of one 3x3 convolution, channels_last."""
    x = torch.randn(batch, channels, size, size).contiguous(memory_format=torch.channels_last).requires_grad_()
    w = torch.randn(channels, channels, 3, 3).contiguous(memory_format=torch.channels_last).requires_grad_()

    def step() -> None:
        out = F.conv2d(x, w, padding=1)
        out.backward(torch.ones_like(out))

    flops = 3 * 2 * batch * channels * channels * 9 * size * size
    return flops / _median_seconds(step) / 1e9


def network_gflops(name: str, recipe: str, steps: int) -> dict:
    config = recipe_config(name, recipe)
    config.limit = config.batch_size * (steps + 1)
    device = resolve_device("cpu")
    parts = build_training(config, device, show_progress=False)
    size = config.resize or 28
    flops_per_image = summary(copy.deepcopy(parts.model).eval(), (1, size, size)).flops
    model, optimizer, loss_fn = parts.model.train(), parts.optimizer, parts.loss_fn
    times = []
    for i, (x, y) in enumerate(parts.train_batches.iter_epoch(0)):
        start = time.perf_counter()
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i:
            times.append(time.perf_counter() - start)
    images_per_s = config.batch_size / statistics.median(times)
    return {"model": name, "recipe": recipe, "batch_size": config.batch_size, "input": size, "flops_per_image": flops_per_image,
            "train_img_per_s": round(images_per_s, 1),
            "train_gflops": round(3 * flops_per_image * images_per_s / 1e9, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(n for n in list_models() if n != "tiny_cnn"))
    parser.add_argument("--recipe", default="book", choices=["book", "fast"])
    parser.add_argument("--steps", type=int, default=1, help="timed steps after one warm-up step")
    args = parser.parse_args()
    gemm = {n: round(gemm_gflops(n), 1) for n in (1024, 2048, 4096)}
    conv = round(conv3x3_gflops(), 1)
    ceiling = max(max(gemm.values()), conv)
    print(f"fp32 GEMM GFLOP/s: {gemm}; 3x3 conv fwd+bwd (64 ch, 28 px, batch 64): {conv}; ceiling {ceiling}", flush=True)
    rows = []
    for name in args.models.split(","):
        row = network_gflops(name, args.recipe, args.steps)
        row["fraction_of_ceiling"] = round(row["train_gflops"] / ceiling, 3)
        rows.append(row)
        print(f"{name:10s} {row['input']:4d}px batch {row['batch_size']:4d}: {row['train_img_per_s']:9.1f} img/s, "
              f"{row['train_gflops']:6.1f} GFLOP/s = {row['fraction_of_ceiling']:.0%} of the ceiling", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
                                   "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"),
                                   "gemm_gflops": gemm, "conv3x3_gflops": conv, "ceiling_gflops": ceiling,
                                   "networks": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()

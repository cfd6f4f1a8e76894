"""Does channels_last speed up CPU training of each network? (It decides `cpu_channels_last`
in each model's registered config.)

    python benchmarks/channels_last.py [--batch 64] [--steps 3]

For every network, at its fast recipe's input size: training steps per second with the
default (NCHW) layout and with channels_last, alternating, median of `--steps` timed steps
after a warm-up step; prints the ratio and writes benchmarks/results/channels_last.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from classicnets.models import create_model, list_models
from classicnets.training import recipe_config

RESULTS = Path(__file__).parent / "results" / "channels_last.json"


def step_seconds(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    rows = {}
    for name in list_models():
        if name in ("mlp", "tiny_cnn"):
            continue
        config = recipe_config(name, "fast")
        size = config.resize or 28
        torch.manual_seed(0)
        model = create_model(name, **config.model_args)
        x = torch.randn(args.batch, 1, size, size)
        y = torch.randint(0, 10, (args.batch,))
        plain = step_seconds(model, x, y, args.steps)
        model = model.to(memory_format=torch.channels_last)
        last = step_seconds(model, x.contiguous(memory_format=torch.channels_last), y, args.steps)
        rows[name] = {"size": size, "nchw_img_per_s": round(args.batch / plain), "channels_last_img_per_s": round(args.batch / last),
                      "speedup": round(plain / last, 2)}
        print(f"{name:10s} {size:4d}px  NCHW {args.batch / plain:7.0f} img/s  channels_last {args.batch / last:7.0f} img/s  "
              f"x{plain / last:.2f}", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
                                   "torch": torch.__version__, "batch": args.batch, "networks": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Is PyTorch's weight-gradient kernel for LeNet's first convolution (1 input channel) slow on
this CPU? Against it: the gradient computed as one convolution of the batch by the output
gradient, batch and channels swapped (`SwappedConv2d` below, which classicnets used until this
measurement showed it slower with torch 2.13 here; kept in this file so that the comparison can
be run again on another machine or version).

    python benchmarks/first_conv.py [--repeats 5] [--iterations 50] [--steps 40]

Two measurements, each alternating the two implementations `--repeats` times, medians:
- the first layer alone (LeNet's book recipe: batch 256, 1 -> 6 channels, 5x5, padding 2, on
  real images): forward and backward, milliseconds per iteration;
- the whole training step of LeNet's book recipe (the loop's own `train_step`), milliseconds.
Results, with the load average before and after, go to benchmarks/results/first_conv.json.
Start it on an idle machine and run nothing else until it ends.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from machine import add_idle_option, end_series, start_series  # benchmarks/machine.py, beside this script
from throughput import measure
from torch import nn

from classicnets.data import BatchConfig, BatchIterator, load_fashion_mnist
from classicnets.models import create_model

RESULTS = Path(__file__).parent / "results" / "first_conv.json"
BATCH = 256


class _SwappedWeightGrad(torch.autograd.Function):
    """A stride-1 convolution of input data whose weight gradient is one convolution of the
    batch by the output gradient (batch and channels swapped); no input gradient (data)."""

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, padding: tuple[int, int]
    ) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.padding = padding
        return F.conv2d(x, weight, bias, padding=padding)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor, torch.Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        grad_weight = F.conv2d(x.transpose(0, 1), grad.transpose(0, 1), padding=ctx.padding).transpose(0, 1)
        return None, grad_weight, grad.sum(dim=(0, 2, 3)), None


class SwappedConv2d(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _SwappedWeightGrad.apply(x, self.weight, self.bias, self.padding)


def layer_ms(conv: nn.Module, x: torch.Tensor, iterations: int) -> float:
    """Median milliseconds of the layer's forward and backward (weight and bias gradients)."""
    grad = torch.randn_like(conv(x))
    times = []
    for _ in range(iterations + 1):
        conv.zero_grad(set_to_none=True)
        begin = time.perf_counter()
        conv(x).backward(grad)
        times.append(time.perf_counter() - begin)
    return 1000 * statistics.median(times[1:])


def step_ms(swapped: bool, steps: int) -> float:
    """Median milliseconds of LeNet's whole book-recipe training step, with or without the swap
    (the first layer's forward replaced on the class for the length of the measurement)."""
    original = nn.Conv2d.forward
    if swapped:
        first = type(create_model("lenet").features[0])
        assert first is nn.Conv2d

        def forward(self: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
            if self.in_channels == 1 and not x.requires_grad and torch.is_grad_enabled():
                return SwappedConv2d.forward(self, x)  # type: ignore[arg-type]
            return original(self, x)

        nn.Conv2d.forward = forward  # type: ignore[method-assign]
    try:
        return 1000 * BATCH / measure("lenet", "book", steps)["train_img_per_s"]
    finally:
        nn.Conv2d.forward = original  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--steps", type=int, default=40)
    add_idle_option(parser)
    args = parser.parse_args()
    series = {**start_series(args.busy_ok), "torch": torch.__version__, "threads": torch.get_num_threads()}
    x, _ = next(
        iter(BatchIterator(load_fashion_mnist(show_progress=False).train, BatchConfig(batch_size=BATCH)))
    )
    torch.manual_seed(0)
    plain = nn.Conv2d(1, 6, kernel_size=5, padding=2)
    swapped = SwappedConv2d(1, 6, kernel_size=5, padding=2)
    swapped.load_state_dict(plain.state_dict())
    layer: dict[str, list[float]] = {"pytorch": [], "swapped": []}
    step: dict[str, list[float]] = {"pytorch": [], "swapped": []}
    for _ in range(args.repeats):  # alternating, so drift hits both alike
        layer["pytorch"].append(round(layer_ms(plain, x, args.iterations), 2))
        layer["swapped"].append(round(layer_ms(swapped, x, args.iterations), 2))
        step["pytorch"].append(round(step_ms(False, args.steps), 2))
        step["swapped"].append(round(step_ms(True, args.steps), 2))
    series = end_series(series)
    medians = {
        what: {k: statistics.median(v) for k, v in runs.items()}
        for what, runs in (("first_layer_forward_backward_ms", layer), ("lenet_book_step_ms", step))
    }
    RESULTS.write_text(
        json.dumps(
            {
                "command": "python benchmarks/first_conv.py",
                "series": series,
                "batch": BATCH,
                "medians": medians,
                "runs": {"layer": layer, "step": step},
            },
            indent=2,
        )
        + "\n"
    )
    print(json.dumps(medians, indent=2))


if __name__ == "__main__":
    main()

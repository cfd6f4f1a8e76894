"""Why NiN sits at chance, measured: the signal and the gradient through its twelve convs under
each initialisation, and the first batches of training.

    python benchmarks/nin_init.py [--steps 80]

For PyTorch's default init, the book's Xavier-uniform and He-normal ("kaiming"), at the fast
recipe's 67 px and the book's 224 px, on one batch of real training images (normalised as the
fast recipe does): the standard deviation of every ReLU's output, of the logits, the loss and the
norm of the first conv's weight gradient. Then `--steps` steps of the fast recipe (its optimizer
and schedule, the loop's `train_step`) under each init, with the mean loss of each quarter.
Results go to benchmarks/results/nin_init.json.
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
from throughput import run_steps  # benchmarks/throughput.py, beside this script
from torch import nn

from classicnets.data import BatchConfig, load_fashion_mnist, to_model_input
from classicnets.training import recipe_config
from classicnets.training.setup import build_training

RESULTS = Path(__file__).parent / "results" / "nin_init.json"
INITS = ("default", "xavier", "kaiming")


def signal(init: str, size: int, batch: int) -> dict:
    config = recipe_config("nin", "fast", init=init, resize=size, limit=batch, batch_size=batch)
    parts = build_training(config, torch.device("cpu"), show_progress=False)
    model = parts.model.train()
    images = load_fashion_mnist(show_progress=False).train
    x = to_model_input(images.images[:batch], BatchConfig.for_input(config.input_spec()))
    y = images.labels[:batch].long()
    stds: list[float] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: stds.append(float(out.detach().std())))
        for m in model.modules()
        if isinstance(m, nn.ReLU)
    ]
    out = model(x)
    loss = F.cross_entropy(out, y)
    loss.backward()
    for hook in hooks:
        hook.remove()
    first_conv = model.features[0][0]
    return {
        "init": init,
        "size": size,
        "relu_output_std": [round(s, 4) for s in stds],
        "logits_std": round(float(out.detach().std()), 4),
        "loss": round(float(loss.detach()), 4),
        "first_conv_grad_norm": float(first_conv.weight.grad.norm()),
    }


def first_steps(init: str, steps: int) -> dict:
    _, losses = run_steps(recipe_config("nin", "fast", init=init), steps)
    quarter = max(1, steps // 4)
    return {
        "init": init,
        "steps": steps,
        "loss_by_quarter": [
            round(statistics.mean(losses[i : i + quarter]), 3) for i in range(0, steps, quarter)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=80)
    add_idle_option(parser)
    args = parser.parse_args()
    series = start_series(args.busy_ok)
    torch.manual_seed(0)
    rows = [signal(init, size, batch) for size, batch in ((67, 128), (224, 32)) for init in INITS]
    for row in rows:
        print(
            f"{row['size']:3d} px {row['init']:8s} ReLU std first->last {row['relu_output_std'][0]:.3g} -> "
            f"{row['relu_output_std'][-2]:.3g}, loss {row['loss']:.3f}, first conv grad {row['first_conv_grad_norm']:.2e}"
        )
    training = [first_steps(init, args.steps) for init in INITS]
    for row in training:
        print(
            f"fast recipe, {row['init']:8s}: loss by quarter of {row['steps']} steps {row['loss_by_quarter']}"
        )
    RESULTS.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d %H:%M"),
                "torch": torch.__version__,
                "series": end_series(series),
                "command": "python benchmarks/nin_init.py",
                "signal": rows,
                "first_steps": training,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()

"""How close does `classicnets lr-find` come to the learning rates the recipes train with?

    python benchmarks/lr_find.py [--steps 200] [--runs mlp:book,lenet:book,...]

For each network and recipe: the range test from the recipe's own configuration (its optimizer,
batch size, input and augmentation), its suggestion and the range where the loss falls, beside
the recipe's learning rate (the book's for book recipes; for the fast recipes the rate our
measurements chose, benchmarks/recipes.py and tta.py) and their ratio. No timing, so the machine
need not be idle; the load average before and after is recorded all the same. Results go to
benchmarks/results/lr_find.json, curves to results/lr_find/.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from machine import add_idle_option, end_series, start_series  # benchmarks/machine.py, beside this script

import classicnets

RESULTS = Path(__file__).parent / "results" / "lr_find.json"
RUNS = "mlp:book,lenet:book,lenet:fast,lenet_bn:fast,resnet18:fast,vgg11:speedrun,nin:fast"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--runs", default=RUNS)
    add_idle_option(parser)
    args = parser.parse_args()
    series = start_series(args.busy_ok)
    pictures = RESULTS.parent / "lr_find"
    pictures.mkdir(exist_ok=True)
    rows = []
    for entry in args.runs.split(","):
        name, recipe = entry.split(":")
        found = classicnets.lr_find(
            name, recipe=recipe, steps=args.steps, plot=pictures / f"{name}-{recipe}.png"
        )
        row = {
            "model": name,
            "recipe": recipe,
            "recipe_lr": found.recipe_lr,
            "suggestion": found.suggestion,
            "falling": found.falling,
            "ratio": found.suggestion / found.recipe_lr,
            "recipe_lr_in_falling_range": found.falling[0] <= found.recipe_lr <= found.falling[1],
            "steps": len(found.lrs),
            "diverged": found.diverged,
        }
        rows.append(row)
        print(
            f"{name:>9} {recipe:>8}: recipe lr {found.recipe_lr:<6g} suggestion {found.suggestion:.3g} "
            f"({row['ratio']:.2g}x), loss falls {found.falling[0]:.2g}..{found.falling[1]:.2g}",
            flush=True,
        )
    RESULTS.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d %H:%M"),
                "command": "python benchmarks/lr_find.py",
                "steps": args.steps,
                "series": end_series(series),
                "machine": {
                    "cpu": platform.processor() or platform.machine(),
                    "threads": torch.get_num_threads(),
                    "torch": torch.__version__,
                    "classicnets": classicnets.__version__,
                },
                "runs": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()

"""Measure the book and fast recipes: final test accuracy and wall time, on this machine.

    python benchmarks/recipes.py --models mlp,lenet --recipes book,fast   # train and record
    python benchmarks/recipes.py --markdown                               # print the README table

Each run is `classicnets train MODEL --recipe RECIPE` on the full data, from a cold model (the
data set is loaded once per process; its ~2 s load is not in the time). Results are merged into
benchmarks/results/recipes.json with the machine, the versions and the date.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from classicnets.models import list_models
from classicnets.trainer import run
from classicnets.training import recipe_config

RESULTS = Path(__file__).parent / "results" / "recipes.json"


def measure(model: str, recipe: str, runs_root: Path) -> dict:
    config = recipe_config(model, recipe)
    started = time.perf_counter()
    result = run(
        config,
        out=runs_root / f"{model}-{recipe}",
        overwrite=True,
        show_progress=False,
        log=lambda line: print(f"  {line}", flush=True),
    )
    seconds = time.perf_counter() - started
    final = result.metrics[-1]
    return {
        "model": model,
        "recipe": recipe,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "resize": config.input_spec().resize,
        "test_acc": final["test_acc"],
        "train_acc": final["train_acc"],
        "train_loss": final["train_loss"],
        "seconds": round(seconds, 1),
        "examples_per_sec": round(result.examples_per_sec),
        "device": result.device,
        "command": f"classicnets train {model} --recipe {recipe}",
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }


def load() -> dict[str, dict]:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def markdown(results: dict[str, dict]) -> str:
    lines = [
        "| network | recipe | epochs | resize | test acc | wall time | train img/s | command |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for model in list_models():
        for recipe in ("book", "fast"):
            r = results.get(f"{model}/{recipe}")
            if r is None:
                continue
            lines.append(
                f"| {model} | {recipe} | {r['epochs']} | {r['resize']} | {r['test_acc']:.4f} | "
                f"{r['seconds']:.0f} s | {r['examples_per_sec']:,} | `{r['command']}` |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="", help="comma-separated network names")
    parser.add_argument("--recipes", default="book,fast")
    parser.add_argument("--runs", default="runs/bench", help="where the run directories go")
    parser.add_argument("--markdown", action="store_true", help="print the results table and exit")
    args = parser.parse_args()
    results = load()
    if args.markdown:
        print(markdown(results))
        return
    for model in filter(None, args.models.split(",")):
        for recipe in args.recipes.split(","):
            print(f"{model} / {recipe}", flush=True)
            results[f"{model}/{recipe}"] = measure(model, recipe, Path(args.runs))
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()

"""The search behind the speedrun recipe and the fast recipes: what each choice is worth, one
change at a time.

    python benchmarks/speedrun_search.py [--only recipe,crops,vgg11/3-epochs-flips,...] [--seed 0]

Each candidate is the speedrun recipe (`classicnets speedrun`, SPEEDRUN in training/recipes.py),
or with a name `NET/...` NET's fast recipe (`classicnets speedrun NET`, FAST), with a few fields
changed, trained from a cold start in a fresh process (the same `speedrun()` the command runs)
and timed from outside, interpreter start to exit. Its final test accuracy, its
whole-process time, the time to 90-94% and its curve, with the load average before and after,
are added to benchmarks/results/speedrun_search.json under the candidate's name (a candidate run
again replaces its entry; the others are kept, so the file is the search's log across series).
One seed per candidate: differences under ~0.2% are within seed-to-seed spread
(benchmarks/results/speedrun.json has three seeds of the recipe itself). Run it on an idle
machine; the `long` candidates take 20-30 minutes each.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
from machine import add_idle_option, end_series, start_series, timed_run  # benchmarks/machine.py
from tta import on_process_clock  # benchmarks/tta.py

from classicnets.speedrun import THRESHOLDS, speedrun
from classicnets.training.recipes import FAST, SPEEDRUN

RESULTS = Path(__file__).parent / "results" / "speedrun_search.json"
_ARGS = SPEEDRUN["model_args"]

# name -> (what it tests, the fields that differ from the speedrun recipe)
CANDIDATES: dict[str, tuple[str, dict[str, Any]]] = {
    "recipe": ("the speedrun recipe as it is", {}),
    "fp32": ("float32 instead of bf16 autocast", {"precision": "fp32"}),
    "crops": ("random crops (padding 2) besides the mirror images", {"crop_padding": 2}),
    "no-augment": ("no mirror images in training", {"augment": False}),
    "no-flip-tta": ("no test-time flips", {"flip_tta": False}),
    "6-epochs": ("6 epochs", {"epochs": 6}),
    "7-epochs": ("7 epochs", {"epochs": 7}),
    "8-epochs": ("8 epochs", {"epochs": 8}),
    "10-epochs": ("10 epochs", {"epochs": 10}),
    "4-blocks": ("VGG-11's first four blocks (28 -> 1 px)", {"model_args": {**_ARGS, "blocks": 4}}),
    "long-crops-30": ("30 epochs with crops: the best under 30 minutes?", {"epochs": 30, "crop_padding": 2}),
    "long-4-blocks-crops-30": (
        "VGG-11's first four blocks, 30 epochs with crops",
        {"epochs": 30, "crop_padding": 2, "model_args": {**_ARGS, "blocks": 4}},
    ),
    "long-full-width-12": (
        "VGG-11's first three blocks at full width, 12 epochs, crops",
        {"epochs": 12, "crop_padding": 2, "model_args": {**_ARGS, "width_ratio": 1}},
    ),
}
_FLIPS = {key: SPEEDRUN[key] for key in ("augment", "crop_padding", "flip_tta")}  # its mirror images
# NET/name -> (what it tests, the fields that differ from NET's fast recipe): the zoo in 25 minutes
ZOO: dict[str, tuple[str, dict[str, Any]]] = {
    "vgg11/3-epochs-flips-bf16": (
        "3 epochs, mirror images in training and test, bf16",
        {"epochs": 3, **_FLIPS, "precision": "bf16"},
    ),
    "vgg13/1-epoch-bf16": ("1 epoch, bf16", {"epochs": 1, "precision": "bf16"}),
    "vgg16/1-epoch-lr0.02-bf16": ("1 epoch at lr 0.02, bf16", {"epochs": 1, "lr": 0.02, "precision": "bf16"}),
    "vgg19/1-epoch-lr0.02-bf16": ("1 epoch at lr 0.02, bf16", {"epochs": 1, "lr": 0.02, "precision": "bf16"}),
    "resnet34/1-epoch-flip-tta": ("1 epoch, test-time flips", {"epochs": 1, "flip_tta": True}),
    "googlenet/2-epochs-flip-tta-bf16": (
        "2 epochs, test-time flips, bf16",
        {"epochs": 2, "flip_tta": True, "precision": "bf16"},
    ),
    "nin/2-epochs-lr0.02": ("2 epochs at lr 0.02", {"epochs": 2, "lr": 0.02}),
    "alexnet/1-epoch-flip-tta": ("1 epoch, test-time flips", {"epochs": 1, "flip_tta": True}),
}
CANDIDATES.update(ZOO)
SHORT = [name for name in CANDIDATES if not name.startswith("long") and name not in ZOO]


def _base(name: str) -> tuple[str | None, dict[str, Any]]:
    """The network a candidate trains (None: the speedrun's) and the recipe it changes."""
    if "/" in name:
        model = name.split("/")[0]
        return model, FAST[model]
    return None, SPEEDRUN


def one(name: str, seed: int) -> None:
    """Train candidate `name` in this process and print its result as one JSON line."""
    out = Path("runs/speedrun-search") / name
    model, _ = _base(name)
    result = speedrun(model, out=out, overwrite=True, log=lambda line: None, seed=seed, **CANDIDATES[name][1])
    print(json.dumps(result.to_dict()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(SHORT), help=f"candidates, of: {', '.join(CANDIDATES)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process: train this candidate
    add_idle_option(parser)
    args = parser.parse_args()
    if args.one:
        return one(args.one, args.seed)
    names = args.only.split(",")
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        raise SystemExit(f"unknown candidate(s) {', '.join(unknown)}; choose from {', '.join(CANDIDATES)}")
    series = start_series(args.busy_ok)
    log = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"candidates": {}}
    for name in names:
        timed = timed_run([sys.executable, __file__, "--one", name, "--seed", str(args.seed)])
        result = json.loads(timed.stdout.strip().splitlines()[-1])
        startup = timed.seconds - result["seconds"]  # interpreter and imports, before speedrun's clock
        log["candidates"][name] = {
            "tests": CANDIDATES[name][0],
            "changes": CANDIDATES[name][1],
            "base_recipe": _base(name)[1],
            "seed": args.seed,
            "test_acc": result["test_acc"],
            "process_seconds": round(timed.seconds, 1),
            **on_process_clock(result["curve"], startup, THRESHOLDS),
            "loadavg_before": timed.load_before,
            "loadavg_after": timed.load_after,
            "date": time.strftime("%Y-%m-%d %H:%M"),
        }
        print(
            f"{name:20s} {result['test_acc']:.4f} in {timed.seconds:6.1f} s  ({CANDIDATES[name][0]})",
            flush=True,
        )
        log.update(
            {
                "command": "python benchmarks/speedrun_search.py [--only NAMES]",
                "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
                "torch": torch.__version__,
            }
        )
        log.setdefault("series", []).append({**end_series(series), "candidate": name})
        RESULTS.write_text(
            json.dumps(log, indent=2) + "\n"
        )  # after each candidate: a long series keeps its part


if __name__ == "__main__":
    main()

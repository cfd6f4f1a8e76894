"""The leaderboard: every network's size, cost, speed and accuracy on this machine.

    python benchmarks/leaderboard.py [--models ...] [--no-inference]

For every network: parameters and forward FLOPs per image at its book recipe's resize (with
the book's builder arguments), training images/s for both recipes (benchmarks/throughput.py's
results), inference through the `predict` path (normalise, resize, forward, softmax) at batch 1
and batch 256 and the latency of one image (measured here), and the book and fast recipes' test
accuracy and wall time (benchmarks/recipes.py and benchmarks/tta.py results; a recipe not run
shows its projected time from the measured throughput). Writes benchmarks/results/leaderboard.json,
benchmarks/results/leaderboard.md (embedded in the README) and leaderboard.png (test accuracy
against training time, one point per network and recipe).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from classicnets.analysis.predict import probabilities
from classicnets.analysis.summary import summary
from classicnets.models import create_model_for_input, list_models
from classicnets.reports.figures import plt, save_figure
from classicnets.training import recipe_config
from classicnets.training.checkpoint import LoadedRun

RESULTS = Path(__file__).parent / "results"


def _load(name: str) -> dict:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else {}


def _book_model(name: str) -> tuple[torch.nn.Module, int]:
    config = recipe_config(name, "book")
    torch.manual_seed(0)
    resize = config.input_spec().resize
    return create_model_for_input(name, resize, **config.model_args).eval(), resize


def inference(name: str) -> dict:
    model, resize = _book_model(name)
    run = LoadedRun(run_dir=Path("."), model=model, input=recipe_config(name, "book").input_spec(), meta={"model": name})
    images = torch.randint(0, 256, (256, 28, 28), dtype=torch.uint8)

    def timed(batch: torch.Tensor, repeats: int) -> float:
        probabilities(run, batch, batch_size=256)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            probabilities(run, batch, batch_size=256)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    one = timed(images[:1], 20)
    full = timed(images, 3 if resize < 100 else 1)
    return {"latency_ms": round(one * 1000, 2), "img_per_s_batch1": round(1 / one, 1),
            "img_per_s_batch256": round(256 / full, 1), "resize": resize}


def row_for(name: str, throughput: dict, recipes: dict, tta: dict, measure_inference: bool, previous: dict) -> dict:
    model, resize = _book_model(name)
    info = summary(model, (1, resize, resize))
    row = {"model": name, "params": info.total_params, "book_resize": resize, "flops": info.flops}
    for recipe in ("book", "fast"):
        speed = throughput.get(f"{name}/{recipe}", {})
        measured = recipes.get(f"{name}/{recipe}") or (tta.get(name) if recipe == "fast" else None)
        entry = {"train_img_per_s": speed.get("train_img_per_s")}
        if measured:
            entry.update({"test_acc": measured["test_acc"], "seconds": round(measured["seconds"], 1), "measured": True,
                          "command": measured.get("command", f"classicnets train {name} --recipe {recipe}")})
        else:
            hours = speed.get("recipe_hours")
            entry.update({"test_acc": None, "seconds": round(hours * 3600) if hours is not None else None,
                          "measured": False, "command": f"classicnets train {name} --recipe {recipe}"})
        row[recipe] = entry
    if measure_inference:
        row["inference"] = inference(name)
    elif name in previous:
        row["inference"] = previous[name].get("inference")
    return row


def _fmt_time(seconds: float | None, measured: bool) -> str:
    if seconds is None:
        return "-"
    text = f"{seconds:,.0f} s" if seconds < 3600 else f"{seconds / 3600:.1f} h"
    return text if measured else f"{text} projected"


def markdown(rows: list[dict]) -> str:
    lines = ["| network | params | MFLOPs/img @ book px | train img/s book / fast | predict img/s b1 / b256 | "
             "latency | book test acc (time) | fast test acc (time) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        inf = r.get("inference") or {}
        cells = []
        for recipe in ("book", "fast"):
            e = r[recipe]
            acc = f"{e['test_acc']:.4f}" if e["test_acc"] is not None else "not run"
            cells.append(f"{acc} ({_fmt_time(e['seconds'], e['measured'])})")
        speeds = " / ".join(f"{r[k]['train_img_per_s']:,.0f}" if r[k]["train_img_per_s"] else "-" for k in ("book", "fast"))
        predict = " / ".join(f"{inf[k]:,.0f}" if k in inf else "-" for k in ("img_per_s_batch1", "img_per_s_batch256"))
        latency = f"{inf['latency_ms']:.2f} ms" if "latency_ms" in inf else "-"
        lines.append(f"| {r['model']} | {r['params'] / 1e6:.2f} M | {r['flops'] / 1e6:,.1f} @ {r['book_resize']} | {speeds} | "
                     f"{predict} | {latency} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
    for recipe, marker in (("book", "o"), ("fast", "s")):
        points = [(r[recipe]["seconds"], r[recipe]["test_acc"], r["model"]) for r in rows
                  if r[recipe]["measured"] and r[recipe]["test_acc"] is not None]
        if points:
            ax.scatter([p[0] for p in points], [p[1] for p in points], marker=marker, s=40, label=f"{recipe} recipe")
            for x, y, name in points:
                ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("training wall time on this machine (s, log scale)")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Fashion-MNIST: test accuracy against training time (2 CPU cores)", fontsize=10)
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(n for n in list_models() if n != "tiny_cnn"))
    parser.add_argument("--no-inference", action="store_true", help="keep the inference figures already recorded")
    args = parser.parse_args()
    previous = {r["model"]: r for r in _load("leaderboard.json").get("rows", [])}
    throughput, recipes, tta = _load("throughput.json").get("runs", {}), _load("recipes.json"), _load("tta.json").get("runs", {})
    rows = []
    for name in args.models.split(","):
        rows.append(row_for(name, throughput, recipes, tta, not args.no_inference, previous))
        print(f"{name}: done", flush=True)
    document = {"machine": f"{platform.machine()}, {torch.get_num_threads()} threads", "torch": torch.__version__,
                "date": time.strftime("%Y-%m-%d"), "rows": rows}
    (RESULTS / "leaderboard.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / "leaderboard.md").write_text(markdown(rows) + "\n")
    plot(rows, RESULTS / "leaderboard.png")
    print(markdown(rows))


if __name__ == "__main__":
    main()

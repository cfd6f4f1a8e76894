"""The leaderboard: every network's fast recipe against the book's, on this machine.

    python benchmarks/leaderboard.py

Reads what the measurements recorded and measures nothing itself:
- fast: benchmarks/results/tta.json (`python benchmarks/tta.py`): each fast recipe run whole,
  as `classicnets train NET --recipe fast`, its test accuracy, wall time and time to the book's
  accuracy;
- book: the book's own printed reading (`BOOK_READINGS`, one GPU), this machine's projected time
  for the book recipe and whether its first batches learn (`python benchmarks/book_start.py`);
- parameters and forward FLOPs per image at the fast recipe's input (computed on the meta device).
The ratio is the book recipe's projected time here over the fast recipe's time to the book's
accuracy. Writes benchmarks/results/leaderboard.json, leaderboard.md (the README's table) and
leaderboard.png (test accuracy against wall time).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from classicnets.analysis.summary import summary
from classicnets.models import create_model_for_input, list_models
from classicnets.reports.figures import plt, save_figure
from classicnets.training import recipe_config
from classicnets.training.recipes import BOOK_READINGS

RESULTS = Path(__file__).parent / "results"


def _load(name: str) -> dict:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else {}


def variant(name: str) -> list[str]:
    """How the fast recipe's network differs from the book recipe's (builder arguments)."""
    book, fast = recipe_config(name, "book").model_args, recipe_config(name, "fast").model_args
    return [f"{k}={v}" for k, v in sorted(fast.items()) if book.get(k) != v]


def row_for(name: str, fast_runs: dict, book_runs: dict) -> dict:
    fast_config = recipe_config(name, "fast")
    spec = fast_config.input_spec()
    with torch.device("meta"):
        model = create_model_for_input(name, spec.resize, **fast_config.model_args)
    info = summary(model, spec.shape)
    reading = BOOK_READINGS[name]
    measured = fast_runs.get(name)
    fast = {
        "measured": False,
        "book_acc": reading.test_acc,
        "resize": spec.resize,
        "command": f"classicnets train {name} --recipe fast",
    }
    if measured:
        fast.update(
            {
                k: measured[k]
                for k in (
                    "test_acc",
                    "seconds",
                    "seconds_to_book_acc",
                    "seconds_to",
                    "epochs",
                    "init",
                    "model_args",
                    "date",
                    "precision",
                    "machine_index",
                    "augment",
                    "flip_tta",
                )
                if k in measured  # precision, index, augmentation: recorded since 2026-12-03
            },
            measured=True,
        )
    start = book_runs.get(name)
    book = {
        "printed": {
            "test_acc": reading.test_acc,
            "loss": reading.loss,
            "train_acc": reading.train_acc,
            "examples_per_sec": reading.examples_per_sec,
            "source": reading.source,
        },
        "resize": recipe_config(name, "book").input_spec().resize,
        "projected_hours": start["projected_hours"] if start else None,
        "first_batches": {
            "batches": start["batches"],
            "verdict": start["verdict"],
            "first_loss": start["first_loss"],
            "last_quarter_loss": start["last_quarter_loss"],
        }
        if start
        else None,
    }
    to_book = fast.get("seconds_to_book_acc")
    ratio = (
        round(book["projected_hours"] * 3600 / to_book, 1) if book["projected_hours"] and to_book else None
    )
    return {
        "model": name,
        "params": info.total_params,
        "flops_per_image": info.flops,
        "variant": variant(name),
        "fast": fast,
        "book": book,
        "book_time_over_fast_time": ratio,
    }


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:,.0f} s" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def markdown(rows: list[dict]) -> str:
    lines = [
        "| network | params | fast: px, epochs | fast test acc | fast wall time | to book acc | "
        "book acc (printed, GPU) | book recipe here (projected) | book's first batches | ratio |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        fast, book = r["fast"], r["book"]
        # what else the figure depends on: the network's variant, the precision it trained in, and
        # the machine index of the host that measured it (rows before 2026-12-03 have none)
        extras = [*r["variant"], fast.get("precision", "fp32")]
        extras += [
            label for key, label in (("augment", "flips"), ("flip_tta", "test flips")) if fast.get(key)
        ]
        if "machine_index" in fast:
            extras.append(f"index {fast['machine_index']:.0f}")
        setup = f"{fast['resize']} px, {fast.get('epochs', '-')} ({', '.join(extras)})"
        acc = f"{fast['test_acc']:.4f}" if fast["measured"] else "not run"
        mark = "" if not fast["measured"] else (" ✓" if fast["test_acc"] >= fast["book_acc"] else " ✗")
        first = book["first_batches"]
        first_text = (
            f"{first['verdict']} ({first['batches']} batches: {first['first_loss']:.2f} -> "
            f"{first['last_quarter_loss']:.2f})"
            if first
            else "-"
        )
        hours = f"{book['projected_hours']:.1f} h" if book["projected_hours"] else "-"
        ratio = f"{r['book_time_over_fast_time']:,.0f}x" if r["book_time_over_fast_time"] else "-"
        lines.append(
            f"| {r['model']} | {r['params'] / 1e6:.2f} M | {setup} | {acc}{mark} | "
            f"{_time(fast.get('seconds'))} | {_time(fast.get('seconds_to_book_acc'))} | "
            f"{book['printed']['test_acc']:.3f} | {hours} | {first_text} | {ratio} |"
        )
    return "\n".join(lines)


def load_note(series: list[dict] | dict | None, what: str) -> str:
    """Where the figures came from: each measuring series' load average before and after."""
    series = [series] if isinstance(series, dict) else (series or [])
    loads = "; ".join(
        f"{s['started']}: {s['loadavg_before']:.2f} -> {s['loadavg_after']:.2f}" for s in series
    )
    return f"{what}: 1-minute load average before -> after each series ({loads or 'not recorded'})"


def plot(rows: list[dict], fast_runs: dict, note: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(9, 5.5), layout="constrained")
    measured = [
        r for r in rows if r["fast"]["measured"] and r["model"] != "tiny_cnn"
    ]  # a toy: 200 epochs of 2 images
    for r in measured:
        curve = fast_runs[r["model"]]["curve"]
        (line,) = ax.plot(
            [c["seconds"] for c in curve], [c["test_acc"] for c in curve], marker=".", linewidth=1
        )
        ax.scatter(
            [r["fast"]["seconds"]],
            [r["book"]["printed"]["test_acc"]],
            marker="_",
            s=120,
            color=line.get_color(),
        )
        ax.annotate(
            r["model"],
            (curve[-1]["seconds"], curve[-1]["test_acc"]),
            textcoords="offset points",
            xytext=(4, 0),
            fontsize=8,
            color=line.get_color(),
        )
    ax.set_xscale("log")
    ax.set_ylim(0.7, 1.0)
    ax.set_xlabel(
        "wall time of `classicnets train NET --recipe fast` (s, log scale; start-up and evaluations included)"
    )
    ax.set_ylabel("test accuracy after each epoch")
    ax.grid(alpha=0.3)
    ax.set_title(
        "Fast recipes on 2 CPU cores; a dash marks the book's printed accuracy for that network\n" + note,
        fontsize=8,
    )
    save_figure(fig, path)


def main() -> None:
    fast, book = _load("tta.json"), _load("book_start.json")
    fast_runs, book_runs = fast.get("runs", {}), book.get("runs", {})
    rows = [row_for(name, fast_runs, book_runs) for name in list_models()]
    fast_note = load_note(fast.get("series"), "fast recipes (tta.json)")
    book_note = load_note(book.get("series"), "book recipes' first batches (book_start.json)")
    document = {
        "sources": {"fast": "benchmarks/results/tta.json", "book": "benchmarks/results/book_start.json"},
        "tta_series": fast.get("series"),
        "book_start_series": book.get("series"),
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
    }
    (RESULTS / "leaderboard.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / "leaderboard.md").write_text(markdown(rows) + f"\n\n{fast_note}.  \n{book_note}.\n")
    plot(rows, fast_runs, fast_note, RESULTS / "leaderboard.png")
    print(markdown(rows))


if __name__ == "__main__":
    main()

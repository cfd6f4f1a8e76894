"""classicnets against the book's own code (d2l 1.0.3's train_ch6), same network, same recipe.

    benchmarks/book/setup.sh                 # once: the book's environment (torch 2.14.1, d2l)
    python benchmarks/compare.py [--cases lenet,alexnet,vgg11,resnet18] [--repeats 2]

For each case the two sides run alternately, `--repeats` times each, in separate processes with
the same thread count: the book's code (benchmarks/book/run_book.py in benchmarks/book/.venv)
and `classicnets train MODEL --recipe book` (this environment). Each side times itself from
the data loading to the last evaluation (process start-up and imports excluded) and reports
wall time per epoch, training images per second of wall time, and final test accuracy; the
medians and the ratio book / classicnets go to benchmarks/results/compare.json.
LeNet runs whole epochs on the full data; the conv-bound networks run a fixed number of
batches at the book's resize (`--limit` training and test images), as a full epoch takes
10 minutes to an hour on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BOOK_PYTHON = HERE / "book" / ".venv" / "bin" / "python"
RESULTS = HERE / "results" / "compare.json"

# model: (epochs, lr, batch size, resize, limit) -- the book recipes (training/recipes.py's BOOK)
CASES = {
    "lenet": (2, 0.9, 256, None, None),
    "alexnet": (1, 0.01, 128, 224, 1024),
    "vgg11": (1, 0.05, 128, 224, 1024),
    "resnet18": (1, 0.05, 256, 96, 2048),
}


def _json_line(output: str) -> dict:
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON result in the output:\n{output[-2000:]}")


def run_book(model: str, threads: int) -> dict:
    epochs, lr, batch, resize, limit = CASES[model]
    cmd = [str(BOOK_PYTHON), str(HERE / "book" / "run_book.py"), model, "--epochs", str(epochs), "--lr", str(lr),
           "--batch-size", str(batch), "--threads", str(threads)]
    cmd += ["--resize", str(resize)] if resize else []
    cmd += ["--limit", str(limit)] if limit else []
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return _json_line(done.stdout)


def run_classicnets(model: str, threads: int) -> dict:
    epochs, lr, batch, resize, limit = CASES[model]
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "classicnets", "train", model, "--recipe", "book", "--epochs", str(epochs),
               "--lr", str(lr), "--batch-size", str(batch), "--out", out, "--overwrite", "--json", "--quiet",
               "--device", "cpu"]
        cmd += ["--resize", str(resize)] if resize else []
        cmd += ["--limit", str(limit)] if limit else []
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    result = json.loads(done.stdout)
    return {"side": "classicnets", "model": model, "epochs": epochs, "seconds": result["seconds"],
            "epoch_seconds": result["seconds"] / epochs, "train_images": limit or 60000,
            "test_acc": result["test_acc"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if not BOOK_PYTHON.exists():
        sys.exit(f"the book's environment is missing: run benchmarks/book/setup.sh first ({BOOK_PYTHON})")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"cases": {}}
    for model in args.cases.split(","):
        runs: dict[str, list[dict]] = {"book": [], "classicnets": []}
        for _ in range(args.repeats):  # alternate, so that drifts in machine load hit both sides
            runs["book"].append(run_book(model, args.threads))
            runs["classicnets"].append(run_classicnets(model, args.threads))
        row: dict = {"recipe": dict(zip(("epochs", "lr", "batch_size", "resize", "limit"), CASES[model]))}
        for side, rows in runs.items():
            epoch = statistics.median(r["epoch_seconds"] for r in rows)
            row[side] = {"epoch_seconds": round(epoch, 2), "train_img_per_s": round(rows[0]["train_images"] / epoch, 1),
                         "test_acc": [r["test_acc"] for r in rows], "runs": rows}
        row["speedup"] = round(row["book"]["epoch_seconds"] / row["classicnets"]["epoch_seconds"], 2)
        results["cases"][model] = row
        print(f"{model:9s} book {row['book']['epoch_seconds']:8.2f} s/epoch ({row['book']['train_img_per_s']:8.1f} img/s, "
              f"test acc {row['book']['test_acc']}), classicnets {row['classicnets']['epoch_seconds']:8.2f} s/epoch "
              f"({row['classicnets']['train_img_per_s']:8.1f} img/s, test acc {row['classicnets']['test_acc']}): "
              f"{row['speedup']:.2f}x", flush=True)
        results.update({"machine": f"{platform.machine()}, {args.threads} threads", "date": time.strftime("%Y-%m-%d"),
                        "book_torch": runs["book"][0].get("torch"), "classicnets_torch": _torch_version()})
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def _torch_version() -> str:
    import torch

    return torch.__version__


if __name__ == "__main__":
    main()

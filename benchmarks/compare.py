"""classicnets against the book's own code (d2l 1.0.3's train_ch6), same network, same recipe.

    benchmarks/book/setup.sh                 # once: the book's environment (torch 2.14.1, d2l)
    python benchmarks/compare.py [--cases lenet,lenet10,alexnet,vgg11,resnet18] [--repeats 3] [--busy-ok]
    python benchmarks/compare.py --cases alexnet-bf16,vgg11-bf16,resnet18-bf16

For each case the two sides run alternately (book, classicnets, book, ...), `--repeats` times
each, in separate processes with the same thread count: the book's code
(benchmarks/book/run_book.py in benchmarks/book/.venv) and `classicnets train MODEL --recipe
book` (this environment's console script). Two times per run: the whole process, interpreter
start to exit, timed from outside (what a user waits for), and the in-process time each side
reports itself, from the data loading to the last evaluation (start-up and imports excluded).
Medians of each, the ratios book / classicnets, the test accuracies and the 1-minute load
average before and after every run and the series go to benchmarks/results/compare.json with
the machine, the versions, the date and the command (each case keeps the date and series it was
measured in; cases not run again are kept). Refuses to start on a busy machine
(load >= 1.0) unless --busy-ok, which flags the series.

LeNet runs whole epochs on the full data (2 epochs, and the full 10-epoch recipe as `lenet10`);
the conv-bound networks run a fixed number of batches at the book's resize (`limit` training
and test images), as a full epoch takes 10 minutes to an hour on 2 CPU cores. The `-bf16` cases
run classicnets' side with `--precision bf16 --channels-last`: the book's recipe, not its float32
numerics (on a CPU without native bf16 it trains in float32).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from machine import (  # benchmarks/machine.py, beside this script
    add_idle_option,
    end_series,
    start_series,
    timed_run,
)

HERE = Path(__file__).resolve().parent
BOOK_PYTHON = HERE / "book" / ".venv" / "bin" / "python"
RESULTS = HERE / "results" / "compare.json"


@dataclass(frozen=True)
class Case:
    """One comparison: the book recipe of `model` (training/recipes.py's BOOK), maybe cut short."""

    model: str
    epochs: int
    lr: float
    batch_size: int
    resize: int | None = None
    limit: int | None = None  # training and test images, for the networks too slow for a whole epoch
    # classicnets' side only: bf16 autocast in channels_last (`--precision bf16 --channels-last`), not the
    # book's float32 numerics; the book's side is the same as in the float32 case
    bf16: bool = False


CASES = {
    "lenet": Case("lenet", 2, 0.9, 256),
    "lenet10": Case("lenet", 10, 0.9, 256),
    "alexnet": Case("alexnet", 1, 0.01, 128, 224, 1024),
    "vgg11": Case("vgg11", 1, 0.05, 128, 224, 1024),
    "resnet18": Case("resnet18", 1, 0.05, 256, 96, 2048),
    "alexnet-bf16": Case("alexnet", 1, 0.01, 128, 224, 1024, bf16=True),
    "vgg11-bf16": Case("vgg11", 1, 0.05, 128, 224, 1024, bf16=True),
    "resnet18-bf16": Case("resnet18", 1, 0.05, 256, 96, 2048, bf16=True),
}
DEFAULT_CASES = [name for name, case in CASES.items() if not case.bf16]


def _json_line(output: str) -> dict:
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON result in the output:\n{output[-2000:]}")


def run_book(case: Case, threads: int) -> dict:
    cmd = [
        str(BOOK_PYTHON),
        str(HERE / "book" / "run_book.py"),
        case.model,
        "--epochs",
        str(case.epochs),
        "--lr",
        str(case.lr),
        "--batch-size",
        str(case.batch_size),
        "--threads",
        str(threads),
    ]
    cmd += ["--resize", str(case.resize)] if case.resize else []
    cmd += ["--limit", str(case.limit)] if case.limit else []
    done = timed_run(cmd)
    result = _json_line(done.stdout)
    return {
        "side": "book",
        "in_process_s": round(result["seconds"], 2),
        "whole_s": round(done.seconds, 2),
        "test_acc": result["test_acc"],
        "torch": result.get("torch"),
        "threads": result.get("threads"),
        "load_before": done.load_before,
        "load_after": done.load_after,
    }


def run_classicnets(case: Case, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            str(Path(sys.executable).with_name("classicnets")),
            "train",
            case.model,
            "--recipe",
            "book",
            "--epochs",
            str(case.epochs),
            "--lr",
            str(case.lr),
            "--batch-size",
            str(case.batch_size),
            "--out",
            out,
            "--overwrite",
            "--json",
            "--quiet",
            "--device",
            "cpu",
        ]
        cmd += ["--resize", str(case.resize)] if case.resize else []
        cmd += ["--limit", str(case.limit)] if case.limit else []
        cmd += ["--precision", "bf16", "--channels-last"] if case.bf16 else []
        done = timed_run(cmd, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    result = json.loads(done.stdout)
    return {
        "side": "classicnets",
        "in_process_s": round(result["seconds"], 2),
        "whole_s": round(done.seconds, 2),
        "test_acc": result["test_acc"],
        "load_before": done.load_before,
        "load_after": done.load_after,
    }


def summarise(case: Case, runs: dict[str, list[dict]]) -> dict:
    row: dict = {"recipe": asdict(case)}
    for side, rows in runs.items():
        row[side] = {
            "in_process_s": round(statistics.median(r["in_process_s"] for r in rows), 2),
            "whole_s": round(statistics.median(r["whole_s"] for r in rows), 2),
            "test_acc": [r["test_acc"] for r in rows],
            "runs": rows,
        }
    for clock in ("in_process_s", "whole_s"):
        row[f"speedup_{clock[:-2]}"] = round(row["book"][clock] / row["classicnets"][clock], 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cases",
        default=",".join(DEFAULT_CASES),
        help=f"of {', '.join(CASES)} (the -bf16 cases: classicnets in bf16, on CPUs that have it)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    add_idle_option(parser)
    args = parser.parse_args()
    names = args.cases.split(",")
    unknown = [n for n in names if n not in CASES]
    if unknown:
        sys.exit(f"unknown case {', '.join(unknown)}; choose from {', '.join(CASES)}")
    if not BOOK_PYTHON.exists():
        sys.exit(f"the book's environment is missing: run benchmarks/book/setup.sh first ({BOOK_PYTHON})")
    series = start_series(args.busy_ok)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    cases = results.get("cases", {}) if results.get("format") == 2 else {}
    for row in cases.values():  # cases kept from an earlier series keep that series' date and load
        row.setdefault("date", results.get("date"))
        row.setdefault("series", results.get("series"))
    for name in names:
        case = CASES[name]
        runs: dict[str, list[dict]] = {"book": [], "classicnets": []}
        for _ in range(args.repeats):  # alternate, so that drifts in the machine hit both sides
            runs["book"].append(run_book(case, args.threads))
            runs["classicnets"].append(run_classicnets(case, args.threads))
        row = cases[name] = {
            **summarise(case, runs),
            "date": time.strftime("%Y-%m-%d"),
            "series": end_series(series),
        }
        print(
            f"{name:9s} book {row['book']['whole_s']:7.1f} s whole / {row['book']['in_process_s']:7.1f} s in-process "
            f"(acc {row['book']['test_acc']}); classicnets {row['classicnets']['whole_s']:7.1f} / "
            f"{row['classicnets']['in_process_s']:7.1f} s (acc {row['classicnets']['test_acc']}): "
            f"{row['speedup_whole']:.2f}x whole, {row['speedup_in_process']:.2f}x in-process",
            flush=True,
        )
        document = {
            "format": 2,
            "cases": cases,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "threads": args.threads,
            "date": time.strftime("%Y-%m-%d"),
            "book_torch": runs["book"][0].get("torch"),
            "classicnets_torch": _torch_version(),
            "repeats": args.repeats,
            "series": end_series(series),
            "command": " ".join(["python", "benchmarks/compare.py", *sys.argv[1:]]),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(document, indent=2) + "\n")


def _torch_version() -> str:
    import torch

    return torch.__version__


if __name__ == "__main__":
    main()

"""Data sets beyond Fashion-MNIST (issue 21): what reading your own pictures costs, whether the
Fashion-MNIST path stayed as fast, and what LeNet reaches on scikit-learn's digits.

    python benchmarks/datasets.py [--baseline 9b13ee2] [--repeats 3] [--busy-ok]

1. A folder of the 70,000 Fashion-MNIST pictures as PNG files (PATH/train/CLASS, PATH/test/CLASS,
   written once under --pictures): the first read (headers, decoding, the cache) and later reads
   (the cache), each in a fresh process with its own cache: seconds, pictures per second, peak
   memory of the process.
2. The IDX path before (--baseline, a git worktree) and after: loading Fashion-MNIST and one epoch
   of the fast LeNet recipe's batches (shuffled, 2 px crops, flips) at 28 and at 32 px, the two
   sides alternating, each in a fresh process; medians in-process (load, epoch) and of the whole
   process.
3. LeNet's fast recipe on the 1,797 8x8 digits of scikit-learn, enlarged to 28 px, through npz:,
   for three seeds (the test suite asserts > 0.93 for seed 0).

Results go to benchmarks/results/datasets.json with the machine, versions, load and date.
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

from machine import add_idle_option, end_series, start_series  # benchmarks/machine.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

_READ = """
import json, resource, sys, time
started = time.perf_counter()
from classicnets.data.folder import load_folder
data = load_folder(sys.argv[1], show_progress=False)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "pictures": len(data.train) + len(data.test), "how": data.source.how,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_IDX = """
import json, sys, time
started = time.perf_counter()
import torch
torch.set_num_threads(2)
from classicnets.data import BatchConfig, BatchIterator, load_fashion_mnist
data = load_fashion_mnist(download=False, show_progress=False)
loaded = time.perf_counter()
epochs = {}
for side in (28, 32):
    config = BatchConfig(batch_size=128, shuffle=True, seed=0, mean=0.286, std=0.353, crop_padding=2, flip=True,
                         resize=side)
    begin = time.perf_counter()
    for x, y in BatchIterator(data.train, config).iter_epoch(0):
        pass
    epochs[side] = time.perf_counter() - begin
print(json.dumps({"load": loaded - started, "epoch_28": epochs[28], "epoch_32": epochs[32]}))
"""


def _python(code: str, *args: str, src: Path, env: dict[str, str] | None = None) -> tuple[dict, float]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(src), **(env or {})},
    ).stdout
    return json.loads(out.strip().splitlines()[-1]), time.perf_counter() - started


def write_pictures(root: Path) -> int:
    """The 70,000 pictures as PNGs, once (about 2 minutes)."""
    from PIL import Image

    from classicnets.data import load_fashion_mnist

    done = root / ".complete"
    if done.is_file():
        return int(done.read_text())
    data = load_fashion_mnist(download=False, show_progress=False)
    names = [f"{i}-{n.replace('/', '-')}" for i, n in enumerate(data.info.class_names)]
    count = 0
    for split, part in (("train", data.train), ("test", data.test)):
        for index, (image, label) in enumerate(zip(part.images.numpy(), part.labels.tolist())):
            folder = root / split / names[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image[0]).save(folder / f"{index:05d}.png")
            count += 1
    done.write_text(str(count))
    return count


def folder_reads(pictures: Path, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = {"XDG_CACHE_HOME": cache}
        first, first_wall = _python(_READ, str(pictures), src=ROOT / "src", env=env)
        later = [_python(_READ, str(pictures), src=ROOT / "src", env=env) for _ in range(repeats)]
        cache_bytes = sum(p.stat().st_size for p in Path(cache).rglob("*") if p.is_file())
    seconds = statistics.median(r["seconds"] for r, _ in later)
    return {
        "pictures": first["pictures"],
        "first_read": {
            **first,
            "whole_process_seconds": first_wall,
            "pictures_per_second": first["pictures"] / first["seconds"],
        },
        "later_reads": {
            "seconds_median": seconds,
            "pictures_per_second": first["pictures"] / seconds,
            "whole_process_seconds_median": statistics.median(w for _, w in later),
            "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] for r, _ in later),
            "runs": [r for r, _ in later],
        },
        "cache_bytes": cache_bytes,
        "decoded_array_bytes": first["pictures"] * 28 * 28,
    }


def idx_before_after(baseline: str, repeats: int) -> dict:
    worktree = Path(tempfile.mkdtemp(prefix="classicnets-baseline-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), baseline],
        check=True,
        capture_output=True,
    )
    try:
        sides = {"before": worktree / "src", "after": ROOT / "src"}
        runs: dict[str, list] = {"before": [], "after": []}
        for _ in range(repeats):
            for name, src in sides.items():  # alternating, so that a drift in the host's speed hits both
                runs[name].append(_python(_IDX, src=src))
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=True)
    summary = {}
    for name, rows in runs.items():
        summary[name] = {
            key: statistics.median(r[key] for r, _ in rows) for key in ("load", "epoch_28", "epoch_32")
        }
        summary[name]["whole_process"] = statistics.median(w for _, w in rows)
        summary[name]["runs"] = [{**r, "whole_process": w} for r, w in rows]
    summary["after_over_before"] = {
        key: summary["after"][key] / summary["before"][key]
        for key in ("load", "epoch_28", "epoch_32", "whole_process")
    }
    summary["baseline"] = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", baseline], check=True, capture_output=True, text=True
    ).stdout.strip()
    return summary


def digits(seeds: tuple[int, ...]) -> dict:
    import numpy as np
    from sklearn.datasets import load_digits

    from classicnets.trainer import run
    from classicnets.training import recipe_config

    data = load_digits()
    pixels = np.rint(data.images * (255 / 16)).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(pixels))
    train, test = order[:1437], order[1437:]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "digits.npz"
        np.savez_compressed(
            path,
            x_train=pixels[train],
            y_train=data.target[train],
            x_test=pixels[test],
            y_test=data.target[test],
        )
        for seed in seeds:
            config = recipe_config(
                "lenet", "fast", dataset=f"npz:{path}", resize=28, epochs=12, batch_size=32, seed=seed
            )
            started = time.perf_counter()
            result = run(config, out=Path(tmp) / f"run-{seed}", show_progress=False, log=lambda s: None)
            rows.append(
                {
                    "seed": seed,
                    "test_acc": result.metrics[-1]["test_acc"],
                    "seconds": time.perf_counter() - started,
                }
            )
    return {
        "train": len(train),
        "test": len(test),
        "command": "classicnets train lenet --recipe fast --dataset "
        "npz:digits.npz --resize 28 --epochs 12 --batch-size 32 --seed S",
        "runs": rows,
        "test_acc_median": statistics.median(r["test_acc"] for r in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="9b13ee2", help="the commit before colour and folders")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pictures", type=Path, default=Path(tempfile.gettempdir()) / "fashion-mnist-png")
    add_idle_option(parser)
    args = parser.parse_args()
    count = write_pictures(args.pictures)  # before the series: writing is not what is timed
    series = start_series(args.busy_ok)
    document = {
        "command": " ".join(["python", *sys.argv]),
        **series,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "folder": {"path": str(args.pictures), "written": count, **folder_reads(args.pictures, args.repeats)},
        "idx": idx_before_after(args.baseline, args.repeats),
        "digits": digits((0, 1, 2)),
    }
    import numpy
    import torch

    document["versions"] = {"torch": torch.__version__, "numpy": numpy.__version__}
    document.update(end_series(series))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "datasets.json").write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps({k: document[k] for k in ("loadavg_before", "loadavg_after")}, indent=2))
    print(
        json.dumps(
            {
                "folder_first": document["folder"]["first_read"]["pictures_per_second"],
                "folder_later": document["folder"]["later_reads"]["pictures_per_second"],
                "idx": document["idx"]["after_over_before"],
                "digits": document["digits"]["test_acc_median"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

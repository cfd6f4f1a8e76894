"""Where a short training process spends its time outside its epochs (issue 25, item 4).

    python benchmarks/startup.py [--repeats 5]

Times, as whole processes and alternating, `python -c "import torch"`, the same plus
`torch._dynamo` (PyTorch's compiler, which every optimizer imports: `Optimizer.add_param_group`
and `Optimizer.step` are wrapped in `torch._disable_dynamo`, which imports it on first call, so
any process that builds an optimizer pays it), and `classicnets train lenet --epochs 1 --limit 256`
with the data cache warm (`data.unpacked`) and cold (an empty `XDG_CACHE_HOME`). Then one such
run in-process under cProfile, after torch and its compiler are imported, for where the rest
goes (cProfile inflates each figure; the shares are what it is for). Medians; the machine index
and load at the start and end. Results: benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

from machine import add_idle_option, end_series, start_series, timed_run  # benchmarks/machine.py

RESULTS = Path(__file__).parent / "results" / "startup.json"
TRAIN = ["train", "lenet", "--epochs", "1", "--limit", "256", "--overwrite", "--quiet", "--device", "cpu"]
# The functions whose cumulative time splits the run: (file name, function name), as cProfile names them.
PHASES = {
    "classicnets imports (matplotlib, rich, the package)": ("trainer.py", "<module>"),
    "data: read, verify, batch": ("named.py", "load_dataset"),
    "memory check (meta device)": ("memory.py", "check_fits"),
    "building the network": ("registry.py", "create_model_for_spec"),
    "building the optimizer": ("optim.py", "make_optimizer"),
    "epoch: training and test evaluation": ("loop.py", "epoch"),
    "curves.png": ("curves.py", "plot_curves"),
    "checkpoint (safetensors, fsync)": ("checkpoint.py", "save_checkpoint"),
}


def profiled_run(out: str) -> dict[str, float]:
    import torch  # imported first: what is profiled is the rest
    import torch._dynamo  # noqa: F401

    from classicnets.cli.main import main

    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.runcall(main, [*TRAIN, "--out", out])
    total = time.perf_counter() - started
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    cumulative: dict[tuple[str, str], float] = {}
    for (file, _line, name), row in stats.items():
        key = (Path(file).name, name)
        cumulative[key] = max(cumulative.get(key, 0.0), row[3])
    phases = {label: round(cumulative.get(key, 0.0), 3) for label, key in PHASES.items()}
    return {"total_s": round(total, 3), **phases}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile-only", metavar="OUT", help=argparse.SUPPRESS)
    add_idle_option(parser)
    args = parser.parse_args()
    if args.profile_only:
        print(json.dumps(profiled_run(args.profile_only)))
        return
    classicnets = str(Path(sys.executable).with_name("classicnets"))
    series = start_series(args.busy_ok)
    times: dict[str, list[float]] = {
        "import_torch": [],
        "import_torch_dynamo": [],
        "train_warm": [],
        "train_cold": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "run")
        timed_run([classicnets, *TRAIN, "--out", out])  # fills the data cache once, not timed
        for _ in range(args.repeats):
            times["import_torch"].append(timed_run([sys.executable, "-c", "import torch"]).seconds)
            times["import_torch_dynamo"].append(
                timed_run([sys.executable, "-c", "import torch, torch._dynamo"]).seconds
            )
            times["train_warm"].append(timed_run([classicnets, *TRAIN, "--out", out]).seconds)
            with tempfile.TemporaryDirectory() as cache:
                cold = {**os.environ, "XDG_CACHE_HOME": cache}
                times["train_cold"].append(timed_run([classicnets, *TRAIN, "--out", out], env=cold).seconds)
        profile = json.loads(
            timed_run([sys.executable, __file__, "--profile-only", out]).stdout.splitlines()[-1]
        )
    median = {k: round(statistics.median(v), 3) for k, v in times.items()}
    document = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "command": " ".join(["python", "benchmarks/startup.py", *sys.argv[1:]]),
        "process": "classicnets " + " ".join(TRAIN),
        "seconds": {k: [round(t, 3) for t in v] for k, v in times.items()},
        "median_s": median,
        "beyond_import_torch_s": round(median["train_warm"] - median["import_torch"], 3),
        "beyond_import_torch_and_compiler_s": round(median["train_warm"] - median["import_torch_dynamo"], 3),
        "compiler_import_s": round(median["import_torch_dynamo"] - median["import_torch"], 3),
        "data_cache_saves_s": round(median["train_cold"] - median["train_warm"], 3),
        "in_process_profile_s": profile,
        "series": end_series(series),
    }
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps({k: document[k] for k in list(document)[4:-1]}, indent=2))


if __name__ == "__main__":
    main()

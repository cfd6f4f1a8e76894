"""Time to accuracy of each network's fast recipe, from a cold start, on this machine.

    python benchmarks/tta.py [--models lenet_bn,vgg11,...] [--epochs N]

Each network runs `classicnets.training.speedrun.speedrun` (what `classicnets speedrun MODEL`
does) in a fresh process, so the data set is loaded cold and its loading is in the time. The
wall time at the end of the first epoch whose test accuracy reached 90%, 92%, 93% and 94%, the
final accuracy and the total time go to benchmarks/results/tta.json with the machine and the
versions.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "tta.json"


def child(model: str, epochs: int | None) -> None:
    import torch

    from classicnets.training.speedrun import speedrun

    result = speedrun(model, out=Path("runs") / "tta" / model, log=lambda line: print(line, file=sys.stderr),
                      epochs=epochs)
    print(json.dumps({**result.to_dict(), "torch": torch.__version__, "threads": torch.get_num_threads()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="mlp,lenet,lenet_bn")
    parser.add_argument("--epochs", type=int, help="override the fast recipes' epochs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.epochs)
        return
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": {}}
    for model in args.models.split(","):
        cmd = [sys.executable, __file__, "--child", model] + (["--epochs", str(args.epochs)] if args.epochs else [])
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["command"] = f"classicnets speedrun {model}" + (f" --epochs {args.epochs}" if args.epochs else "")
        results["runs"][model + (f"@{args.epochs}" if args.epochs else "")] = row
        reached = ", ".join(f"{t}: {s:.0f} s" if s is not None else f"{t}: -" for t, s in row["time_to"].items())
        print(f"{model:10s} final {row['test_acc']:.4f} in {row['seconds']:.0f} s; {reached}", flush=True)
        results.update({"machine": f"{platform.machine()}, {row['threads']} threads", "torch": row["torch"],
                        "date": time.strftime("%Y-%m-%d")})
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

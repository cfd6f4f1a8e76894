"""How well the machine index predicts a re-run (issue 25, item 1).

    python benchmarks/index_check.py [--models lenet,densenet]

Each invocation is one series: the machine index, then each network's fast recipe run whole
(`classicnets train NET --recipe fast`, as tta.py runs it), appended to
benchmarks/results/index_check.json. Run it at different moments (and on different hosts);
for every pair of series it reports, per network, the raw ratio of the times and the error of
the prediction `seconds_then * index_then / index_now` against the time measured now: the
index helps where the second is smaller than the first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from machine import add_idle_option, end_series, normalised, start_series, timed_run  # benchmarks/machine.py

RESULTS = Path(__file__).parent / "results" / "index_check.json"


def whole_run(name: str) -> float:
    with tempfile.TemporaryDirectory() as out:
        command = [str(Path(sys.executable).with_name("classicnets")), "train", name, "--recipe", "fast"]
        return round(timed_run([*command, "--out", out, "--overwrite", "--quiet"]).seconds, 1)


def comparisons(series: list[dict]) -> list[dict]:
    """Every earlier series against every later one, per network both ran."""
    found = []
    for i, then in enumerate(series):
        for now in series[i + 1 :]:
            index_then = then["machine_before"]["index_gflops"]
            index_now = now["machine_before"]["index_gflops"]
            for name in sorted(set(then["seconds"]) & set(now["seconds"])):
                t_then, t_now = then["seconds"][name], now["seconds"][name]
                predicted = normalised(t_then, index_then, index_now)
                found.append(
                    {
                        "model": name,
                        "then": then["started"],
                        "now": now["started"],
                        "index_then": index_then,
                        "index_now": index_now,
                        "seconds_then": t_then,
                        "seconds_now": t_now,
                        "raw_error": round(t_then / t_now - 1, 3),
                        "predicted_now": round(predicted, 1),
                        "normalised_error": round(predicted / t_now - 1, 3),
                    }
                )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="lenet,densenet")
    add_idle_option(parser)
    args = parser.parse_args()
    document = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"series": []}
    series = start_series(args.busy_ok)
    series["seconds"] = {name: whole_run(name) for name in args.models.split(",")}
    document["series"].append(end_series(series))
    pairs = comparisons(document["series"])
    document.update(
        command="python benchmarks/index_check.py", updated=time.strftime("%Y-%m-%d %H:%M"), comparisons=pairs
    )
    if pairs:
        document["median_abs_error"] = {
            "raw": statistics.median(abs(p["raw_error"]) for p in pairs),
            "normalised": statistics.median(abs(p["normalised_error"]) for p in pairs),
        }
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps({"seconds": series["seconds"], "index": series["machine_before"]["index_gflops"]}))
    for p in pairs:
        print(
            f"{p['model']:9s} {p['then']} -> {p['now']}: {p['seconds_then']} s -> {p['seconds_now']} s "
            f"(raw {p['raw_error']:+.1%}); predicted {p['predicted_now']} s ({p['normalised_error']:+.1%})"
        )


if __name__ == "__main__":
    main()

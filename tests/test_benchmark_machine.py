"""The machine index every benchmark series records (benchmarks/machine.py): the probe measures
what it says, and a series cannot be written without it."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import machine  # benchmarks/machine.py, a script directory, not a package

from classicnets.training.device import cpu_has_bf16


def _reading(gflops: float) -> dict:
    return {"index_gflops": gflops, "cpu": "a CPU", "flags": ["avx2"]}


def test_the_probe_measures_this_machine() -> None:
    index = machine.machine_index(repeats=1)
    assert index["gemm_f32_gflops"] > 1 and index["conv3x3_f32_gflops"] > 1
    assert index["index_gflops"] == pytest.approx(
        math.sqrt(index["gemm_f32_gflops"] * index["conv3x3_f32_gflops"]), rel=0.01
    )
    assert (index["gemm_bf16_gflops"] is not None) == cpu_has_bf16()
    assert 0.05 < index["import_torch_s"] < 60
    assert set(index["flags"]) <= set(machine.FLAGS) and index["cpu"]


def test_a_series_carries_the_index_at_both_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([_reading(100.0), _reading(90.0)])
    monkeypatch.setattr(machine, "machine_index", lambda: next(readings))
    monkeypatch.setattr(machine, "load_average", lambda: 0.2)
    series = machine.end_series(machine.start_series(busy_ok=False))
    assert series["machine_before"]["index_gflops"] == 100.0
    assert series["machine_after"]["index_gflops"] == 90.0
    assert series["loadavg_before"] == 0.2 and series["loadavg_after"] == 0.2 and not series["busy"]


def test_a_busy_machine_is_refused_or_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "machine_index", lambda: _reading(1.0))
    monkeypatch.setattr(machine, "load_average", lambda: 1.7)
    with pytest.raises(SystemExit, match="load average is 1.70"):
        machine.start_series(busy_ok=False)
    assert machine.start_series(busy_ok=True)["busy"]


def test_a_time_is_carried_to_another_host_through_the_index() -> None:
    assert machine.normalised(120.0, index_then=300.0, index_now=150.0) == 240.0


def test_the_index_check_compares_every_earlier_series_with_every_later_one() -> None:
    import index_check  # benchmarks/index_check.py

    def series(started: str, index: float, seconds: dict) -> dict:
        return {"started": started, "machine_before": {"index_gflops": index}, "seconds": seconds}

    pairs = index_check.comparisons(
        [series("a", 300.0, {"lenet": 10.0, "nin": 50.0}), series("b", 150.0, {"lenet": 21.0})]
    )
    assert len(pairs) == 1 and pairs[0]["model"] == "lenet"  # nin ran once: nothing to compare
    assert pairs[0]["predicted_now"] == 20.0 and pairs[0]["normalised_error"] == round(20 / 21 - 1, 3)
    assert pairs[0]["raw_error"] == round(10 / 21 - 1, 3)

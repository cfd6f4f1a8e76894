"""The learning-rate range test: a suggestion inside the range where the loss falls, a
picture, and nothing else written."""

from __future__ import annotations

import json
import math

import pytest

import classicnets
from classicnets.cli.main import main
from classicnets.training.lr_find import lr_schedule, smooth, suggest


def _listing(path):
    return sorted(p.relative_to(path) for p in path.rglob("*"))


@pytest.mark.parametrize("name, recipe, steps", [("lenet", "fast", 150), ("resnet18", "fast", 100)])
def test_lr_find_suggests_a_rate_where_the_loss_falls(
    name, recipe, steps, tmp_path, capsys, monkeypatch, fashion
):
    monkeypatch.chdir(tmp_path)
    png = tmp_path / "found.png"
    argv = [
        "lr-find",
        name,
        "--recipe",
        recipe,
        "--steps",
        str(steps),
        "--out",
        str(png),
        "--json",
        "--quiet",
    ]
    if name == "resnet18":
        argv += ["--batch-size", "32"]
    assert main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    low, high = document["falling"]
    lrs, smoothed = document["lrs"], document["smoothed"]
    assert low < high and low <= document["suggestion"] <= high
    # The loss really falls over that range: its lowest point is its end, well below its start.
    i, j = lrs.index(low), lrs.index(high)
    assert smoothed[j] == min(smoothed[len(smoothed) // 10 :]) and smoothed[j] < smoothed[i]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _listing(tmp_path) == [png.relative_to(tmp_path)]  # no run directory, nothing else


@pytest.mark.parametrize("spike", [4, 30, 60, 100])
def test_the_suggestion_is_not_fooled_by_a_spike(spike):
    lrs = lr_schedule(1e-5, 10, 200)
    # A loss that falls between 1e-3 and 1e-1 and blows up after, with a spike of four steps far
    # steeper than anything else (Lightning issue 1767: early in the sweep, or anywhere).
    losses = [
        2.3
        - 1.5 / (1 + math.exp(-4 * (math.log10(lr) + 2)))
        + (3.0 if spike <= k < spike + 4 else 0.0)
        + (0.5 * (math.log10(lr) + 0.5) ** 2 if lr > 0.3 else 0.0)
        for k, lr in enumerate(lrs)
    ]
    suggestion, (high, low) = suggest(lrs, smooth(losses))
    assert 3e-3 < suggestion < 3e-2  # the steepest fall of the sigmoid is at 1e-2
    assert lrs[high] < suggestion < lrs[low] < 1


def test_lr_find_from_python_writes_only_its_plot(tmp_path, monkeypatch, fashion):
    monkeypatch.chdir(tmp_path)
    found = classicnets.lr_find("mlp", steps=60, plot=tmp_path / "mlp.png", limit=6000)
    assert (
        found.falling[0] <= found.suggestion <= found.falling[1] and len(found.lrs) == len(found.losses) <= 60
    )
    assert _listing(tmp_path) == [(tmp_path / "mlp.png").relative_to(tmp_path)]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--start-lr", "1", "--end-lr", "0.5"], "expected 0 < start < end"),
        (["--steps", "5"], "at least 20 steps"),
    ],
)
def test_bad_sweeps_are_one_line(argv, message, tmp_path, capsys):
    assert main(["lr-find", "mlp", "--out", str(tmp_path / "x.png"), "--quiet", *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()

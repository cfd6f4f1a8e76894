"""`evaluate` reproduces a run's own test accuracy: it classifies as the run did (its precision,
its test-time flips), read from the checkpoint."""

from __future__ import annotations

import json

import pytest

from classicnets.cli.main import main
from classicnets.training.checkpoint import read_checkpoint
from classicnets.training.device import cpu_has_bf16
from classicnets.training.rundir import read_metrics

SMALL = ["lenet", "--recipe", "fast", "--epochs", "1", "--limit", "3000"]


@pytest.mark.parametrize("flags, precision", [(["--precision", "bf16"], "bf16"), (["--flip-tta"], "fp32"),
                                              (["--precision", "bf16", "--flip-tta"], "bf16")])
def test_evaluate_prints_exactly_the_runs_last_test_accuracy(flags, precision, tmp_path, capsys, fashion):
    if precision == "bf16" and not cpu_has_bf16():
        pytest.skip("this CPU has no native bf16 (AVX512-BF16 or AMX): a run asking for bf16 trains in float32 here")
    out = tmp_path / "run"
    assert main(["train", *SMALL, *flags, "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    info = read_checkpoint(out / "model.safetensors").info
    assert info.inference.precision == precision and info.inference.flip == ("--flip-tta" in flags)
    test_acc = read_metrics(out)[-1]["test_acc"]
    assert main(["evaluate", str(out), "--limit", "3000", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == test_acc
    assert main(["evaluate", str(out), "--limit", "3000"]) == 0
    assert f"test accuracy {test_acc:.4f}" in capsys.readouterr().out

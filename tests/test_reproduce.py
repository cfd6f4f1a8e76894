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


@pytest.fixture(scope="module")
def trained(tmp_path_factory, fashion):
    """Runs of SMALL with extra flags, each trained once for the module."""
    runs = {}

    def get(*flags: str):
        if flags not in runs:
            out = tmp_path_factory.mktemp("run") / "run"
            assert main(["train", *SMALL, *flags, "--out", str(out), "--quiet"]) == 0
            runs[flags] = out
        return runs[flags]

    return get


@pytest.mark.parametrize(
    "flags, precision",
    [
        (["--precision", "bf16"], "bf16"),
        (["--flip-tta"], "fp32"),
        (["--precision", "bf16", "--flip-tta"], "bf16"),
    ],
)
def test_evaluate_prints_exactly_the_runs_last_test_accuracy(flags, precision, trained, capsys):
    if precision == "bf16" and not cpu_has_bf16():
        pytest.skip(
            "this CPU has no native bf16 (AVX512-BF16 or AMX): a run asking for bf16 trains in float32 here"
        )
    out = trained(*flags)
    capsys.readouterr()
    info = read_checkpoint(out / "model.safetensors").info
    assert info.inference.precision == precision and info.inference.flip == ("--flip-tta" in flags)
    test_acc = read_metrics(out)[-1]["test_acc"]
    assert main(["evaluate", str(out), "--limit", "3000", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == test_acc
    assert main(["evaluate", str(out), "--limit", "3000"]) == 0
    assert f"test accuracy {test_acc:.4f}" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["npz", "onnx"])
def test_an_export_of_a_flip_run_classifies_with_flips(fmt, trained, tmp_path, capsys, fashion):
    from classicnets.numpy_runtime import load_exported

    out = trained("--flip-tta")
    capsys.readouterr()
    path = tmp_path / f"m.{fmt}"
    assert main(["export", str(out), "--format", fmt, "--out", str(path), "--check", "64", "--json"]) == 0
    check = json.loads(capsys.readouterr().out)["check"]
    assert (
        check["same_predictions"] and check["max_abs_diff_probability"] < 1e-4
    )  # against PyTorch, flips and all
    exported = load_exported(path)
    assert exported.meta["flip_tta"] is True
    images, labels = fashion.test.images[:3000].numpy(), fashion.test.labels[:3000].numpy()
    predicted = exported.probabilities(images).argmax(1)
    # float32 here as in training: the run's own accuracy, give or take a borderline picture or two.
    assert abs(float((predicted == labels).mean()) - read_metrics(out)[-1]["test_acc"]) <= 2 / 3000

"""Training: every network trains a few batches on the CPU, a resumed run ends exactly where an
uninterrupted one does, a diverging loss stops the run, checkpoints round-trip."""

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from classicnets.analysis.predict import probabilities
from classicnets.errors import ClassicnetsError
from classicnets.fileio import stale_temporaries
from classicnets.inputs import FASHION_MNIST
from classicnets.models import list_models
from classicnets.trainer import resume, run
from classicnets.training import TrainConfig, TrainingDiverged, read_checkpoint, recipe_config
from classicnets.training.checkpoint import CheckpointError, load_run
from classicnets.training.measure import accuracy
from classicnets.training.rundir import RUN_FILES
from classicnets.training.setup import make_batches

TIME_FIELDS = {"examples_per_sec", "seconds", "train_seconds", "elapsed"}


def quiet(config, out, **kwargs):
    return run(config, out=out, show_progress=False, log=lambda line: None, **kwargs)


@pytest.mark.parametrize("name", list_models())
def test_every_network_trains_a_few_batches_with_its_book_recipe(name, tmp_path):
    """Also the book's size of test_input_sizes' every-size check: a trained run there predicts."""
    overrides = {"epochs": 3} if name == "tiny_cnn" else {"epochs": 1, "limit": 8, "batch_size": 4}
    result = quiet(recipe_config(name, "book", **overrides), tmp_path / name)
    row = result.metrics[-1]
    assert row["epoch"] == result.config.epochs and math.isfinite(row["train_loss"])
    assert 0.0 <= row["test_acc"] <= 1.0 and row["examples_per_sec"] > 0
    for file in ("config.json", "metrics.jsonl", "curves.png", "last.safetensors", "model.safetensors"):
        assert (result.run_dir / file).is_file(), file
    assert not stale_temporaries(result.run_dir, RUN_FILES)  # no temporaries left
    assert {p.name for p in result.run_dir.iterdir() if p.name.startswith(".")} == {".lock"}
    if name != "tiny_cnn":
        loaded = load_run(result.run_dir)
        side = result.config.input_spec().resize
        assert loaded.input.shape == (1, side, side)
        probs = probabilities(loaded, torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8))
        assert probs.shape == (1, 10) and torch.allclose(probs.sum(1), torch.ones(1))


@pytest.mark.parametrize("name", list_models())
def test_fast_recipes_train_a_batch(name, tmp_path):
    overrides = {"epochs": 2} if name == "tiny_cnn" else {"epochs": 1, "limit": 8, "batch_size": 4}
    result = quiet(recipe_config(name, "fast", **overrides), tmp_path / name)
    assert math.isfinite(result.metrics[-1]["train_loss"])


def test_he_init_keeps_nin_signal_where_the_default_loses_it(fashion):
    """NiN's fast recipe sat at chance under PyTorch's default init: its first conv's gradient
    is thousands of times smaller than under He's init (benchmarks/nin_init.py)."""
    from classicnets.training.setup import build_training

    norms = {}
    for init in ("default", "kaiming"):
        parts = build_training(
            recipe_config("nin", "fast", init=init, limit=32, batch_size=32),
            torch.device("cpu"),
            show_progress=False,
        )
        x, y = next(parts.train_batches.iter_epoch(0))
        parts.loss_fn(parts.model(x), y).backward()
        norms[init] = float(parts.model.features[0][0].weight.grad.norm())
    assert norms["kaiming"] > 1000 * norms["default"]
    assert recipe_config("nin", "fast").init == "kaiming"


def test_fast_lenet_learns_on_real_data(tmp_path):
    # (The book's sigmoid LeNet stays at chance for its whole first epoch, as in the book, so a
    # quick learning check uses the fast recipe.)
    result = quiet(recipe_config("lenet", "fast", epochs=2, limit=12000), tmp_path / "lenet")
    assert result.metrics[-1]["test_acc"] > 0.75
    assert result.metrics[-1]["train_loss"] < result.metrics[0]["train_loss"]


def _same_run(a, b):
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIME_FIELDS} for r in rows]  # noqa: E731
    assert strip(a.metrics) == strip(b.metrics)


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("mlp", {"recipe": "book", "limit": 2000}),  # Adam, dropout
        (
            "lenet_bn",
            {"recipe": "fast", "limit": 1000, "augment": True},
        ),  # BN, Nesterov, one-cycle, crops, flips
    ],
)
def test_resume_after_interrupt_gives_identical_weights_and_metrics(name, overrides, tmp_path):
    recipe = overrides.pop("recipe")
    config = recipe_config(name, recipe, epochs=3, **overrides)
    whole = quiet(config, tmp_path / "whole")
    interrupted = quiet(config, tmp_path / "cut", stop_after_epoch=1)
    assert len(interrupted.metrics) == 1 and not (tmp_path / "cut" / "model.safetensors").exists()
    resumed = resume(tmp_path / "cut", show_progress=False, log=lambda line: None)
    _same_run(whole, resumed)
    lines = (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]


def test_diverging_loss_stops_with_epoch_checkpoint_and_lr_hint(tmp_path):
    config = recipe_config("mlp", "book", optimizer="sgd", lr=1e5, epochs=3, limit=2000)
    with pytest.raises(
        TrainingDiverged,
        match=r"(became (nan|inf)|over 10000 times what guessing gives .*) in "
        r"epoch 1 .* try --lr 10000",
    ):
        quiet(config, tmp_path / "nan")
    assert not (tmp_path / "nan" / "model.safetensors").exists()


def test_checkpoint_round_trip_gives_the_same_predictions(tmp_path):
    result = quiet(recipe_config("lenet_bn", "book", epochs=1, limit=1000), tmp_path / "run")
    loaded = load_run(result.run_dir)
    for key, value in result.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)
    test_batches = make_batches(result.config, torch.device("cpu"), show_progress=False).test
    assert accuracy(loaded.model, test_batches, torch.device("cpu")) == result.metrics[-1]["test_acc"]
    meta = read_checkpoint(result.run_dir / "model.safetensors").meta
    assert meta["model"] == "lenet_bn" and meta["recipe"] == "book" and meta["epoch"] == 1


def test_bad_checkpoints_are_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\xff" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors checkpoint"):
        load_run(garbage)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="no classicnets metadata"):
        load_run(foreign)
    forged = tmp_path / "forged.safetensors"
    meta = {"format": 1, "model": "os.system", "model_args": {}}
    save_file({"model.w": torch.zeros(2)}, str(forged), metadata={"classicnets": json.dumps(meta)})
    with pytest.raises(
        CheckpointError, match="names the network 'os.system', which is not one of classicnets'"
    ):
        load_run(forged)
    meta["model"] = "lenet"
    save_file({"model.w": torch.zeros(2)}, str(forged), metadata={"classicnets": json.dumps(meta)})
    with pytest.raises(
        CheckpointError, match="the tensor model.features.0.weight of lenet is missing from the file"
    ):
        load_run(forged)
    with pytest.raises(CheckpointError, match="holds no model.safetensors"):
        load_run(tmp_path)


def test_resume_needs_a_run_directory(tmp_path):
    with pytest.raises(ClassicnetsError, match="not a run directory"):
        resume(tmp_path)


def test_gpu_path_in_its_cpu_form_channels_last_and_compile(tmp_path):
    from classicnets.training.device import compiler_missing

    if missing := compiler_missing(torch.device("cpu")):
        pytest.skip(missing)
    config = recipe_config("lenet", "fast", epochs=1, limit=512, batch_size=128, compile=True)
    config.channels_last = True
    result = quiet(config, tmp_path / "compiled")
    assert math.isfinite(result.metrics[-1]["train_loss"])
    assert result.model.features[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_compile_without_a_compiler_is_one_line_before_anything_is_written(tmp_path):
    """A machine without g++ (PATH holding only this interpreter's directory, no $CXX): the
    command says what is missing and how to go on, exits 1 and leaves no run directory."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    env.pop("CXX", None)
    out = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "classicnets",
            "train",
            "lenet",
            "--recipe",
            "fast",
            "--epochs",
            "1",
            "--limit",
            "256",
            "--compile",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--compile on cpu needs a C++ compiler" in lines[0] and "g++" in lines[0], (
        done.stderr
    )
    assert "without --compile" in lines[0]
    assert not out.exists()


def test_an_existing_run_is_not_overwritten_by_accident(tmp_path):
    config = recipe_config("mlp", "book", epochs=1, limit=500)
    quiet(config, tmp_path / "run")
    with pytest.raises(ClassicnetsError, match="already holds a run: continue it with --resume"):
        quiet(config, tmp_path / "run")
    assert quiet(config, tmp_path / "run", overwrite=True).metrics[-1]["epoch"] == 1


def test_cpu_channels_last_is_on_exactly_where_it_was_measured_faster():
    """The registry's per-network CPU layout follows benchmarks/results/channels_last.json."""
    from classicnets.models import get_model_config

    measured = json.loads((Path(__file__).parents[1] / "benchmarks/results/channels_last.json").read_text())
    assert set(measured["networks"]) == set(list_models()) - {"mlp", "tiny_cnn"}
    for name, row in measured["networks"].items():
        assert get_model_config(name).cpu_channels_last == (row["speedup"] > 1.0), (name, row["speedup"])


def test_cpu_channels_last_reaches_the_weights_and_nchw_stays_nchw(tmp_path):
    dense = quiet(recipe_config("densenet", "fast", epochs=1, limit=16, batch_size=8), tmp_path / "d")
    conv = dense.model.features.DenseBlock_0.net[0][2]  # Conv2d(64, 32, 3): a layout-sensitive weight
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    lenet = quiet(recipe_config("lenet", "book", epochs=1, limit=16, batch_size=8), tmp_path / "l")
    assert lenet.model.features[3].weight.is_contiguous()  # Conv2d(6, 16, 5) stays NCHW


def test_first_reaching_is_the_first_epoch_at_or_above_the_threshold():
    from classicnets.training.rundir import first_reaching

    curve = [
        {"test_acc": acc, "wall_seconds": s, "elapsed": s - 1}
        for acc, s in ((0.85, 10.0), (0.90, 20.0), (0.899, 30.0), (0.93, 40.0))
    ]
    assert first_reaching(curve, 0.90) == 20.0  # reached exactly, and a later dip does not matter
    assert first_reaching(curve, 0.92) == 40.0
    assert first_reaching(curve, 0.50) == 10.0
    assert first_reaching(curve, 0.94) is None
    assert first_reaching(curve, 0.92, clock="elapsed") == 39.0
    assert first_reaching([], 0.5) is None


def test_speedrun_reports_wall_time_accuracy_and_time_to_thresholds(tmp_path, capsys, fashion):
    from classicnets.cli.main import main
    from classicnets.speedrun import speedrun

    result = speedrun("lenet_bn", out=tmp_path / "s", epochs=2, limit=3000, log=lambda s: None)
    assert [c["epoch"] for c in result.curve] == [1, 2]
    assert 0 < result.curve[0]["wall_seconds"] < result.curve[1]["wall_seconds"] <= result.seconds
    assert set(result.time_to) == {"0.90", "0.92", "0.93", "0.94"}
    for threshold, seconds in result.time_to.items():  # the end of the first epoch at or above it, or None
        reached = [c["wall_seconds"] for c in result.curve if c["test_acc"] >= float(threshold)]
        assert seconds == (reached[0] if reached else None) and (seconds is None or seconds in reached)
    assert (
        main(["speedrun", "mlp", "--epochs", "1", "--out", str(tmp_path / "cli"), "--json", "--quiet"]) == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"model", "recipe", "test_acc", "seconds", "device"}
    assert (document["model"], document["recipe"]) == ("mlp", "fast")
    assert 0.5 < document["test_acc"] <= 1 and document["seconds"] > 0


def test_device_auto_prefers_cuda_then_apples_gpu_then_the_cpu(monkeypatch):
    from classicnets.training import device as devices

    monkeypatch.setattr(devices.torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(devices, "mps_available", lambda: False)
    assert devices.resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ClassicnetsError, match="device mps asked for, but this PyTorch has no usable MPS"):
        devices.resolve_device("mps")
    monkeypatch.setattr(devices, "mps_available", lambda: True)
    assert devices.resolve_device("auto") == torch.device("mps") == devices.resolve_device("mps")
    monkeypatch.setattr(devices.torch.cuda, "device_count", lambda: 1)
    assert devices.resolve_device("auto") == torch.device("cuda:0")
    with pytest.raises(ClassicnetsError, match="unknown device 'tpu7'"):
        devices.resolve_device("tpu7")
    import contextlib

    assert isinstance(devices.autocast(torch.device("mps")), contextlib.nullcontext)  # float32 on MPS


def test_the_command_line_turns_on_pytorchs_mps_fallback_before_torch_loads(monkeypatch, tmp_path, capsys):
    import os

    from classicnets.cli.main import main

    monkeypatch.delenv("PYTORCH_ENABLE_MPS_FALLBACK", raising=False)
    assert main(["show", str(tmp_path)]) == 1  # any command; this one fails fast
    assert os.environ["PYTORCH_ENABLE_MPS_FALLBACK"] == "1"


def test_precision_bf16_only_where_the_hardware_computes_it(monkeypatch):
    from classicnets.training import device as devices

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert (
        devices.resolve_precision(cpu, "auto") == "fp32" and devices.resolve_precision(cuda, "auto") == "bf16"
    )
    assert (
        devices.resolve_precision(cuda, "fp32") == "fp32"
        and devices.resolve_precision(torch.device("mps"), "bf16") == "fp32"
    )
    for native in (True, False):
        monkeypatch.setattr(devices, "cpu_has_bf16", lambda: native)
        assert devices.resolve_precision(cpu, "bf16") == ("bf16" if native else "fp32")
    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: True)
    with devices.autocast(cpu, "bf16"):  # a real CPU autocast: convolutions come out in bf16
        assert nn.Conv2d(1, 2, 3)(torch.randn(1, 1, 5, 5)).dtype == torch.bfloat16
    with devices.autocast(cpu, "auto"):
        assert nn.Conv2d(1, 2, 3)(torch.randn(1, 1, 5, 5)).dtype == torch.float32
    with pytest.raises(ClassicnetsError, match="--precision 'fp16': expected one of auto, fp32, bf16"):
        TrainConfig(precision="fp16").validate()


class _LeftHalf(nn.Module):
    """Logits from the left half of the image only: its mirror image sees the right half."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = x[..., : x.shape[-1] // 2].mean(dim=(1, 2, 3))
        return torch.stack([2 * left, torch.ones_like(left)], dim=1)


def test_flip_tta_averages_the_softmax_of_each_image_and_its_mirror():
    from classicnets.training.inference import Inference

    x = torch.zeros(3, 1, 4, 4)
    x[0, ..., :2], x[1, ..., 2:], x[2, ..., :2], x[2, ..., 2:] = 2.0, 0.25, 0.75, -2.0
    model, cpu = _LeftHalf(), torch.device("cpu")
    plain = Inference().scores(model, x, cpu)
    assert torch.equal(plain, model(x))  # no flips: the outputs as they are
    flipped = Inference(flip=True).scores(model, x, cpu)
    expected = (model(x).softmax(1) + model(x.flip(-1)).softmax(1)) / 2
    assert torch.allclose(flipped, expected) and torch.allclose(flipped.sum(1), torch.ones(3))
    # image 2: class 0 by a little (logits 1.5 vs 1), its mirror image class 1 by a lot (-4 vs 1)
    assert plain.argmax(1).tolist() == [0, 1, 0] and flipped.argmax(1).tolist() == [0, 1, 1]
    with pytest.raises(ClassicnetsError, match="--flip-tta True: expected False: toy4x4 has no images"):
        TrainConfig(model="tiny_cnn", dataset="toy4x4", flip_tta=True).validate()


def test_the_speedrun_recipe_is_vgg11s_and_trains_evaluates_and_reports_as_declared(tmp_path, fashion):
    from classicnets.analysis.evaluation import evaluate_run
    from classicnets.speedrun import speedrun
    from classicnets.training.checkpoint import load_run
    from classicnets.training.device import resolve_precision
    from classicnets.training.recipes import SPEEDRUN_MODEL

    config = recipe_config(SPEEDRUN_MODEL, "speedrun")
    assert (config.flip_tta, config.augment, config.crop_padding, config.precision) == (True, True, 0, "bf16")
    assert config.model_args == {"blocks": 3, "width_ratio": 2, "batch_norm": True, "hidden": 0}
    with pytest.raises(ClassicnetsError, match="the speedrun recipe is vgg11's alone"):
        recipe_config("lenet", "speedrun")
    result = speedrun(out=tmp_path / "s", epochs=1, limit=2000, log=lambda s: None)
    assert (result.model, result.recipe, result.epochs) == (SPEEDRUN_MODEL, "speedrun", 1)
    saved = json.loads((tmp_path / "s" / "config.json").read_text())
    assert saved["environment"]["precision"] == resolve_precision(torch.device("cpu"), "bf16")
    run_ = load_run(tmp_path / "s")
    assert run_.inference().flip
    # `evaluate` classifies as training did (with flips): the same accuracy on the same 2,000 images
    assert evaluate_run(run_, limit=2000).accuracy == pytest.approx(result.test_acc, abs=1e-3)


def test_train_takes_precision_layout_and_flips_from_the_command_line(tmp_path, fashion):
    from classicnets.cli.main import main

    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "lenet",
                "--recipe",
                "fast",
                "--epochs",
                "1",
                "--limit",
                "512",
                "--precision",
                "fp32",
                "--channels-last",
                "--flip-tta",
                "--augment",
                "--crop-padding",
                "3",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    saved = json.loads((out / "config.json").read_text())
    assert (
        saved["config"]["precision"],
        saved["config"]["channels_last"],
        saved["config"]["flip_tta"],
        saved["config"]["crop_padding"],
    ) == ("fp32", True, True, 3)
    assert saved["environment"]["precision"] == "fp32" and load_run(out).inference().flip
    assert main(["train", "lenet", "--crop-padding", "-1", "--out", str(tmp_path / "bad")]) == 1
    with pytest.raises(SystemExit) as usage:  # argparse's one-line usage error
        main(["train", "lenet", "--precision", "fp16", "--out", str(tmp_path / "bad")])
    assert usage.value.code == 2 and not (tmp_path / "bad").exists()


def test_the_speedrun_recipe_is_the_one_measured_and_the_measurement_meets_the_target():
    """The recipe in the code is the one benchmarks/results/speedrun.json timed (change one, re-run
    the other), and that series reached 93% in under 180 s, whole process, on every seed."""
    from classicnets.training.recipes import SPEEDRUN

    measured = json.loads((Path(__file__).parents[1] / "benchmarks/results/speedrun.json").read_text())
    # The recipe normalises by the data set's own statistics (None); on Fashion-MNIST, what was timed.
    own = {"mean": FASHION_MNIST.mean[0], "std": FASHION_MNIST.std[0]}
    assert measured["recipe"] == json.loads(
        json.dumps({**SPEEDRUN, **{k: own[k] for k in own if SPEEDRUN[k] is None}})
    )
    runs = measured["entries"]["speedrun"]["runs"]
    assert len(runs) >= 3 and len({r["seed"] for r in runs}) == len(runs)
    assert all(r["test_acc"] >= 0.93 and r["process_seconds"] < 180 for r in runs)
    assert not measured["series"]["busy"] and measured["series"]["loadavg_before"] < 1.0

"""Nothing lost when something fails: kill -9 at any moment, Ctrl-C, SIGTERM, two writers, a
full disk, damaged files; every failure one line and a non-zero exit.

The kill and signal tests run the real command in a subprocess, as a user's shell would."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from classicnets.cli.main import main
from classicnets.fileio import stale_temporaries
from classicnets.trainer import resume, run
from classicnets.training import TrainingDiverged, read_checkpoint, recipe_config
from classicnets.training.checkpoint import CheckpointError, load_run
from classicnets.training.rundir import RUN_FILES, read_metrics
from classicnets.training.stopping import LossWatch

# LeNet-BN's fast recipe with crops and flips: BatchNorm statistics, Nesterov momentum, a
# one-cycle schedule and augmentation randomness all have to come back exactly. Almost a
# second per epoch here, so kills land mid-epoch.
TRAIN = [
    "train",
    "lenet_bn",
    "--recipe",
    "fast",
    "--augment",
    "--epochs",
    "3",
    "--limit",
    "6000",
    "--batch-size",
    "64",
    "--quiet",
]
DETERMINISTIC = ("epoch", "train_loss", "train_acc", "test_acc", "lr", "train_examples")


def cli(*argv: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "classicnets", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until `path` exists while `process` runs."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def outcome(run_dir: Path) -> tuple[dict[str, torch.Tensor], list[dict]]:
    tensors = read_checkpoint(run_dir / "model.safetensors").prefixed("model.")
    rows = [{k: row[k] for k in DETERMINISTIC} for row in read_metrics(run_dir)]
    return tensors, rows


def assert_same(a: Path, b: Path) -> None:
    (wa, ra), (wb, rb) = outcome(a), outcome(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert ra == rb and [r["epoch"] for r in ra] == [1, 2, 3]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, fashion) -> Path:
    out = tmp_path_factory.mktemp("whole") / "run"
    code, _, err = finish(cli(*TRAIN, "--out", str(out)))
    assert code == 0, err
    return out


def saved_by(process: subprocess.Popen, path: Path, previous: int) -> int:
    """Wait until `process` has written a checkpoint newer than `previous` (mtime in ns)."""
    deadline = time.monotonic() + 120
    while not path.exists() or path.stat().st_mtime_ns == previous:
        if process.poll() is not None:
            return previous
        assert time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.02)
    return path.stat().st_mtime_ns


def test_kill_9_at_random_moments_then_resume_ends_exactly_as_an_uninterrupted_run(uninterrupted, tmp_path):
    out, last = tmp_path / "run", tmp_path / "run" / "last.safetensors"
    rng = random.Random(11)
    process = cli(*TRAIN, "--out", str(out), "--save-every", "0.05")
    mtime, mid_epoch = 0, 0
    for _ in range(3):
        mtime = saved_by(process, last, mtime)  # training is under way in this process
        time.sleep(rng.uniform(0.0, 0.5))
        process.kill()
        process.wait()
        mid_epoch += read_checkpoint(last).meta["batch"] > 0
        process = cli("train", "--resume", str(out), "--quiet")
    code, _, err = finish(process)
    assert code == 0, err
    assert mid_epoch >= 1
    assert_same(out, uninterrupted)
    assert not stale_temporaries(out, RUN_FILES)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_the_current_step_exits_130_and_resume_completes_exactly(sig, uninterrupted, tmp_path):
    out = tmp_path / "run"
    process = cli(*TRAIN, "--out", str(out), "--save-every", "1000")  # only epoch ends and the signal save
    wait_for(out / "config.json", process)
    time.sleep(0.5)  # into the first epoch (start-up is over once config.json exists)
    process.send_signal(sig)
    code, stdout, stderr = finish(process)
    assert code == 130, stderr
    assert f"{sig.name}: saved a checkpoint" in stdout and f"classicnets train --resume {out}" in stdout
    assert "Traceback" not in stderr
    meta = read_checkpoint(out / "last.safetensors").meta
    assert meta["batch"] > 0  # mid-epoch: the step the signal arrived at
    code, _, stderr = finish(cli("train", "--resume", str(out), "--quiet"))
    assert code == 0, stderr
    assert_same(out, uninterrupted)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_up_exits_130_quietly_and_writes_nothing(sig, tmp_path):
    process = cli("train", "lenet", "--out", str(tmp_path / "run"))
    time.sleep(0.5)
    process.send_signal(sig)
    code, stdout, stderr = finish(process)
    assert code == 130 and stderr == "" and stdout == ""
    assert not (tmp_path / "run").exists()


def test_a_second_writer_is_refused_while_the_first_runs_on(tmp_path, capsys):
    out = tmp_path / "run"
    first = cli(*TRAIN, "--out", str(out))
    wait_for(out / "config.json", first)
    for argv in (
        ["train", "mlp", "--epochs", "1", "--limit", "500", "--out", str(out), "--overwrite"],
        ["train", "--resume", str(out)],
        ["speedrun", "mlp", "--epochs", "1", "--out", str(out), "--overwrite"],
    ):
        assert main([*argv, "--quiet"]) == 1
        err = capsys.readouterr().err
        assert f"is in use by another classicnets process (pid {first.pid})" in err, err
    code, _, err = finish(first)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["model"] == read_checkpoint(out / "model.safetensors").meta["model"] == "lenet_bn"
    assert len(read_metrics(out)) == 3


def quiet(config, out, **kwargs):
    return run(config, out=out, show_progress=False, log=lambda line: None, **kwargs)


SMALL = {"epochs": 3, "limit": 1500}


def test_rows_written_after_the_checkpoint_or_torn_by_a_kill_are_dropped_on_resume(tmp_path):
    config = recipe_config("mlp", "book", **SMALL)
    whole = quiet(config, tmp_path / "whole")
    for case, tail in (
        ("extra", json.dumps({**whole.metrics[1], "test_acc": 0.0}) + "\n"),
        ("torn", '{"epoch": 2, "tr'),
    ):
        out = tmp_path / case
        quiet(config, out, stop_after_epoch=1)
        with open(out / "metrics.jsonl", "a") as handle:
            handle.write(tail)
        (out / ".last.safetensors.abc123.tmp").write_bytes(b"half a checkpoint")
        resumed = resume(out, show_progress=False, log=lambda line: None)
        assert [{k: r[k] for k in DETERMINISTIC} for r in resumed.metrics] == [
            {k: r[k] for k in DETERMINISTIC} for r in whole.metrics
        ]
        assert len((out / "metrics.jsonl").read_text().splitlines()) == 3
        assert not stale_temporaries(out, RUN_FILES)


def test_a_run_stopped_before_its_first_checkpoint_can_be_started_or_resumed(tmp_path, capsys):
    out = tmp_path / "run"
    quiet(recipe_config("mlp", "book", epochs=1, limit=300), out)
    for name in ("last.safetensors", "model.safetensors", "metrics.jsonl"):
        (out / name).unlink()  # what a kill before the first checkpoint leaves: config.json alone
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    assert "no checkpoint yet: starting it from the beginning" in capsys.readouterr().out
    (out / "last.safetensors").unlink()
    (out / "model.safetensors").unlink()
    assert main(["train", "mlp", "--epochs", "1", "--limit", "300", "--out", str(out), "--quiet"]) == 0


def test_a_failed_start_leaves_no_directory_behind(tmp_path):
    config = recipe_config("mlp", "book", optimizer="sgd", lr=1e5, epochs=3, limit=2000)
    with pytest.raises(TrainingDiverged, match="no checkpoint was written before it"):
        quiet(config, tmp_path / "nan")
    assert not (tmp_path / "nan").exists()


def test_a_loss_that_grows_huge_but_stays_finite_stops_the_run(tmp_path, monkeypatch):
    from classicnets.training import loop

    real_step = loop.train_step

    def exploding(parts, x, y, step):
        out, loss, lr = real_step(parts, x, y, step)
        return out, loss * 10.0 ** min(step // 10, 21), lr  # 2.3 ... 2.3e21: finite all the way

    monkeypatch.setattr(loop, "train_step", exploding)
    with pytest.raises(TrainingDiverged, match=r"over 10000 times what guessing gives .* try --lr"):
        quiet(recipe_config("mlp", "book", epochs=5, limit=20000), tmp_path / "run")


def test_loss_watch_needs_a_sustained_stretch_far_above_chance_or_one_hopeless_check():
    watch = LossWatch.for_classes(10)  # chance: ln 10 = 2.3
    sums = [0.0]

    def feed(mean: float, n: int = 100) -> str | None:
        sums.append(sums[-1] + mean * n)
        return watch.check(torch.tensor(sums[-1]), 100 * (len(sums) - 1))

    assert feed(2.3) is None
    assert feed(500.0) is None and feed(1.0) is None  # one spike is not divergence
    assert feed(1000.0) is None and feed(1000.0) is None
    assert "stayed there for 3 checks" in feed(1000.0)
    assert "became inf" in LossWatch().check(torch.tensor(float("inf")), 1)
    restored = LossWatch.from_state(watch.state(), LossWatch.for_classes(10))
    assert restored.strikes == 0  # a run that diverged is never resumed, so 3 strikes reads back as none
    hopeless = LossWatch.for_classes(10)
    assert "over 10000 times what guessing gives" in hopeless.check(
        torch.tensor(1.3e31 * 100), 100
    )  # lr 1e30's first check
    assert LossWatch.from_state({"strikes": "x", "reference": None}, LossWatch()).strikes == 0


def test_a_full_disk_is_one_line_and_the_previous_checkpoint_survives(tmp_path, capsys, monkeypatch):
    from classicnets import fileio

    out = tmp_path / "run"
    quiet(recipe_config("mlp", "book", **SMALL), out, stop_after_epoch=1)
    before = (out / "last.safetensors").read_bytes()

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fileio.os, "fsync", full)
    monkeypatch.setattr("classicnets.training.rundir.os.fsync", full)
    assert main(["train", "--resume", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("classicnets: error: cannot write ") and "No space left on device" in err
    assert len(err.strip().splitlines()) == 1
    assert (out / "last.safetensors").read_bytes() == before and not stale_temporaries(out, RUN_FILES)
    monkeypatch.undo()
    assert main(["train", "--resume", str(out), "--quiet"]) == 0  # space again: the run goes on
    assert [r["epoch"] for r in read_metrics(out)] == [1, 2, 3]


def test_evaluate_on_a_read_only_run_prints_the_accuracy_then_one_line(trained_mlp_dir, capsys, monkeypatch):
    from classicnets import fileio

    def read_only(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(fileio.tempfile, "mkstemp", read_only)
    assert main(["evaluate", str(trained_mlp_dir), "--limit", "200"]) == 1
    out, err = capsys.readouterr()
    assert "test accuracy" in out
    assert (
        err.strip()
        == f"classicnets: error: cannot write {trained_mlp_dir / 'confusion.png'}: Read-only file system"
    )


def test_flipped_bytes_in_a_checkpoint_are_detected(trained_mlp_dir, tmp_path, capsys):
    damaged = tmp_path / "model.safetensors"
    data = bytearray((trained_mlp_dir / "model.safetensors").read_bytes())
    header = int.from_bytes(data[:8], "little")
    data[8 + header + 1000] ^= 0x10  # one bit of one weight
    damaged.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="is damaged: its contents do not match the checksum"):
        load_run(damaged)
    assert main(["evaluate", str(damaged), "--limit", "100"]) == 1
    assert "is damaged" in capsys.readouterr().err


def test_resuming_with_another_networks_checkpoint_is_one_line(tmp_path, capsys):
    quiet(recipe_config("mlp", "book", epochs=2, limit=300), tmp_path / "mlp", stop_after_epoch=1)
    quiet(recipe_config("lenet", "book", epochs=2, limit=300), tmp_path / "lenet", stop_after_epoch=1)
    (tmp_path / "lenet" / "last.safetensors").write_bytes(
        (tmp_path / "mlp" / "last.safetensors").read_bytes()
    )
    assert main(["train", "--resume", str(tmp_path / "lenet"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "holds mlp weights but" in err and "trains lenet" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "config_text, message",
    [
        ("{not json", "config.json is damaged"),
        ('{"config": {"model": "lenet", "epochs": "ten"}}', "--epochs 'ten': expected a value of type int"),
        ('{"config": {"model": "lenet", "lr": 1e999}}', "expected a finite number"),
        ('["a list"]', "config.json is damaged"),
    ],
)
def test_a_damaged_config_json_is_one_line_for_resume_and_show(tmp_path, capsys, config_text, message):
    out = tmp_path / "run"
    quiet(recipe_config("mlp", "book", epochs=1, limit=300), out)
    (out / "config.json").write_text(config_text)
    for argv in (["train", "--resume", str(out)], ["show", str(out)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    "row, message",
    [
        ({"epoch": 1}, "it lacks train_loss"),
        (
            {
                "epoch": 1,
                "train_loss": "x",
                "train_acc": 0,
                "test_acc": 0,
                "examples_per_sec": 1,
                "seconds": 1,
            },
            "train_loss is 'x', not a number",
        ),
        ({"epoch": 3}, "epoch 3 where epoch 1 was expected"),
    ],
)
def test_damaged_metrics_rows_are_one_line_for_show(tmp_path, capsys, row, message):
    out = tmp_path / "run"
    quiet(recipe_config("mlp", "book", epochs=1, limit=300), out)
    (out / "metrics.jsonl").write_text(json.dumps(row) + "\n")
    assert main(["show", str(out)]) == 1
    err = capsys.readouterr().err
    assert message in err and "metrics.jsonl, line 1" in err


def test_out_naming_a_file_is_one_line_and_the_file_is_untouched(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    for argv in (["train", "mlp", "--out", str(target)], ["speedrun", "mlp", "--out", str(target)]):
        assert main(argv) == 1
        assert "is a file, not a run directory" in capsys.readouterr().err
    assert target.read_text() == "mine"


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["train", "alexnet", "--resize", "100000"], 1, "expected a side from 1 to 2048 pixels"),
        (["train", "vgg16", "--resize", "2048"], 1, "needs about"),
        (["train", "lenet", "--seed", "99999999999999999999"], 1, "expected an integer from 0 to 4294967295"),
        (["train", "lenet", "--lr", "inf"], 2, "'inf' is not a positive number"),
        (["train", "lenet", "--lr", "nan"], 2, "'nan' is not a positive number"),
        (["train", "lenet", "--lr", "-1"], 2, "'-1' is not a positive number"),
        (["train", "lenet", "--weight-decay", "inf"], 1, "expected a finite number"),
    ],
)
def test_sizes_and_numbers_are_checked_before_anything_is_allocated(tmp_path, capsys, argv, code, message):
    try:
        status = main([*argv, "--out", str(tmp_path / "run")])
    except SystemExit as usage_error:  # argparse's exit for a value its type refuses
        status = usage_error.code
    err = capsys.readouterr().err
    assert status == code and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


def test_speedrun_never_replaces_a_finished_run_without_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["speedrun", "mlp", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    before = (out / "model.safetensors").read_bytes()
    assert main(["speedrun", "mlp", "--epochs", "1", "--out", str(out), "--quiet"]) == 1
    assert "already holds a run" in capsys.readouterr().err
    assert (out / "model.safetensors").read_bytes() == before
    assert main(["speedrun", "mlp", "--epochs", "1", "--out", str(out), "--overwrite", "--quiet"]) == 0

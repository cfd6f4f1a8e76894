"""Data-parallel training through PyTorch's own launcher (torch.distributed.run, i.e. torchrun),
two CPU processes on the gloo backend, on a slice of the real data.

`--standalone` gives each launch its own rendezvous on a free port, so tests (and parallel CI
runs) cannot collide."""

from __future__ import annotations

import functools
import json
import operator
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from classicnets.trainer import run
from classicnets.training import read_checkpoint, recipe_config
from classicnets.training.rundir import read_metrics

# LeNet without BatchNorm: the global batch's gradient is the mean of the two halves' gradients,
# so two processes must follow one process's trajectory up to float rounding.
LENET = ["lenet", "--epochs", "2", "--limit", "4096", "--batch-size", "64", "--seed", "3"]


def torchrun(*argv: str, restarts: int = 0) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        f"--max-restarts={restarts}",
        "-m",
        "classicnets",
        *argv,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def weights(run_dir: Path, name: str = "model.safetensors") -> dict[str, torch.Tensor]:
    return read_checkpoint(run_dir / name).prefixed("model.")


def assert_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], exact: bool = False) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if exact:
            assert torch.equal(a[key], b[key]), key
        else:
            torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)


@pytest.fixture(scope="module")
def single(tmp_path_factory, fashion) -> Path:
    """The same recipe in one ordinary process."""
    config = recipe_config(*LENET[:1], epochs=2, limit=4096, batch_size=64, seed=3)
    out = tmp_path_factory.mktemp("single") / "run"
    run(config, out=out, show_progress=False, log=lambda line: None)
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory, fashion) -> tuple[Path, str, str]:
    out = tmp_path_factory.mktemp("pair") / "run"
    code, stdout, stderr = finish(torchrun("train", *LENET, "--out", str(out), "--json"))
    assert code == 0, stderr
    return out, stdout, stderr


def test_two_processes_train_as_one_with_the_same_global_batch(single, pair):
    out, _, _ = pair
    assert_close(weights(out), weights(single))
    two, one = read_metrics(out), read_metrics(single)
    assert [r["test_acc"] for r in two] == [r["test_acc"] for r in one]  # sharded evaluation, global counts
    assert [r["train_examples"] for r in two] == [r["train_examples"] for r in one] == [4096, 4096]
    for a, b in zip(two, one):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["train_acc"] == pytest.approx(b["train_acc"], abs=1 / 4096)


def test_only_rank_0_prints_and_writes(pair):
    out, stdout, stderr = pair
    document = json.loads(stdout)  # exactly one JSON document on stdout
    assert document["world_size"] == 2 and document["epochs"] == 2
    assert stderr.count("epoch   2/2:") == 1 and stderr.count("run directory:") == 1
    assert sorted(p.name for p in out.iterdir()) == [
        ".lock",
        "config.json",
        "curves.png",
        "last.safetensors",
        "metrics.jsonl",
        "model.safetensors",
    ]
    assert json.loads((out / "config.json").read_text())["environment"]["world_size"] == 2
    assert [r["epoch"] for r in read_metrics(out)] == [1, 2]


def _wait_for_mid_epoch_checkpoint(process: subprocess.Popen, last: Path) -> None:
    deadline = time.monotonic() + 120
    while not (last.exists() and read_checkpoint(last).meta["batch"] > 0):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no mid-epoch checkpoint"
        time.sleep(0.02)


def test_a_killed_rank_is_restarted_by_torchrun_and_the_run_resumes_exactly(pair, tmp_path):
    out = tmp_path / "run"
    process = torchrun("train", *LENET, "--out", str(out), "--save-every", "0.01", restarts=1)
    _wait_for_mid_epoch_checkpoint(process, out / "last.safetensors")
    os.kill(int((out / ".lock").read_text()), signal.SIGKILL)  # rank 0, which holds the run's lock
    code, stdout, stderr = finish(process)
    assert code == 0, stderr
    assert "resuming" in stdout and "on 2 processes" in stdout
    # The same weights as the uninterrupted pair: the restart lost nothing and repeated nothing.
    assert_close(weights(out), weights(pair[0]), exact=True)
    for a, b in zip(read_metrics(out), read_metrics(pair[0])):
        assert a["test_acc"] == b["test_acc"] and a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6)


def test_a_run_started_on_two_processes_resumes_on_one(single, tmp_path):
    out = tmp_path / "run"
    process = torchrun("train", *LENET, "--out", str(out), "--save-every", "0.01")
    _wait_for_mid_epoch_checkpoint(process, out / "last.safetensors")
    process.send_signal(signal.SIGINT)  # the launcher stops its workers
    finish(process)
    resumed = subprocess.run(
        [sys.executable, "-m", "classicnets", "train", "--resume", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert_close(weights(out), weights(single))
    assert [r["epoch"] for r in read_metrics(out)] == [1, 2]


def test_sync_bn_on_the_cpu_is_one_clear_line(tmp_path, capsys):
    from classicnets.cli.main import main

    assert main(["train", "lenet_bn", "--sync-bn", "--limit", "256", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "--sync-bn needs CUDA" in err and "each process normalises over its own shard" in err


def test_the_global_batch_must_divide_among_the_processes(monkeypatch):
    from classicnets.errors import ClassicnetsError
    from classicnets.training.distributed import World, per_rank_batch

    assert per_rank_batch(256, World(rank=1, size=4)) == 64
    with pytest.raises(ClassicnetsError, match="must divide evenly among 3 processes: use 255 or 258"):
        per_rank_batch(256, World(size=3))


def test_evaluation_shards_hold_every_test_example_once(fashion):
    from classicnets.data import BatchConfig, BatchIterator

    test = fashion.test.head(1001)
    shards = [
        BatchIterator(test, BatchConfig(batch_size=100), rank=r, world_size=3, pad=False) for r in range(3)
    ]
    labels = torch.cat([y for shard in shards for _, y in shard.iter_epoch(0)])
    assert len(labels) == 1001 and sorted(
        functools.reduce(operator.iadd, (s.epoch_order(0).tolist() for s in shards), [])
    ) == list(range(1001))

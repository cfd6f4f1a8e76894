"""The observer interface of the training loop: what a user's observer sees, and what happens
when one fails."""

from __future__ import annotations

import pytest
import torch

import classicnets
from classicnets.cli.main import main
from classicnets.trainer import resume, run
from classicnets.training import recipe_config
from classicnets.training.checkpoint import read_checkpoint
from classicnets.training.observers import FINISHED, PAUSED, Observer, ObserverFailed
from classicnets.training.rundir import read_metrics

QUIET = {"show_progress": False, "log": lambda line: None}
CONFIG = {"epochs": 3, "limit": 1200, "batch_size": 100}  # 12 steps an epoch


class Recorder(Observer):
    def __init__(self) -> None:
        self.started, self.steps, self.rows, self.ends, self.measured = 0, [], [], [], 0

    def on_start(self, run):
        self.started += 1

    def on_step(self, run):
        self.steps.append(run.position.step)

    def measure(self, run):
        self.measured += 1
        return {"observed": run.position.epoch + 1}

    def on_epoch_end(self, run, row):
        self.rows.append(dict(row))

    def on_end(self, run, outcome):
        self.ends.append(outcome)


def test_a_user_observer_sees_every_step_every_row_and_the_end(tmp_path):
    recorder = Recorder()
    result = classicnets.train("mlp", out=tmp_path / "run", observers=[recorder], **QUIET, **CONFIG)
    assert recorder.started == 1 and recorder.ends == [FINISHED]
    assert recorder.steps == list(range(1, 37))  # after each of 3 x 12 steps
    assert recorder.rows == result.metrics == read_metrics(tmp_path / "run")
    assert [row["observed"] for row in recorder.rows] == [1, 2, 3]  # measure() adds to the row
    assert recorder.measured == 3


def test_an_observer_sees_a_resumed_run_from_where_it_stands(tmp_path):
    first, second = Recorder(), Recorder()
    run(
        recipe_config("mlp", "book", **CONFIG),
        out=tmp_path / "run",
        observers=[first],
        stop_after_epoch=1,
        **QUIET,
    )
    assert first.ends == [PAUSED] and len(first.rows) == 1
    resume(tmp_path / "run", observers=[second], **QUIET)
    assert (
        second.steps[0] == 13
        and [row["epoch"] for row in second.rows] == [2, 3]
        and second.ends == [FINISHED]
    )


class Boom(Observer):
    """Fails at one step of the run."""

    def __init__(self, at_step: int, hook: str = "on_step") -> None:
        self.at_step, self.hook = at_step, hook

    def on_step(self, run):
        if self.hook == "on_step" and run.position.step == self.at_step:
            raise RuntimeError("the user's bug")

    def on_epoch_end(self, run, row):
        if self.hook == "on_epoch_end" and run.position.step == self.at_step:
            raise ValueError("the user's other bug")


def _weights(path):
    return read_checkpoint(path).prefixed("model.")


@pytest.mark.parametrize(
    "hook, at_step, where", [("on_step", 17, "epoch 2, batch 5"), ("on_epoch_end", 24, "the end of epoch 2")]
)
def test_an_observer_that_raises_stops_the_run_resumably(tmp_path, capsys, hook, at_step, where):
    whole = classicnets.train("mlp", out=tmp_path / "whole", **QUIET, **CONFIG)
    with pytest.raises(ObserverFailed) as failure:
        classicnets.train("mlp", out=tmp_path / "run", observers=[Boom(at_step, hook)], **QUIET, **CONFIG)
    message = str(failure.value)
    assert f"the observer Boom failed in {hook} at {where}" in message and "the user's" in message
    assert f"classicnets train --resume {tmp_path / 'run'}" in message and "\n" not in message
    checkpoint = read_checkpoint(tmp_path / "run" / "last.safetensors")
    assert checkpoint.meta["step"] == at_step  # saved at the very step it failed at
    assert main(["train", "--resume", str(tmp_path / "run"), "--quiet"]) == 0
    capsys.readouterr()
    finished, reference = _weights(tmp_path / "run" / "model.safetensors"), whole.model.state_dict()
    assert all(torch.equal(finished[k], reference[k]) for k in reference)
    assert [r["test_acc"] for r in read_metrics(tmp_path / "run")] == [r["test_acc"] for r in whole.metrics]

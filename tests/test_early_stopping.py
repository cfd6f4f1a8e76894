"""The validation split, the best checkpoint and early stopping, on a run that overfits fast:
the MLP (200k parameters) on 500 training pictures, with Adam."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest
import torch
from test_reliability import cli, finish

from classicnets.cli.main import main
from classicnets.training.best import best_row, early_stop_reason
from classicnets.training.checkpoint import load_run, read_checkpoint
from classicnets.training.rundir import read_metrics

ARGS = [
    "mlp",
    "--optimizer",
    "adam",
    "--lr",
    "1e-3",
    "--batch-size",
    "32",
    "--limit",
    "500",
    "--val-size",
    "1000",
    "--epochs",
    "30",
    "--early-stop",
    "3",
    "--keep-best",
]
PATIENCE = 3


def expected_stop(rows: list[dict], patience: int, start_from: int = 1) -> int | None:
    """The epoch at which `patience` epochs in a row have not beaten the best validation
    accuracy since the warm-up: worked out here on its own, from the rows."""
    best, waited = None, 0
    for row in rows:
        if row["epoch"] <= start_from:
            continue
        if best is None or row["val_acc"] > best:
            best, waited = row["val_acc"], 0
        else:
            waited += 1
            if waited == patience:
                return row["epoch"]
    return None


@pytest.fixture(scope="module")
def stopped(tmp_path_factory, fashion) -> Path:
    out = tmp_path_factory.mktemp("early") / "run"
    code, _, err = finish(cli("train", *ARGS, "--out", str(out), "--quiet"))
    assert code == 0, err
    return out


def test_every_epoch_reports_validation_and_the_run_stops_at_the_right_epoch(stopped):
    rows = read_metrics(stopped)
    assert all({"val_acc", "val_loss", "test_acc"} <= set(row) for row in rows)
    assert all(0 <= row["val_acc"] <= 1 and row["val_loss"] > 0 for row in rows)
    assert rows[-1]["epoch"] < 30 and rows[-1]["epoch"] == expected_stop(rows, PATIENCE)
    final = read_checkpoint(stopped / "model.safetensors").info
    assert (
        final.epoch == rows[-1]["epoch"]
        and "the validation accuracy has not improved for 3 epochs" in final.stopped
    )
    # The test set stays the test set: the validation pictures come out of the training set.
    assert any(row["val_acc"] != row["test_acc"] for row in rows)


def test_best_holds_the_best_validation_epoch_and_evaluates_to_its_test_accuracy(stopped, tmp_path, capsys):
    rows = read_metrics(stopped)
    best = max(rows, key=lambda row: (row["val_acc"], -row["epoch"]))
    assert best_row(rows) == best and best["epoch"] < rows[-1]["epoch"]
    assert load_run(stopped, best=True).info.epoch == best["epoch"]
    for flag, row in ((["--best"], best), ([], rows[-1])):
        assert (
            main(
                [
                    "evaluate",
                    str(stopped),
                    "--limit",
                    "500",
                    "--json",
                    "--confusion",
                    str(tmp_path / "c.png"),
                    *flag,
                ]
            )
            == 0
        )
        assert (
            json.loads(capsys.readouterr().out)["accuracy"] == row["test_acc"]
        )  # that epoch's weights, exactly


def test_predict_and_export_take_best(stopped, tmp_path, capsys, fashion):
    from PIL import Image

    image = tmp_path / "shirt.png"
    Image.fromarray(fashion.test.images[0, 0].numpy()).save(image)
    outputs = {}
    for flag in ([], ["--best"]):
        assert main(["predict", str(stopped), str(image), "--json", *flag]) == 0
        outputs[bool(flag)] = json.loads(capsys.readouterr().out)
    assert outputs[True] != outputs[False]  # two different epochs' weights
    assert (
        main(
            ["export", str(stopped), "--best", "--format", "npz", "--out", str(tmp_path / "m.npz"), "--json"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["check"]["same_predictions"]


def test_a_stopped_run_resumes_as_stopped(stopped, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(stopped, out)
    rows = read_metrics(out)
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    assert "early stopping after epoch" in capsys.readouterr().out
    assert read_metrics(out) == rows


def test_kill_9_and_resume_keep_best_and_the_stop(stopped, tmp_path, capsys):
    out = tmp_path / "run"
    process = cli("train", *ARGS, "--out", str(out), "--quiet")
    deadline = time.monotonic() + 300
    while not (out / "best.safetensors").exists() or len(read_metrics(out)) < 3:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    capsys.readouterr()
    deterministic = ("epoch", "train_loss", "train_acc", "test_acc", "val_acc", "val_loss")
    assert [{k: r[k] for k in deterministic} for r in read_metrics(out)] == [
        {k: r[k] for k in deterministic} for r in read_metrics(stopped)
    ]
    for name in ("best.safetensors", "model.safetensors"):
        a, b = read_checkpoint(out / name), read_checkpoint(stopped / name)
        assert a.info.epoch == b.info.epoch
        assert all(torch.equal(a.tensors[k], b.tensors[k]) for k in b.tensors), name


def test_best_is_written_on_resume_when_a_kill_came_between_the_checkpoint_and_it(stopped, tmp_path, capsys):
    """The epoch's checkpoint is written first, best.safetensors after: a kill between them
    leaves a best that is one improvement behind, and resuming writes it from that epoch."""
    rows = read_metrics(stopped)
    best = best_row(rows)["epoch"]
    out = tmp_path / "run"
    # The state just after the best epoch's checkpoint: a fresh run stopped there, its best removed.
    from classicnets.trainer import run
    from classicnets.training import recipe_config

    config = recipe_config(
        "mlp",
        "book",
        optimizer="adam",
        lr=1e-3,
        batch_size=32,
        limit=500,
        val_size=1000,
        epochs=30,
        early_stop=PATIENCE,
        keep_best=True,
    )
    run(config, out=out, stop_after_epoch=best, show_progress=False, log=lambda s: None)
    assert read_checkpoint(out / "best.safetensors").info.epoch == best
    (out / "best.safetensors").unlink()  # as if killed before it was written
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    capsys.readouterr()
    a, b = read_checkpoint(out / "best.safetensors"), read_checkpoint(stopped / "best.safetensors")
    assert a.info.epoch == b.info.epoch == best
    assert all(torch.equal(a.tensors[k], b.tensors[k]) for k in b.tensors)


def test_the_rule_waits_for_the_warm_up_and_counts_min_delta():
    rows = [{"epoch": e, "val_acc": v} for e, v in enumerate([0.9, 0.5, 0.6, 0.6, 0.6, 0.61, 0.6], 1)]
    # Epoch 1's 0.9 is warm-up: not the best to beat.
    assert early_stop_reason(rows[:4], patience=2) is None
    assert "after epoch 5" in early_stop_reason(rows[:5], patience=2)
    assert early_stop_reason(rows[:5], patience=2, start_from=0) is not None  # 0.9 counts: stops at epoch 3
    assert "after epoch 3" in early_stop_reason(rows[:5], patience=2, start_from=0)
    assert early_stop_reason(rows, patience=3) is None  # 0.61 improves on 0.6
    assert "after epoch 6" in early_stop_reason(rows, patience=3, min_delta=0.02)  # ... by less than 0.02
    assert best_row(rows)["epoch"] == 1 and best_row([{"epoch": 1}]) is None


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--early-stop", "3"], "--early-stop watches the validation accuracy"),
        (["--keep-best"], "--keep-best watches the validation accuracy"),
    ],
)
def test_watching_without_a_validation_set_is_one_line(flags, message, tmp_path, capsys):
    assert (
        main(["train", "mlp", "--limit", "100", "--epochs", "1", "--out", str(tmp_path / "r"), *flags]) == 1
    )
    err = capsys.readouterr().err
    assert message in err and "--val-size" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_best_of_a_run_without_it_is_one_line(stopped, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(stopped, out)
    (out / "best.safetensors").unlink()
    assert main(["evaluate", str(out), "--best"]) == 1
    err = capsys.readouterr().err
    assert "holds no best.safetensors" in err and "--keep-best" in err and len(err.strip().splitlines()) == 1


def test_explain_takes_best(stopped, tmp_path, capsys, fashion):
    pytest.importorskip("captum", reason="explain needs the explain extra (captum)")
    from PIL import Image

    image = tmp_path / "shirt.png"
    Image.fromarray(fashion.test.images[0, 0].numpy()).save(image)
    assert main(["explain", str(stopped), str(image), "--best", "--out", str(tmp_path / "x"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "mlp"


def test_show_lists_the_validation_accuracy_and_a_damaged_one_is_one_line(stopped, tmp_path, capsys):
    assert main(["show", str(stopped)]) == 0
    assert "val" in capsys.readouterr().out.split("┃")[5]  # the fifth column (wrapped in 80 columns)
    out = tmp_path / "run"
    shutil.copytree(stopped, out)
    rows = (out / "metrics.jsonl").read_text().splitlines()
    rows[0] = rows[0].replace('"val_acc": ', '"val_acc": "high", "was": ')
    (out / "metrics.jsonl").write_text("\n".join(rows) + "\n")
    assert main(["show", str(out)]) == 1
    err = capsys.readouterr().err
    assert "val_acc is 'high', not a number" in err and len(err.strip().splitlines()) == 1

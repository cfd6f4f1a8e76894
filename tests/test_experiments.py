"""The experiments: translation test, BatchNorm lab and the optimization lab."""

import json

import numpy as np
import pytest
import torch

from classicnets.analysis.evaluation import evaluate_run
from classicnets.cli.main import main
from classicnets.experiments.shift import shift_experiment, shift_images
from classicnets.training.checkpoint import load_run


def test_shift_images_rolls_or_fills_with_black():
    images = torch.arange(2 * 3 * 4, dtype=torch.uint8).reshape(2, 3, 4) + 1
    rolled = shift_images(images, 1, "horizontal", wrap=True)
    assert torch.equal(rolled, torch.from_numpy(np.roll(images.numpy(), 1, axis=2)))  # the seed's np.roll
    filled = shift_images(images, 2, "horizontal")
    assert torch.equal(filled[:, :, 2:], images[:, :, :2]) and not filled[:, :, :2].any()
    up = shift_images(images, -1, "vertical")
    assert torch.equal(up[:, :2], images[:, 1:]) and not up[:, 2].any()
    assert not shift_images(images, 9, "vertical").any()
    assert torch.equal(shift_images(images, 0, "vertical"), images)


def test_shift_heatmap_is_probabilities_and_accuracy_at_zero_is_the_test_accuracy(trained_mlp_dir, trained_lenet_dir):
    result = shift_experiment([trained_mlp_dir, trained_lenet_dir], max_shift=3, limit=500)
    assert result.shifts == [-3, -2, -1, 0, 1, 2, 3] and result.image["index"] == 24150
    for run in result.runs:
        probs = np.array(run.probabilities)
        assert probs.shape == (7, 10)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        assert len(run.accuracy) == 7
    for run_dir, shifted in zip([trained_mlp_dir, trained_lenet_dir], result.runs):
        unshifted = evaluate_run(load_run(run_dir), limit=500).accuracy
        assert shifted.accuracy[3] == pytest.approx(unshifted)
        assert min(shifted.accuracy[0], shifted.accuracy[-1]) < unshifted  # 3 px costs accuracy


def test_shift_command_writes_png_and_json(trained_mlp_dir, tmp_path, capsys):
    out = tmp_path / "exp"
    assert main(["shift", str(trained_mlp_dir), "--out", str(out), "--limit", "200", "--max-shift", "2",
                 "--axis", "vertical", "--wrap", "--split", "test", "--index", "7", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document == json.loads((out / "shift.json").read_text())
    assert document["axis"] == "vertical" and document["wrap"] and document["image"]["index"] == 7
    assert len(document["runs"][0]["probabilities"]) == 5
    assert (out / "shift.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["shift", str(trained_mlp_dir), "--out", str(out), "--index", "60000"]) == 1
    assert "outside the train set" in capsys.readouterr().err

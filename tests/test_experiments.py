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


def test_shift_heatmap_is_probabilities_and_accuracy_at_zero_is_the_test_accuracy(
    trained_mlp_dir, trained_lenet_dir
):
    result = shift_experiment([trained_mlp_dir, trained_lenet_dir], max_shift=3, limit=500)
    assert result.shifts == [-3, -2, -1, 0, 1, 2, 3] and result.image["index"] == 24150
    for shifted in result.runs:
        probs = np.array(shifted.probabilities)
        assert probs.shape == (7, 10)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        assert len(shifted.accuracy) == 7
    for run_dir, shifted in zip([trained_mlp_dir, trained_lenet_dir], result.runs):
        unshifted = evaluate_run(load_run(run_dir), limit=500).accuracy
        assert shifted.accuracy[3] == pytest.approx(unshifted)
        assert min(shifted.accuracy[0], shifted.accuracy[-1]) < unshifted  # 3 px costs accuracy


def test_shift_command_writes_png_and_json(trained_mlp_dir, tmp_path, capsys):
    out = tmp_path / "exp"
    assert (
        main(
            [
                "shift",
                str(trained_mlp_dir),
                "--out",
                str(out),
                "--limit",
                "200",
                "--max-shift",
                "2",
                "--axis",
                "vertical",
                "--wrap",
                "--split",
                "test",
                "--index",
                "7",
                "--json",
            ]
        )
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert document == json.loads((out / "shift.json").read_text())
    assert document["axis"] == "vertical" and document["wrap"] and document["image"]["index"] == 7
    assert len(document["runs"][0]["probabilities"]) == 5
    assert (out / "shift.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["shift", str(trained_mlp_dir), "--out", str(out), "--index", "60000"]) == 1
    assert "outside the train set" in capsys.readouterr().err


# --- the optimization lab ----------------------------------------------------------------------

from classicnets.data.airfoil import load_airfoil  # noqa: E402
from classicnets.experiments import descent, landscape  # noqa: E402
from classicnets.experiments.optimizers import OptimizerRun, least_squares_loss, train_pytorch_ch7  # noqa: E402


def test_gradient_descent_follows_its_closed_forms():
    for lr in (0.05, 0.2, 0.45, 1.1):
        xs = descent.gd_1d(descent.square_grad, 10.0, lr, 25)
        np.testing.assert_allclose(xs, [10.0 * (1 - 2 * lr) ** k for k in range(26)], rtol=1e-12)
    path = descent.gd_2d(descent.quad2d_grad, [-5.0, -2.0], 0.1, 20)
    k = np.arange(21)
    np.testing.assert_allclose(path, np.stack([-5.0 * 0.8**k, -2.0 * 0.6**k], axis=1), rtol=1e-12)
    doc, _ = descent.lab_gd()
    assert all(r["max_error_vs_closed_form"] < 1e-9 for r in doc["square"] + doc["quad2d"])
    too_large = doc["square"][-1]
    assert too_large["verdict"] == "too large" and abs(too_large["x"][-1]) > 10  # diverges


def test_newton_solves_a_quadratic_in_one_step_and_can_find_a_maximum():
    doc, _ = descent.lab_newton()
    assert doc["ill_conditioned"]["newton_one_step_error"] < 1e-12
    assert abs(doc["cosh"]["newton"]["x"][-1]) < 1e-6 < abs(doc["cosh"]["gd"]["x"][-1])
    assert doc["xcos"]["newton_lr_1.0"]["hessian_at_end"] < 0  # a maximum: Newton seeks any stationary point
    assert abs(descent.xcos_grad(doc["xcos"]["newton_lr_1.0"]["x"][-1])) < 1e-6
    ill = doc["ill_conditioned"]
    assert ill["gd_diag_preconditioner"]["f"][-1] < 1e-6 < ill["gd"]["f"][-1]


def test_sgd_without_noise_is_gradient_descent_and_decay_schedules_differ():
    exact = descent.sgd_2d([-5.0, -2.0], lambda t: 0.1, 20, noise=0.0)
    np.testing.assert_allclose(exact, descent.gd_2d(descent.quad2d_grad, [-5.0, -2.0], 0.1, 20), rtol=1e-12)
    doc, _ = descent.lab_sgd(repeats=5)
    means = {name: s["mean_final_f"] for name, s in doc["schedules"].items()}
    assert {s["seeds"] for s in doc["schedules"].values()} == {5}
    assert means["polynomial"] < means["constant"]  # decay averages the noise away
    assert means["exponential"] > means["constant"]  # decays too fast: stalls short of the optimum


def test_landscape_numbers():
    doc, _ = landscape.lab_landscape()
    minima = doc["local_vs_global"]["local_minima"]
    assert len(minima) == 2
    for m in minima:  # stationary points of x*cos(pi*x)
        assert abs(np.cos(np.pi * m) - np.pi * m * np.sin(np.pi * m)) < 1e-3
    assert doc["local_vs_global"]["global_minimum"] == pytest.approx(1.09, abs=0.01)
    assert doc["vanishing_gradient"]["gradient_at_4"] == pytest.approx(1 - np.tanh(4) ** 2)
    convex = {name: c["convex_on_samples"] for name, c in doc["convexity"].items()}
    assert convex == {"0.5*x^2": True, "cos(pi*x)": False, "exp(0.5*x)": True}


def test_train_pytorch_ch7_full_batch_sgd_is_the_closed_form_gradient_descent():
    features, labels = load_airfoil()
    assert tuple(features.shape) == (1500, 5)
    assert abs(float(features.mean())) < 0.01  # standardised
    run = OptimizerRun("GD", "SGD", {"lr": 0.5}, batch_size=1500, epochs=5, small_init=True)
    trace = train_pytorch_ch7(run, features, labels)
    torch.manual_seed(0)
    net = torch.nn.Linear(5, 1)
    with torch.no_grad():
        net.weight.normal_(0.0, 0.01)
        net.bias.zero_()
    x = np.hstack([features.double().numpy(), np.ones((1500, 1))])
    y = labels.double().numpy()
    w = np.concatenate([net.weight.detach().double().numpy()[0], net.bias.detach().double().numpy()])
    expected = []
    for _ in range(6):
        expected.append(np.mean((x @ w - y) ** 2) / 2)
        w = w - 0.5 * x.T @ (x @ w - y) / 1500
    np.testing.assert_allclose(trace.losses, expected, rtol=1e-5)
    assert min(trace.losses) >= least_squares_loss(features, labels) - 1e-6
    minibatch = train_pytorch_ch7(OptimizerRun("SGD", "SGD", {"lr": 0.05}), features, labels)
    assert len(minibatch.losses) == 1 + 2 * 1500 // 100 and minibatch.epochs[-1] == pytest.approx(2.0)


@pytest.mark.parametrize("lab", ["gd", "newton", "landscape", "sgd", "optimizers"])
def test_lab_commands_write_png_and_json(lab, tmp_path, capsys):
    assert main(["lab", lab, "--out", str(tmp_path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["experiment"] == lab
    assert document == json.loads((tmp_path / f"{lab}.json").read_text())
    assert (tmp_path / f"{lab}.png").read_bytes()[:4] == b"\x89PNG"


# --- the BatchNorm lab -------------------------------------------------------------------------

from classicnets.data.batches import BatchConfig, BatchIterator  # noqa: E402
from classicnets.experiments.batchnorm import (  # noqa: E402
    EpochDiagnostics,
    batchnorm_layers,
    population_statistics,
    recalibrate_batchnorm,
)
from classicnets.trainer import run  # noqa: E402
from classicnets.training import recipe_config  # noqa: E402
from classicnets.training.measure import accuracy  # noqa: E402


def test_recalibration_repairs_wrong_moving_averages(tmp_path, fashion):
    result = run(
        recipe_config("lenet_bn", "fast", epochs=1, limit=4000),
        out=tmp_path / "bn",
        show_progress=False,
        log=lambda s: None,
    )
    model = result.model.eval()
    test = BatchIterator(fashion.test.head(2000), BatchConfig(batch_size=500))
    train = BatchIterator(fashion.train.head(4000), BatchConfig(batch_size=128))
    good = accuracy(model, test, torch.device("cpu"))
    with torch.no_grad():
        for _, layer in batchnorm_layers(model):
            layer.running_mean.add_(3.0)  # stale statistics, far off
    broken = accuracy(model, test, torch.device("cpu"))
    recalibrate_batchnorm(model, (x for x, _ in train.iter_epoch(0)), 20)
    fixed = accuracy(model, test, torch.device("cpu"))
    assert broken < good - 0.2 and fixed > good - 0.03
    stats = population_statistics(model, (x for x, _ in train.iter_epoch(0)), 20)
    for name, layer in batchnorm_layers(model):
        np.testing.assert_allclose(layer.running_mean.numpy(), stats[name][0].numpy(), atol=1e-5)


def test_the_epoch_hook_leaves_training_unchanged(tmp_path):
    config = recipe_config("lenet_bn", "book", epochs=2, limit=2000)
    quiet = {"show_progress": False, "log": lambda s: None}
    plain = run(config, out=tmp_path / "a", **quiet)
    hooked = run(config, out=tmp_path / "b", observers=[EpochDiagnostics(5)], **quiet)
    for (name, a), b in zip(plain.model.state_dict().items(), hooked.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert {"test_acc_recalibrated", "test_acc_batch_stats", "moving_mean_gap"} <= set(hooked.metrics[-1])
    assert [m["test_acc"] for m in plain.metrics] == [m["test_acc"] for m in hooked.metrics]


def test_batchnorm_lab_command(tmp_path, capsys):
    assert (
        main(
            [
                "lab",
                "batchnorm",
                "--epochs",
                "1",
                "--limit",
                "2000",
                "--recalibrate-batches",
                "4",
                "--out",
                str(tmp_path),
                "--json",
                "--quiet",
            ]
        )
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert document == json.loads((tmp_path / "batchnorm.json").read_text())
    assert (tmp_path / "batchnorm.png").read_bytes()[:4] == b"\x89PNG"
    sizes = {layer["name"]: (layer["size"], layer["normalises"].split()[1]) for layer in document["layers"]}
    assert sizes == {
        "features.1": (6, "channel"),
        "features.5": (16, "channel"),
        "head.2": (120, "feature"),
        "head.5": (84, "feature"),
    }
    row = document["curves"]["lenet_bn"][0]
    assert 0 <= row["test_acc_recalibrated"] <= 1 and 0 <= row["test_acc_batch_stats"] <= 1
    assert set(document["final"]) == {
        "test_acc_moving_averages",
        "test_acc_recalibrated",
        "test_acc_batch_stats",
    }
    assert 0 <= document["train_vs_eval_mode"]["(logits)"]["predictions_changed"] <= 1
    assert (tmp_path / "batchnorm-runs" / "lenet_bn" / "model.safetensors").exists()

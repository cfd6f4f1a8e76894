"""explain: receptive fields worked out from the layers agree with where the gradient reaches,
for every layer of every network; the explanation runs for every network; the command writes
its figures and JSON, and refuses bad input with one line."""

import copy
import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from classicnets.analysis.explain import explain_input, first_layer_filters
from classicnets.analysis.receptive import Field, receptive_fields
from classicnets.cli.main import main
from classicnets.inputs import FASHION_MNIST
from classicnets.models import create_model_for_input, list_models
from classicnets.models.base import top_level_layers
from classicnets.models.layers import BookBatchNorm
from classicnets.models.registry import smallest_input_side


def _side(name: str) -> int:
    return 4 if name == "tiny_cnn" else max(28, smallest_input_side(name))


def _linearised(model: nn.Module) -> nn.Module:
    """A copy in which every path from a pixel to a unit carries a positive gradient: positive
    weights, zero biases, neutral normalisation, average instead of max pooling (a max-pool
    passes the gradient to one pixel of its window, an average to all of them). With a positive
    input every ReLU is then open, so the gradient's support is exactly the receptive field."""
    model = copy.deepcopy(model).eval()
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.MaxPool2d):
            parent, _, leaf = name.rpartition(".")
            setattr(
                model.get_submodule(parent) if parent else model,
                leaf,
                nn.AvgPool2d(module.kernel_size, module.stride, module.padding, ceil_mode=module.ceil_mode),
            )
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.abs_().add_(0.01)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.running_mean.zero_(), module.running_var.fill_(1.0), module.weight.fill_(1.0)
                module.bias.zero_()
            elif isinstance(module, BookBatchNorm):
                module.moving_mean.zero_(), module.moving_var.fill_(1.0), module.gamma.fill_(1.0)
                module.beta.zero_()
    return model


def _support(grad: torch.Tensor) -> tuple[tuple[int, int], tuple[int, int]]:
    rows = torch.nonzero(grad.abs().sum(dim=(0, 1, 3)) > 0).flatten()
    cols = torch.nonzero(grad.abs().sum(dim=(0, 1, 2)) > 0).flatten()
    return (int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max()))


@pytest.mark.parametrize("name", list_models())
def test_receptive_fields_are_where_the_gradient_reaches(name):
    side = _side(name)
    torch.manual_seed(0)
    model = create_model_for_input(name, side)
    fields = {row.name: row for row in receptive_fields(model, side)}
    probe = _linearised(model)
    checked = 0
    for layer_name, module in top_level_layers(probe):
        if layer_name not in fields:
            continue
        captured = {}
        hook = module.register_forward_hook(lambda _m, _i, out: captured.__setitem__("out", out))
        x = (torch.rand(1, 1, side, side) + 0.1).requires_grad_(True)
        probe(x)
        hook.remove()
        out, field = captured["out"], fields[layer_name].field
        if out.ndim == 2:  # after a flatten, a global pooling or in the MLP: every pixel counts
            (grad,) = torch.autograd.grad(out[0].sum(), x)
            assert fields[layer_name].whole_image and _support(grad) == ((0, side - 1), (0, side - 1))
            checked += 1
            continue
        assert out.shape[2] == field.side, layer_name
        for unit in sorted({0, field.side // 2, field.side - 1}):
            (grad,) = torch.autograd.grad(out[0, :, unit, unit].sum(), x, retain_graph=True)
            first, last = field.span(unit)
            expected = (max(first, 0), min(last, side - 1))
            assert _support(grad) == (expected, expected), f"{name} {layer_name} unit {unit}"
            checked += 1
    assert checked >= 3


def test_the_mlp_sees_the_whole_image_and_seed_003s_worked_example():
    assert all(r.whole_image for r in receptive_fields(create_model_for_input("mlp", 28), 28))
    # seed 003: a 4x4 kernel over a 28x28 image gives 25x25 units, each seeing a 4x4 part
    assert Field(size=1, jump=1, start=0, side=28).window(4, 1, 0) == Field(size=4, jump=1, start=0, side=25)
    lenet = {r.name: r.field for r in receptive_fields(create_model_for_input("lenet", 28), 28)}
    assert (lenet["features.0"].size, lenet["features.5"].size, lenet["features.5"].jump) == (5, 16, 4)


@pytest.mark.parametrize("name", list_models())
def test_every_network_explains_an_image(name, fashion):
    side = _side(name)
    torch.manual_seed(0)
    model = create_model_for_input(name, side).eval()
    image = fashion.test.images[:1].float() / 255
    x = torch.nn.functional.interpolate(image, size=(side, side), mode="bilinear")
    names = ["0", "1"] if name == "tiny_cnn" else list(FASHION_MNIST.class_names)
    explanation = explain_input(model, x, names)
    assert explanation.saliency.shape == (side, side) and np.isfinite(explanation.saliency).all()
    assert explanation.saliency.max() > 0
    assert abs(sum(p for _, p in explanation.top) - 1) < 1 or len(explanation.top) < len(names)
    if name == "mlp":
        assert explanation.grad_cam is None and explanation.stages == []
    else:
        assert (
            explanation.grad_cam.shape == (side, side)
            and explanation.grad_cam_layer == explanation.stages[-1].name
        )
        assert all(
            len(s.channels) == len(s.maps) <= 8 and s.maps.shape[1:] == s.shape[1:]
            for s in explanation.stages
        )
    _layer, filters = first_layer_filters(model)
    assert filters.ndim == 3 and filters.shape[0] >= 1


def test_explain_command_writes_figures_and_json(trained_lenet_dir, fashion, tmp_path, capsys):
    pictures = []
    for i in range(2):
        pictures.append(tmp_path / f"item{i}.png")
        Image.fromarray(255 - fashion.test.images[i, 0].numpy()).save(pictures[-1])
    out = tmp_path / "explain"
    assert main(["explain", str(trained_lenet_dir), *map(str, pictures), "--out", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert json.loads((out / "explain.json").read_text()) == document
    assert [e["image"] for e in document["images"]] == [str(p) for p in pictures]
    for entry in document["images"]:
        assert open(entry["png"], "rb").read(4) == b"\x89PNG"
        assert entry["grad_cam_layer"] == "features.5"
    assert document["filters"]["shape"] == [6, 5, 5] and (out / "filters.png").is_file()
    assert document["receptive_fields"][0] == {
        "name": "features.0",
        "type": "Conv2d",
        "size": 5,
        "jump": 1,
        "start": -2,
        "side": 28,
        "whole_image": False,
    }
    # the predicted class agrees with predict's
    from classicnets.analysis.predict import predict_files
    from classicnets.training.checkpoint import load_run

    expected = predict_files(load_run(trained_lenet_dir), pictures)
    assert [e["top"][0]["class"] for e in document["images"]] == [p.top[0][0] for p in expected]

    assert main(["explain", str(trained_lenet_dir), str(pictures[0])]) == 0  # the table on the terminal
    assert "features.5  AvgPool2d" in capsys.readouterr().out

    missing = tmp_path / "elsewhere"
    assert (
        main(
            [
                "explain",
                str(trained_lenet_dir),
                str(pictures[0]),
                str(tmp_path / "nope.png"),
                "--out",
                str(missing),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.png" in err
    assert not missing.exists()  # nothing written when one picture cannot be read


def test_without_captum_explain_is_one_line(trained_lenet_dir, fashion, tmp_path, capsys, monkeypatch):
    picture = tmp_path / "item.png"
    Image.fromarray(fashion.test.images[0, 0].numpy()).save(picture)
    monkeypatch.setitem(sys.modules, "captum", None)  # what an environment without the extra looks like
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    out = tmp_path / "explain"
    assert main(["explain", str(trained_lenet_dir), str(picture), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'classicnets[explain]'" in err
    assert not out.exists()


def test_explain_an_mlp_run_whose_first_layer_is_dense(trained_mlp_dir, fashion, tmp_path, capsys):
    picture = tmp_path / "item.png"
    Image.fromarray(fashion.test.images[1, 0].numpy()).save(picture)
    assert main(["explain", str(trained_mlp_dir), str(picture), "--out", str(tmp_path / "e"), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["filters"] == {
        "layer": "hidden1",
        "shape": [256, 28, 28],
        "png": str(tmp_path / "e" / "filters.png"),
    }
    assert document["images"][0]["grad_cam_layer"] is None and document["images"][0]["stages"] == []
    assert all(row["whole_image"] for row in document["receptive_fields"])
    assert open(document["images"][0]["png"], "rb").read(4) == b"\x89PNG"

"""What a network is fed: `--resize` builds every network for its size, the run remembers the
input once (typed), and every later command reads it back; a forward pass is only the forward."""

import json
import math

import pytest
import torch
import torchinfo
from safetensors.torch import load_file, save_file

from classicnets.analysis.predict import probabilities
from classicnets.cli.main import main
from classicnets.errors import ClassicnetsError, InputSizeError
from classicnets.inputs import FASHION_MNIST, InputSpec
from classicnets.models import create_model_for_input, list_models, smallest_input_side
from classicnets.trainer import run
from classicnets.training import read_checkpoint, recipe_config
from classicnets.training.checkpoint import CheckpointMeta, LoadedRun, load_run, tensors_sha256
from classicnets.training.setup import build_training
from classicnets.training.step import train_step

SIZES = (28, 32, 48, 64, 96, 224)
IMAGE_NETWORKS = [n for n in list_models() if n != "tiny_cnn"]  # tiny_cnn eats seed 003's two 4x4 images


def _small_side(name):
    """A cheap size the network takes, for checks where the size does not matter."""
    return max(smallest_input_side(name), 32)


@pytest.mark.parametrize("name", list_models())
def test_first_and_second_forward_fire_the_same_hooks(name):
    side = 4 if name == "tiny_cnn" else _small_side(name)
    model = create_model_for_input(name, side).eval()
    calls = []
    for module in model.modules():
        if not list(module.children()):
            module.register_forward_hook(lambda *_: calls.append(1))
    x = torch.randn(1, 1, side, side)
    with torch.no_grad():
        model(x)
        first = len(calls)
        model(x)
    assert first > 0 and len(calls) == 2 * first


@pytest.mark.parametrize("name", list_models())
def test_torchinfo_counts_the_same_parameters(name):
    side = 4 if name == "tiny_cnn" else _small_side(name)
    model = create_model_for_input(name, side)
    stats = torchinfo.summary(model, input_size=(1, 1, side, side), verbose=0, device="cpu")
    assert stats.total_params == sum(p.numel() for p in model.parameters())


def _size_cases():
    """Every size each network takes, but its book size: test_training's book-recipe run of every
    network trains and predicts at that one."""
    for name in IMAGE_NETWORKS:
        smallest, book = smallest_input_side(name), recipe_config(name, "book").input_spec().resize
        for size in SIZES:
            if size >= smallest and size != book:
                yield pytest.param(name, size, id=f"{name}-{size}")


@pytest.mark.parametrize("name, size", list(_size_cases()))
def test_every_network_trains_a_batch_and_predicts_at_every_size_it_takes(name, size):
    # Four pictures: few, but enough that a BatchNorm layer at 1x1 keeps sane running statistics.
    config = recipe_config(name, "book", resize=size, batch_size=4, limit=4, epochs=1)
    parts = build_training(config, torch.device("cpu"), show_progress=False)
    x, y = next(parts.train_batches.iter_epoch(0))
    assert tuple(x.shape) == (4, 1, size, size)
    _, loss, _ = train_step(parts, x, y, 0)
    assert math.isfinite(float(loss))
    loaded = LoadedRun(
        run_dir=None, model=parts.model.eval(), info=CheckpointMeta(model=name, input=config.input_spec())
    )
    probs = probabilities(loaded, torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8))
    assert probs.shape == (1, 10) and torch.allclose(probs.sum(1), torch.ones(1))


def test_a_size_too_small_names_the_smallest_that_works():
    with pytest.raises(
        InputSizeError, match="vgg11 cannot take 24x24 inputs: the smallest size that works is 32x32"
    ):
        build_training(
            recipe_config("vgg11", "fast", resize=24, limit=2), torch.device("cpu"), show_progress=False
        )
    with pytest.raises(
        InputSizeError, match="densenet cannot take 28x28 inputs: the smallest size that works is 29x29"
    ):
        create_model_for_input("densenet", 28)


def test_the_input_size_is_given_once():
    assert recipe_config("vgg11", "book", model_args={"input_size": 96}).resize == 96
    assert "input_size" not in recipe_config("vgg11", "book", model_args={"input_size": 96}).model_args
    with pytest.raises(ClassicnetsError, match="input_size=96 and --resize 64 disagree"):
        recipe_config("vgg11", "book", resize=64, model_args={"input_size": 96})
    with pytest.raises(ClassicnetsError, match="--resize 8"):
        recipe_config("tiny_cnn", "book", resize=8)


def test_input_spec_round_trips_and_defaults_to_the_native_size():
    spec = recipe_config("mlp", "book").input_spec()
    assert spec == InputSpec(
        dataset="fashion-mnist",
        class_names=FASHION_MNIST.class_names,
        native_size=28,
        channels=1,
        resize=28,
        mean=0.5,
        std=0.5,
    )
    assert InputSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(ClassicnetsError, match="the input description lacks"):
        InputSpec.from_dict({"dataset": "fashion-mnist"})


@pytest.fixture(scope="module")
def vgg_at_48(tmp_path_factory, fashion):
    """The book's narrow VGG-11 trained briefly at 48 px: its classifier is 128*1*1 wide."""
    out = tmp_path_factory.mktemp("vgg11-48")
    config = recipe_config("vgg11", "fast", resize=48, epochs=1, limit=512, batch_size=64)
    return run(config, out=out, show_progress=False, log=lambda s: None).run_dir


def test_the_checkpoint_holds_the_input_once(vgg_at_48):
    meta = read_checkpoint(vgg_at_48 / "model.safetensors").meta
    assert "config" not in meta and "class_names" not in meta and "input_size" not in meta["model_args"]
    assert InputSpec.from_dict(meta["input"]).resize == 48 and meta["recipe"] == "fast"
    assert load_run(vgg_at_48).model.fixed_input_size == 48


def test_a_run_at_any_size_evaluates_predicts_verifies_and_exports_without_flags(
    vgg_at_48, tmp_path, capsys, fashion
):
    image = tmp_path / "shirt.png"
    from PIL import Image

    Image.fromarray(fashion.test.images[0, 0].numpy()).save(image)
    for argv in (
        ["evaluate", str(vgg_at_48), "--limit", "200", "--json"],
        ["predict", str(vgg_at_48), str(image)],
        ["verify", str(vgg_at_48), "--batch", "2", "--json"],
        ["export", str(vgg_at_48), "--format", "npz", "--out", str(tmp_path / "m.npz"), "--json"],
        ["export", str(vgg_at_48), "--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--json"],
        ["explain", str(vgg_at_48), str(image), "--out", str(tmp_path / "explain"), "--json"],
    ):
        assert main(argv) == 0, argv
        capsys.readouterr()


def test_a_format_1_checkpoint_still_loads(vgg_at_48, tmp_path):
    """Checkpoints written before the input description was typed kept a config copy."""
    path = vgg_at_48 / "model.safetensors"
    meta = read_checkpoint(path).meta
    old = {k: v for k, v in meta.items() if k not in ("input", "recipe")}
    old.update(
        format=1,
        model_args={**meta["model_args"], "input_size": 48},
        config={"dataset": "fashion-mnist", "recipe": "fast", "resize": 48},
        class_names=list(FASHION_MNIST.class_names),
        input={"resize": 48, "mean": 0.286, "std": 0.353},
        sha256=tensors_sha256(load_file(str(path))),
    )  # format 1's checksum covered the tensors only
    save_file(
        load_file(str(path)), str(tmp_path / "old.safetensors"), metadata={"classicnets": json.dumps(old)}
    )
    loaded = load_run(tmp_path / "old.safetensors")
    assert loaded.input.resize == 48 and loaded.class_names == list(FASHION_MNIST.class_names)
    assert loaded.label == "vgg11 (fast recipe)"


@pytest.mark.parametrize("name, size", [("mlp", 32), ("lenet", 32), ("alexnet", 65)])
def test_train_resize_on_the_command_line(name, size, tmp_path, capsys):
    out = tmp_path / name
    code = main(
        [
            "train",
            name,
            "--resize",
            str(size),
            "--limit",
            "16",
            "--batch-size",
            "8",
            "--epochs",
            "1",
            "--out",
            str(out),
            "--quiet",
            "--json",
        ]
    )
    assert code == 0 and json.loads(capsys.readouterr().out)["epochs"] == 1
    assert load_run(out).input.resize == size


def test_train_at_a_size_too_small_is_one_line_and_exit_1(tmp_path, capsys):
    code = main(
        ["train", "alexnet", "--resize", "64", "--limit", "16", "--out", str(tmp_path / "a"), "--quiet"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert "alexnet cannot take 64x64 inputs: the smallest size that works is 65x65" in err
    assert not (tmp_path / "a" / "model.safetensors").exists()

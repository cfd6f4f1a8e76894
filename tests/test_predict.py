"""Predicting the user's own images: conversion to Fashion-MNIST's look, and the command."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from classicnets.analysis.predict import predict_files
from classicnets.cli.main import main
from classicnets.data.images import load_image, to_fashion_mnist
from classicnets.training import recipe_config, run
from classicnets.training.checkpoint import load_run


def _photo(item: np.ndarray, *, light_background: bool, side=168, mode="RGB") -> Image.Image:
    """`item` (28x28, light on black) drawn 6x larger off-centre on a wider canvas with margins,
    as a user's photo might be."""
    big = np.asarray(Image.fromarray(item).resize((side, side), Image.Resampling.BILINEAR))
    canvas = np.zeros((side + 70, side + 130), dtype=np.uint8)
    canvas[30 : 30 + side, 90 : 90 + side] = big
    if light_background:
        canvas = 255 - canvas
    image = Image.fromarray(canvas)
    return image.convert(mode)


def _similarity(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().flatten(), b.double().flatten()
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / (a.norm() * b.norm()))


@pytest.fixture(scope="module")
def trained_mlp(trained_mlp_dir):
    return load_run(trained_mlp_dir)


@pytest.mark.parametrize("light, mode", [(True, "RGB"), (False, "L"), (True, "RGBA")])
def test_a_photo_of_an_item_converts_back_to_the_item(fashion, light, mode):
    for index in (0, 1, 2, 3):  # ankle boot, T-shirt, T-shirt, dress in the training file
        item = fashion.train.images[index]
        converted = to_fashion_mnist(_photo(item.numpy(), light_background=light, mode=mode))
        assert converted.shape == (28, 28) and converted.dtype == torch.uint8
        assert _similarity(converted, item) > 0.9


def test_predict_png_and_jpeg_agrees_with_the_original_image(trained_mlp, fashion, tmp_path):
    from classicnets.analysis.predict import classify

    paths, expected = [], []
    for i in range(12):
        item = fashion.test.images[i]
        target = tmp_path / (f"item{i}.png" if i % 2 else f"item{i}.jpg")
        _photo(item.numpy(), light_background=i % 3 == 0).save(target)
        paths.append(target)
        expected.append(classify(trained_mlp, item[None])[0][0][0])
    results = predict_files(trained_mlp, paths, top_k=3)
    agree = sum(r.top[0][0] == e for r, e in zip(results, expected))
    assert agree >= 10, [(r.top[0][0], e) for r, e in zip(results, expected)]
    for r in results:
        assert len(r.top) == 3 and r.error is None
        assert r.top[0][1] >= r.top[1][1] >= r.top[2][1] and sum(p for _, p in r.top) <= 1 + 1e-6


def test_unreadable_files_get_an_error_and_the_others_are_classified(trained_mlp, fashion, tmp_path, capsys):
    good = tmp_path / "good.png"
    _photo(fashion.test.images[0].numpy(), light_background=True).save(good)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    code = main(["predict", str(trained_mlp.run_dir), str(text), str(good), str(tmp_path / "missing.jpg"), "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 1
    assert "not an image file" in rows[0]["error"] and rows[1]["error"] is None and len(rows[1]["top"]) == 3
    assert "no such file" in rows[2]["error"]


def test_load_image_of_a_truncated_png_is_a_clear_error(tmp_path):
    from classicnets.errors import DataError

    path = tmp_path / "cut.png"
    Image.fromarray(np.full((64, 64), 200, np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DataError, match="cut.png"):
        load_image(path)


def test_predict_with_the_toy_run_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "toy"
    run(recipe_config("tiny_cnn", "book", epochs=2), out=out, show_progress=False, log=lambda s: None)
    image = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    assert main(["predict", str(out), str(image)]) == 1
    assert "trained on toy4x4, not Fashion-MNIST" in capsys.readouterr().err

"""Predicting the user's own images: conversion to Fashion-MNIST's look, and the command."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from classicnets.analysis.predict import predict_files
from classicnets.cli.main import main
from classicnets.inputs import FASHION_MNIST, InputSpec
from classicnets.numpy_runtime.picture import picture_array, read_picture
from classicnets.trainer import run
from classicnets.training import recipe_config
from classicnets.training.checkpoint import load_run

SPEC = InputSpec.create(FASHION_MNIST, resize=None, mean=None, std=None)


def to_fashion_mnist(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(picture_array(image))


def load_image(path) -> torch.Tensor:
    return torch.from_numpy(read_picture(path, SPEC)[0])


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
        item = fashion.train.images[index, 0]
        converted = to_fashion_mnist(_photo(item.numpy(), light_background=light, mode=mode))
        assert converted.shape == (28, 28) and converted.dtype == torch.uint8
        assert _similarity(converted, item) > 0.9


def test_predict_png_and_jpeg_agrees_with_the_original_image(trained_mlp, fashion, tmp_path):
    from classicnets.analysis.predict import classify

    paths, expected = [], []
    for i in range(12):
        item = fashion.test.images[i, 0]
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
    _photo(fashion.test.images[0, 0].numpy(), light_background=True).save(good)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    code = main(
        ["predict", str(trained_mlp.run_dir), str(text), str(good), str(tmp_path / "missing.jpg"), "--json"]
    )
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
    assert "trained on toy4x4, not on pictures" in capsys.readouterr().err


def _png(image: Image.Image, path) -> str:
    image.save(path)
    return str(path)


def test_16_bit_and_palette_pictures_convert_like_their_8_bit_original(fashion, tmp_path):
    item = fashion.train.images[0, 0].numpy()
    eight_bit = to_fashion_mnist(_photo(item, light_background=True, mode="L"))
    canvas = np.asarray(_photo(item, light_background=True, mode="L"), dtype=np.uint16) * 257
    sixteen = _png(Image.fromarray(canvas), tmp_path / "deep.png")
    assert Image.open(sixteen).mode.startswith("I")  # PIL really reads it as 16-bit
    palette = _png(_photo(item, light_background=True, mode="RGB").convert("P"), tmp_path / "palette.png")
    for path in (sixteen, palette):
        assert _similarity(load_image(path), eight_bit) > 0.99, path


def test_a_huge_picture_is_refused_before_it_is_decoded(tmp_path):
    from classicnets.errors import DataError

    path = _png(Image.new("L", (9000, 8000)), tmp_path / "huge.png")  # 72 megapixels of a few kB
    with pytest.raises(DataError, match=r"huge.png: .*9000x8000 pixels, more than 64 megapixels"):
        read_picture(path, SPEC)


@pytest.mark.parametrize("mode", ["L", "RGB", "P", "1", "I;16"])
def test_a_large_or_thin_picture_is_shrunk_before_it_is_converted(fashion, tmp_path, mode):
    """The fuzzer found a JPEG of a few kB declaring a long thin picture: padding it to a
    square took gigabytes. Shrunk to 2048 px first, it reads the same item."""
    from classicnets.numpy_runtime.picture import decode

    with Image.open(_png(Image.new(mode, (8000, 50)), tmp_path / f"thin-{mode}.png")) as image:
        shrunk = decode(image)
    assert shrunk.size == (2000, 13) and shrunk.mode == mode
    item = fashion.train.images[0, 0].numpy()
    big = _photo(item, light_background=True, mode="L").resize((4000, 4000), Image.Resampling.NEAREST)
    assert _similarity(load_image(_png(big, tmp_path / "big.png")), to_fashion_mnist(big)) > 0.99


@pytest.mark.parametrize("colour", [255, 0, 128])
def test_an_object_on_a_transparent_background_stays_visible_whatever_its_colour(fashion, tmp_path, colour):
    item = fashion.train.images[0, 0]
    mask = np.asarray(_photo(item.numpy(), light_background=False, mode="L"))
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[..., :3] = colour  # one flat colour; only the alpha channel draws the object
    rgba[..., 3] = mask
    path = _png(Image.fromarray(rgba, "RGBA"), tmp_path / "cutout.png")
    assert _similarity(load_image(path), item) > 0.9


def test_predict_streams_in_chunks_and_flags_a_blank_picture(trained_mlp, fashion, tmp_path):
    from classicnets.analysis.predict import BLANK, iter_predictions

    paths = [
        _png(_photo(fashion.test.images[i, 0].numpy(), light_background=True), tmp_path / f"{i}.png")
        for i in range(4)
    ]
    paths.append(_png(Image.new("L", (40, 40), 255), tmp_path / "blank.png"))
    pulled = []

    def source():
        for path in paths:
            pulled.append(path)
            yield path

    stream = iter_predictions(trained_mlp, source(), chunk=2)
    first = next(stream)
    assert first.path == paths[0] and len(pulled) == 2  # only the first chunk was read
    rest = list(stream)
    assert [r.path for r in rest] == paths[1:]
    assert all(r.warning is None for r in rest[:-1]) and rest[-1].warning == BLANK


def test_predict_output_is_one_unwrapped_line_per_file_with_throughput(
    trained_mlp, fashion, tmp_path, capsys
):
    long_dir = tmp_path / ("a-rather-long-folder-name-" * 4)
    long_dir.mkdir()
    paths = [
        _png(_photo(fashion.test.images[i, 0].numpy(), light_background=True), long_dir / f"item-{i}.png")
        for i in range(3)
    ]
    assert main(["predict", str(trained_mlp.run_dir), *paths]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3 and all(line.startswith(f"{p}: ") for line, p in zip(lines, paths))
    assert "3 of 3 images classified in" in err and "images/s" in err

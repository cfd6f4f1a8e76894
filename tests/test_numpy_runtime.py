"""The NumPy forward pass: each layer against PyTorch's, every zoo network layer by layer,
a trained network, the .npz export and the runtime that runs it without PyTorch."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from classicnets.analysis.predict import predict_files, probabilities
from classicnets.cli.main import main
from classicnets.experiments.verify import compare_forward, load_source, toy_trace
from classicnets.models import list_models
from classicnets.numpy_runtime import SpecError, load_npz, ops, run_spec
from classicnets.training.checkpoint import load_run

RNG = np.random.default_rng(0)


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


@pytest.mark.parametrize(
    "stride, padding, dilation, groups",
    [(1, 0, 1, 1), (2, 3, 1, 1), (4, 2, 1, 1), (1, 1, 2, 2), (3, 1, 1, 4)],
)
def test_conv2d_matches_pytorch(stride, padding, dilation, groups):
    x = RNG.standard_normal((2, 4, 13, 11))
    w = RNG.standard_normal((8, 4 // groups, 3, 5))
    b = RNG.standard_normal(8)
    expected = F.conv2d(
        _t(x), _t(w), _t(b), stride=stride, padding=padding, dilation=dilation, groups=groups
    ).numpy()
    got = ops.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    np.testing.assert_allclose(got, expected, atol=1e-10)


def test_im2col_equals_the_seeds_sliding_sums():
    image, kernel = RNG.standard_normal((7, 6)), RNG.standard_normal((3, 3))
    np.testing.assert_allclose(
        ops.conv2d(image[None, None], kernel[None, None], np.array([0.5]))[0, 0],
        ops.conv2d_sliding(image, kernel, 0.5),
        atol=1e-12,
    )


def test_pooling_matches_pytorch():
    x = RNG.standard_normal((2, 3, 15, 14))
    np.testing.assert_allclose(ops.max_pool2d(x, 3, 2, 1), F.max_pool2d(_t(x), 3, 2, 1).numpy())
    np.testing.assert_allclose(ops.avg_pool2d(x, 2, 2), F.avg_pool2d(_t(x), 2, 2).numpy(), atol=1e-12)
    np.testing.assert_allclose(
        ops.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
        F.avg_pool2d(_t(x), 3, 2, 1, count_include_pad=False).numpy(),
        atol=1e-12,
    )
    for size in [(1, 1), (3, 5), (7, 7)]:  # sizes that do not divide 15x14: overlapping cells
        np.testing.assert_allclose(
            ops.adaptive_avg_pool2d(x, size), F.adaptive_avg_pool2d(_t(x), size).numpy(), atol=1e-12
        )


def test_activations_and_resize_match_pytorch():
    x = RNG.standard_normal((4, 50)) * 30  # large values: sigmoid must not overflow
    with np.errstate(all="raise"):
        np.testing.assert_allclose(ops.sigmoid(x), torch.sigmoid(_t(x)).numpy(), atol=1e-12)
    np.testing.assert_allclose(ops.gelu(x / 10), F.gelu(_t(x / 10)).numpy(), atol=1e-6)
    np.testing.assert_allclose(ops.log_softmax(x), F.log_softmax(_t(x), 1).numpy(), atol=1e-10)
    images = RNG.standard_normal((2, 1, 28, 28))
    for size in (32, 96, 224):
        np.testing.assert_allclose(
            ops.resize_bilinear(images, size),
            F.interpolate(_t(images), size=(size, size), mode="bilinear", align_corners=False).numpy(),
            atol=1e-10,
        )


@pytest.mark.parametrize("name", list_models())
def test_every_zoo_network_agrees_layer_by_layer_with_random_weights(name, fashion):
    model, x, _ = load_source(name, batch=2, seed=1)
    checks = compare_forward(model, x)
    assert checks[-1].name == "(model)"
    # every module that ran was compared: the walker covers the whole network
    ran = {
        n for n, m in model.named_modules() if not list(m.children()) and not isinstance(m, torch.nn.Dropout)
    }
    assert ran - {c.name for c in checks} <= {"activation", "drop"} - {c.name for c in checks}
    worst = max(checks, key=lambda c: c.max_abs_diff)
    assert worst.max_abs_diff < 1e-4, worst


def test_a_trained_lenet_agrees_on_real_test_images(trained_lenet_dir):
    model, x, _ = load_source(str(trained_lenet_dir), batch=16)
    checks = compare_forward(model, x)
    assert len(checks) >= 10 and max(c.max_abs_diff for c in checks) < 1e-4
    assert tuple(x.shape) == (16, 1, 28, 28) and x.std() > 0.5  # real, normalised images


def test_the_toy_trace_recomputes_the_seeds_values():
    model, x, _ = load_source("tiny_cnn", batch=2, seed=3)
    for step, image in zip(toy_trace(model, x), x):
        conv = model.features[0]
        expected = (
            F.conv2d(image[None].double(), conv.weight.double(), conv.bias.double())[0, 0].detach().numpy()
        )
        np.testing.assert_allclose(step["sumprod"], expected, atol=1e-12)
        assert step["after_max_pool"] == pytest.approx(max(0.0, expected.max()))
        assert step["sigmoid"] == pytest.approx(step["pytorch"], abs=1e-6)


def test_verify_command_writes_png_and_json_and_fails_loudly(tmp_path, capsys, trained_lenet_dir):
    out = tmp_path / "exp"
    assert main(["verify", str(trained_lenet_dir), "--out", str(out), "--batch", "4", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["max_abs_diff"] < 1e-4 and document["passed"]
    assert {"name", "type", "max_abs_diff"} <= set(document["layers"][0])
    assert json.loads((out / "verify.json").read_text()) == document
    assert (out / "verify.png").read_bytes()[:4] == b"\x89PNG"
    # a tolerance no float arithmetic meets: exit 1 with a one-line error
    assert main(["verify", "lenet", "--out", str(out), "--tolerance", "0", "--batch", "2"]) == 1
    assert "differs from PyTorch's" in capsys.readouterr().err
    assert main(["verify", "no-such-thing", "--out", str(out)]) == 1
    assert "neither a run directory" in capsys.readouterr().err


def test_export_npz_classifies_like_pytorch_without_torch(trained_lenet_dir, fashion, tmp_path, capsys):
    npz = tmp_path / "lenet.npz"
    assert main(["export", str(trained_lenet_dir), "--out", str(npz), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["check"]["same_predictions"] and document["check"]["max_abs_diff_probability"] < 1e-5
    images = fashion.test.images[:200]
    exported = load_npz(npz).probabilities(images.numpy())
    reference = probabilities(load_run(trained_lenet_dir), images).numpy()
    np.testing.assert_allclose(exported, reference, atol=1e-5)

    # the runtime on its own: PyTorch made unimportable in a fresh interpreter
    picture = tmp_path / "item.png"
    Image.fromarray(fashion.test.images[0, 0].numpy()).save(picture)
    code = (
        "import sys; sys.modules['torch'] = None; from classicnets.numpy_runtime.__main__ import main; "
        f"sys.exit(main([{str(npz)!r}, {str(picture)!r}, '--json']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    top = json.loads(done.stdout)[0]["top"]
    expected = predict_files(load_run(trained_lenet_dir), [picture])[0].top
    assert [t["class"] for t in top] == [c for c, _ in expected]
    np.testing.assert_allclose([t["probability"] for t in top], [p for _, p in expected], atol=1e-5)


def test_damaged_or_foreign_archives_are_refused(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(SpecError, match="not a readable .npz"):
        load_npz(garbage)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    with pytest.raises(SpecError, match="not a classicnets export"):
        load_npz(foreign)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __spec__=np.array([{"op": "relu"}], dtype=object), __meta__=np.array("{}"))
    with pytest.raises(SpecError, match="not a readable .npz"):  # object arrays would need pickle: refused
        load_npz(pickled)
    with pytest.raises(SpecError, match="needs the tensor"):
        run_spec([{"op": "linear", "name": "fc", "weight": "fc.weight", "bias": None}], np.zeros((1, 3)), {})


def test_verify_holds_each_layer_to_its_own_scale():
    from classicnets.experiments.verify import LayerCheck, Verification

    big = LayerCheck(
        name="conv", type="Conv2d", max_abs_diff=3e-4, shape=[1], scale=2000.0
    )  # float32 rounding
    small = LayerCheck(name="fc", type="Linear", max_abs_diff=3e-4, shape=[1], scale=0.5)  # a real mistake
    assert Verification(source="s", layers=[big], tolerance=1e-4, batch=1).passed
    assert not Verification(source="s", layers=[big, small], tolerance=1e-4, batch=1).passed

"""The ONNX export: every network of the zoo agrees with onnxruntime, the metadata carries the
input preparation, and `classicnets predict` agrees with an onnxruntime pipeline on real images."""

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from classicnets.analysis.onnx_export import export_onnx
from classicnets.analysis.predict import predict_files, probabilities
from classicnets.cli.main import main
from classicnets.inputs import InputSpec
from classicnets.models import create_model_for_input, list_models
from classicnets.models.registry import smallest_input_side
from classicnets.numpy_runtime import SpecError, load_exported
from classicnets.numpy_runtime.onnx_model import load_onnx
from classicnets.training.checkpoint import CheckpointMeta, LoadedRun, load_run


def _random_run(name: str, tmp_path) -> LoadedRun:
    side = 4 if name == "tiny_cnn" else max(28, smallest_input_side(name))
    torch.manual_seed(0)
    model = create_model_for_input(name, side)
    for module in model.modules():  # running statistics that are not the identity
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    dataset = "toy4x4" if name == "tiny_cnn" else "fashion-mnist"
    spec = InputSpec.create(
        dataset, resize=side if dataset == "fashion-mnist" else None, mean=0.286, std=0.353
    )
    return LoadedRun(run_dir=tmp_path, model=model.eval(), info=CheckpointMeta(model=name, input=spec))


@pytest.mark.parametrize("name", list_models())
def test_every_network_exports_and_onnxruntime_agrees(name, tmp_path):
    run = _random_run(name, tmp_path)
    path = export_onnx(run, tmp_path / f"{name}.onnx")
    exported = load_onnx(path)
    assert exported.input == run.input and exported.meta["model"] == name
    x = torch.randn(5, *run.input.shape)  # not the export's example batch of 2: the batch is dynamic
    with torch.no_grad():
        reference = run.model(x).numpy()
    got = exported.run(x.numpy())
    assert got.shape == reference.shape
    np.testing.assert_allclose(got, reference, atol=1e-4, rtol=0)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_the_metadata_describes_the_input_and_output(tmp_path):
    run = _random_run("mlp", tmp_path)  # seed 002's MLP ends in log-softmax
    proto = onnx.load(export_onnx(run, tmp_path / "mlp.onnx"))
    onnx.checker.check_model(proto)
    meta = json.loads({p.key: p.value for p in proto.metadata_props}["classicnets"])
    assert InputSpec.from_dict(meta["input"]) == run.input
    assert meta["output"] == "log-probabilities"
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a named, dynamic batch
    assert "minus 0.286, divided by 0.353" in proto.doc_string and "Ankle boot" in proto.doc_string
    lenet = json.loads(
        {
            p.key: p.value
            for p in onnx.load(
                export_onnx(_random_run("lenet", tmp_path), tmp_path / "l.onnx")
            ).metadata_props
        }["classicnets"]
    )
    assert lenet["output"] == "logits"


def test_export_onnx_command_and_predict_agree_with_an_onnxruntime_pipeline(
    trained_lenet_dir, fashion, tmp_path, capsys
):
    path = tmp_path / "lenet.onnx"
    assert main(["export", str(trained_lenet_dir), "--format", "onnx", "--out", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["format"] == "onnx" and document["file"] == str(path)
    assert document["check"]["same_predictions"] and document["check"]["max_abs_diff_probability"] < 1e-5
    images = fashion.test.images[:300]
    reference = probabilities(load_run(trained_lenet_dir), images).numpy()
    np.testing.assert_allclose(load_exported(path).probabilities(images.numpy()), reference, atol=1e-5)

    # real pictures through the PyTorch-free runtime on ONNX Runtime, PyTorch made unimportable
    pictures = []
    for i in range(3):
        pictures.append(tmp_path / f"item{i}.png")
        Image.fromarray(255 - fashion.test.images[i, 0].numpy()).save(
            pictures[-1]
        )  # dark on light, as photographed
    code = (
        "import sys; sys.modules['torch'] = None; from classicnets.numpy_runtime.__main__ import main; "
        f"sys.exit(main([{str(path)!r}, *{[str(p) for p in pictures]!r}, '--json']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    expected = predict_files(load_run(trained_lenet_dir), pictures)
    for result, prediction in zip(json.loads(done.stdout), expected):
        assert [t["class"] for t in result["top"]] == [c for c, _ in prediction.top]
        np.testing.assert_allclose(
            [t["probability"] for t in result["top"]], [p for _, p in prediction.top], atol=1e-5
        )


def test_damaged_or_foreign_onnx_files_are_refused(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07 not a model")
    with pytest.raises(SpecError, match="not a readable ONNX model"):
        load_exported(garbage)
    foreign = tmp_path / "foreign.onnx"
    node = onnx.helper.make_node("Relu", ["input"], ["output"])
    graph = onnx.helper.make_graph(
        [node],
        "g",
        [onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, [1])],
    )
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)]), foreign)
    with pytest.raises(SpecError, match="not a classicnets export"):
        load_exported(foreign)
    with pytest.raises(SpecError, match="no such file"):
        load_exported(tmp_path / "missing.onnx")


def test_without_the_onnx_extra_export_is_one_line(trained_lenet_dir, tmp_path, capsys, monkeypatch):
    import importlib.util

    from classicnets.analysis import onnx_export

    real = importlib.util.find_spec
    monkeypatch.setattr(
        onnx_export.importlib.util, "find_spec", lambda name: None if name == "onnxscript" else real(name)
    )
    out = tmp_path / "m.onnx"
    assert main(["export", str(trained_lenet_dir), "--format", "onnx", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'classicnets[onnx]'" in err and "onnxscript" in err
    assert not out.exists()

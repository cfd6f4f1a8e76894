"""Hostile exports for the PyTorch-free runtime (issue 20): every damaged or forged archive is
one line and exit 1 from `python -m classicnets.numpy_runtime`, within bounded memory; and
property-based fuzzing (hypothesis) of checkpoints and exports: loading one gives only the
tool's own errors."""

from __future__ import annotations

import contextlib
import copy
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import load_file, save_file

from classicnets.analysis.spec import describe, numpy_weights
from classicnets.errors import ClassicnetsError
from classicnets.models import create_model_for_input
from classicnets.numpy_runtime import load_npz, save_npz
from classicnets.numpy_runtime.__main__ import main as runtime_main
from classicnets.numpy_runtime.exported import CHUNK_BYTES
from classicnets.trainer import run
from classicnets.training import recipe_config
from classicnets.training.checkpoint import load_run, read_checkpoint, tensors_sha256


@pytest.fixture(scope="module")
def lenet_export() -> tuple[list, dict, dict]:
    """A LeNet's spec, weights and metadata, as `export --format npz` writes them."""
    torch.manual_seed(0)
    model = create_model_for_input("lenet", 28).eval()
    meta = {
        "model": "lenet",
        "model_args": {},
        "input": recipe_config("lenet", "fast").input_spec().to_dict(),
    }
    return [describe(model)], numpy_weights(model), meta


@pytest.fixture(scope="module")
def picture(tmp_path_factory, fashion) -> Path:
    path = tmp_path_factory.mktemp("pictures") / "item.png"
    Image.fromarray(fashion.test.images[0, 0].numpy()).save(path)
    return path


def _layer(spec: list, name: str) -> dict:
    stack = list(spec)
    while stack:
        node = stack.pop()
        if node.get("name") == name:
            return node
        stack += node.get("body", []) + [n for b in node.get("branches", []) for n in b]
    raise KeyError(name)


def _set(name: str, **fields):
    def change(spec, weights, meta):
        _layer(spec, name).update(fields)

    return change


def _nest(spec, weights, meta):
    node = spec[0]
    for _ in range(200):
        node = {"op": "seq", "name": "", "body": [node]}
    spec[0] = node


CASES = {
    "a missing weight": (lambda s, w, m: w.pop("features.0.weight"), "needs the tensor 'features.0.weight'"),
    "an unknown op": (_set("features.0", op="fft"), "unknown op 'fft'"),
    "shapes that do not chain": (
        lambda s, w, m: w.__setitem__("head.1.weight", np.zeros((120, 7), np.float32)),
        "cannot run",
    ),
    "more classes than outputs": (
        lambda s, w, m: m["input"].__setitem__("class_names", ["a"] * 11),
        "class names",
    ),
    "a zero stride": (_set("features.0", stride=[0, 0]), "its stride is [0, 0], not two integers from 1"),
    "a negative padding": (_set("features.0", padding=[-3, -3]), "its padding"),
    "a huge pooling output": (
        lambda s, w, m: _layer(s, "features.2").update(op="adaptive_avg_pool2d", output_size=[1000, 1000]),
        "1000x1000 output is larger than its 28x28 input",
    ),
    "a huge padding": (_set("features.0", padding=[1024, 1024]), "per image, more than"),
    "nesting too deep": (_nest, "nested more than 64 levels"),
    "std 0": (lambda s, w, m: m["input"].__setitem__("std", 0.0), "std is 0"),
    "std NaN": (lambda s, w, m: m["input"].__setitem__("std", float("nan")), "not a finite number"),
    "a resize of 4000": (lambda s, w, m: m["input"].__setitem__("resize", 4000), "resize is 4000"),
    "no input description": (lambda s, w, m: m.pop("input"), "the input description is None"),
    "a node that is not a layer": (lambda s, w, m: s[0]["body"].append(7), "cannot run"),
    "a flatten over a missing axis": (_set("head.0", start_dim=9), "cannot run"),
    "branches of other shapes": (
        lambda s, w, m: s.__setitem__(
            0,
            {
                "op": "add",
                "name": "x",
                "branches": [[s[0]], [{"op": "flatten", "name": "f", "start_dim": 1, "end_dim": -1}]],
            },
        ),
        "adds branches of different",
    ),
    "integer weights": (
        lambda s, w, m: w.__setitem__("features.0.weight", np.zeros((6, 1, 5, 5), np.int64)),
        "not floating point",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_export_is_one_line_and_exit_1(lenet_export, picture, tmp_path, capsys, case):
    spec, weights, meta = copy.deepcopy(lenet_export)
    change, message = CASES[case]
    change(spec, weights, meta)
    path = save_npz(tmp_path / "model.npz", spec, weights, meta)
    assert runtime_main([str(path), str(picture)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("classicnets: error: "), err
    assert message in err, err


@pytest.mark.parametrize(
    "archive, message",
    [
        (b"PK\x03\x04 not really a zip", "not a readable .npz"),
        (b"", "not a readable .npz"),
    ],
)
def test_damaged_archives_are_one_line(picture, tmp_path, capsys, archive, message):
    path = tmp_path / "model.npz"
    path.write_bytes(archive)
    assert runtime_main([str(path), str(picture)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_a_zip_bomb_is_refused_before_it_is_unpacked(lenet_export, picture, tmp_path, capsys):
    spec, weights, meta = lenet_export
    path = save_npz(tmp_path / "model.npz", spec, weights, meta)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("w:padding.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(
                member, {"descr": "<f4", "fortran_order": False, "shape": (50_000_000,)}
            )
            block = bytes(1 << 20)
            for _ in range(200):  # 200 MB of zeros: a few hundred KB on disk
                member.write(block)
    assert path.stat().st_size < 5 << 20
    assert runtime_main([str(path), str(picture)]) == 1
    assert "refused as a zip bomb" in capsys.readouterr().err


def test_the_runtime_classifies_in_chunks_and_streams(lenet_export, picture, tmp_path, capsys):
    spec, weights, meta = lenet_export
    path = save_npz(tmp_path / "model.npz", spec, weights, meta)
    model = load_npz(path)
    assert 1 <= model.chunk <= 256 and model.chunk * 4 * 6 * 28 * 28 <= CHUNK_BYTES
    seen = []
    real = type(model).probabilities

    def counted(self, images):
        seen.append(len(images))
        return real(self, images)

    type(model).probabilities = counted
    try:
        tops = model.classify(np.zeros((1000, 28, 28), np.uint8))
    finally:
        type(model).probabilities = real
    assert len(tops) == 1000 and max(seen) <= model.chunk and sum(seen) == 1000
    assert runtime_main([str(path), *[str(picture)] * 600, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 600


def test_interrupted_runtime_exits_130_without_a_traceback(lenet_export, picture, tmp_path):
    spec, weights, meta = lenet_export
    path = save_npz(tmp_path / "model.npz", spec, weights, meta)
    code = (
        "import os, signal, sys; sys.modules['torch'] = None\n"
        "from classicnets.numpy_runtime import exported\n"
        "real = exported.ExportedModel.classify\n"
        "def stop(self, *a, **k): os.kill(os.getpid(), signal.SIGINT); return real(self, *a, **k)\n"
        "exported.ExportedModel.classify = stop\n"
        "from classicnets.numpy_runtime.__main__ import main\n"
        f"sys.exit(main([{str(path)!r}, {str(picture)!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stderr


# --- property-based: any mutation of a valid file gives only our own errors ------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value, prefix=()):
    """Every path to a value inside nested dicts and lists."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:6]):
            yield from _paths(child, (*prefix, index))


def _replace(document, path, value):
    if not path:
        return value
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


@pytest.fixture(scope="module")
def checkpoint_parts(tmp_path_factory, fashion):
    out = tmp_path_factory.mktemp("fuzz") / "run"
    run(
        recipe_config("lenet", "fast", epochs=2, limit=600),
        out=out,
        show_progress=False,
        log=lambda s: None,
        stop_after_epoch=1,
    )
    path = out / "last.safetensors"
    return load_file(str(path)), read_checkpoint(path).meta, path.read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_checkpoint_metadata_gives_only_our_errors(checkpoint_parts, tmp_path_factory, data):
    tensors, meta, _ = checkpoint_parts
    paths = list(_paths(meta))
    mutated = _replace(copy.deepcopy(meta), data.draw(st.sampled_from(paths)), data.draw(JSON_VALUES))
    path = tmp_path_factory.mktemp("m") / "model.safetensors"
    if isinstance(mutated, dict):
        mutated["sha256"] = tensors_sha256(tensors, mutated)  # resealed: only the bounds can catch it
    save_file(tensors, str(path), metadata={"classicnets": json.dumps(mutated)})
    try:
        loaded = load_run(path)
    except ClassicnetsError:
        return
    # What loads is a working network for a valid input: it classifies a real-sized batch.
    x = torch.zeros(2, *loaded.input.shape)
    assert loaded.model(x).shape[0] == 2


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_checkpoint_bytes_give_only_our_errors(checkpoint_parts, tmp_path_factory, data):
    _, _, raw = checkpoint_parts
    raw = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.sampled_from([len(raw), len(raw), len(raw) // 2, 7, 0]))
    path = tmp_path_factory.mktemp("b") / "model.safetensors"
    path.write_bytes(bytes(raw[:cut]))
    with contextlib.suppress(ClassicnetsError):
        load_run(path)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_exports_give_only_our_errors(lenet_export, tmp_path_factory, data):
    spec, weights, meta = copy.deepcopy(lenet_export)
    document = {"spec": spec, "meta": meta}
    path = data.draw(st.sampled_from(list(_paths(document))[1:]))
    _replace(document, path, data.draw(JSON_VALUES))
    out = tmp_path_factory.mktemp("e") / "model.npz"
    meta = (
        {**document["meta"], "format": "classicnets-npz", "version": 2}
        if isinstance(document["meta"], dict)
        else document["meta"]
    )
    np.savez(
        out,
        __spec__=np.array(json.dumps(document["spec"])),
        __meta__=np.array(json.dumps(meta)),
        **{f"w:{k}": v for k, v in weights.items()},
    )
    try:
        model = load_npz(out)
    except ClassicnetsError:
        return
    assert len(model.classify(np.zeros((3, 28, 28), np.uint8))) == 3


@pytest.fixture(scope="module")
def lenet_onnx(tmp_path_factory) -> Path:
    from classicnets.analysis.onnx_export import export_onnx
    from classicnets.training.checkpoint import CheckpointMeta, LoadedRun

    torch.manual_seed(0)
    model = create_model_for_input("lenet", 28).eval()
    spec = recipe_config("lenet", "fast").input_spec()
    loaded = LoadedRun(
        run_dir=tmp_path_factory.mktemp("onnx"), model=model, info=CheckpointMeta(model="lenet", input=spec)
    )
    return export_onnx(loaded, loaded.run_dir / "model.onnx")


def _onnx_meta(path: Path, change) -> Path:
    import onnx

    model = onnx.load(path)
    prop = next(p for p in model.metadata_props if p.key == "classicnets")
    meta = json.loads(prop.value)
    change(meta)
    prop.value = json.dumps(meta)
    out = path.with_name(f"changed-{len(list(path.parent.iterdir()))}.onnx")
    onnx.save(model, out)
    return out


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m["input"].__setitem__("std", 0.0), "std is 0"),
        (lambda m: m["input"].__setitem__("class_names", ["a", "b"]), "class names (2"),
        (lambda m: m["input"].__setitem__("resize", 40), "cannot run on a [1, 1, 40, 40] input"),
        (lambda m: m["input"].__setitem__("channels", 3), "the input has 3 channels"),
    ],
)
def test_a_hostile_onnx_export_is_one_line_and_exit_1(lenet_onnx, picture, capsys, change, message):
    path = _onnx_meta(lenet_onnx, change)
    assert runtime_main([str(path), str(picture)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err

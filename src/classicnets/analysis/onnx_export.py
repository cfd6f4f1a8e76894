"""The `.onnx` export: a run's network as an ONNX graph (PyTorch's exporter) with a dynamic
batch, the preparation of its input and its class names in the model's metadata, so that
ONNX Runtime, or any other ONNX consumer, classifies as classicnets does.

Input `input`: float32 (N, C, S, S), the images scaled to [0, 1], normalised by (mean, std)
and resized to S (bilinear). Output `output`: what the network was trained to emit: logits,
log-probabilities (the MLP) or the sigmoid's probability (seed 003's toy).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import warnings
from pathlib import Path

import torch

from classicnets import __version__
from classicnets.errors import ClassicnetsError
from classicnets.fileio import atomic_path
from classicnets.numpy_runtime.onnx_model import FORMAT, INPUT_NAME, META_KEY, OUTPUT_NAME, VERSION
from classicnets.training.checkpoint import LoadedRun

OPSET = 18


def output_kind(out: torch.Tensor) -> str:
    """What a network's outputs (N, K) are, read off the outputs themselves."""
    if out.shape[1] == 1:
        return "probability of the second class (sigmoid)"
    if torch.allclose(out.double().exp().sum(1), torch.ones(len(out), dtype=torch.float64), atol=1e-4):
        return "log-probabilities"
    return "logits"


def _check_installed() -> None:
    missing = [
        name for name in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise ClassicnetsError(f"--format onnx needs {', '.join(missing)}: pip install 'classicnets[onnx]'")


def export_onnx(run: LoadedRun, path: str | Path) -> Path:
    """Write `run`'s network to `path` as ONNX (atomically), its metadata included."""
    _check_installed()
    model = run.model.eval().cpu()
    spec = run.input
    example = torch.zeros(2, *spec.shape)
    with torch.no_grad():
        kind = output_kind(model(torch.randn(4, *spec.shape)))
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "classicnets": __version__,
        **run.export_meta(),
        "output": kind,
    }
    # The exporter narrates every stage on stdout and logs warnings about packages it does not
    # need (torchvision's operators): --json must print one document and nothing else.
    quiet_logger = logging.getLogger("torch.onnx")
    level = quiet_logger.level
    quiet_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model,
                (example,),
                None,
                dynamo=True,
                opset_version=OPSET,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
            )
    except Exception as exc:  # the exporter's own error types; the network is ours, so say which
        raise ClassicnetsError(
            f"PyTorch could not export {run.info.model} to ONNX: {str(exc).splitlines()[0]}"
        ) from None
    finally:
        quiet_logger.setLevel(level)
    if program is None:  # dynamo=True always returns a program; None is the legacy exporter's answer
        raise ClassicnetsError(f"PyTorch's exporter returned no ONNX program for {run.info.model}")
    proto = program.model_proto
    proto.doc_string = (
        f"classicnets {run.label}: input float32 (N, {spec.channels}, {spec.resize}, {spec.resize}), "
        f"pixels scaled to [0, 1], {spec.describe_norm()} (per channel), resized "
        f"{spec.native_size} -> {spec.resize} (bilinear); output: {kind} over "
        f"{', '.join(spec.class_names)}"
    )
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(proto.SerializeToString())
    return path

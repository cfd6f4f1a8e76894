"""From-scratch verification (seed 003): recompute a network's forward pass with the NumPy
layers of `classicnets.numpy_runtime`, layer by layer, and compare it with PyTorch's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from classicnets.analysis.spec import describe, numpy_weights
from classicnets.data.batches import BatchConfig, to_model_input
from classicnets.data.sources import data_for_run
from classicnets.data.toy import toy_4x4
from classicnets.errors import ClassicnetsError
from classicnets.experiments.defaults import VERIFY_TOLERANCE
from classicnets.experiments.output import ExperimentOutput, write_experiment
from classicnets.models import create_model_for_spec, list_models
from classicnets.models.base import ClassicNet
from classicnets.numpy_runtime import ops, run_spec
from classicnets.numpy_runtime.walker import dry_run
from classicnets.reports.figures import plt
from classicnets.training.checkpoint import load_run
from classicnets.training.recipes import recipe_config

VERIFY_BYTES = 4 << 30  # what comparing the two forward passes may hold at once
MAX_VERIFY_BATCH = 256  # images; each layer's largest difference is as clear on 8


@dataclass
class LayerCheck:
    name: str
    type: str
    max_abs_diff: float
    shape: list[int]
    scale: float = 1.0  # the layer's largest |output| (PyTorch's)

    @property
    def error(self) -> float:
        """The difference against the layer's scale: float32 rounds relative to the magnitude,
        so a trained layer with outputs in the thousands (a conv before BatchNorm) is held to
        the same standard as one near 1. Below a scale of 1 it is the absolute difference."""
        return self.max_abs_diff / max(1.0, self.scale)


@dataclass
class Verification:
    source: str
    layers: list[LayerCheck]
    tolerance: float
    batch: int
    toy_trace: list[dict[str, Any]] = field(default_factory=list)  # seed 003's printed values

    @property
    def max_abs_diff(self) -> float:
        return max((layer.max_abs_diff for layer in self.layers), default=0.0)

    @property
    def max_error(self) -> float:
        return max((layer.error for layer in self.layers), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_error <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "batch": self.batch,
            "tolerance": self.tolerance,
            "passed": self.passed,
            "max_abs_diff": self.max_abs_diff,
            "max_error": self.max_error,
            "layers": [
                {
                    "name": layer.name,
                    "type": layer.type,
                    "max_abs_diff": layer.max_abs_diff,
                    "scale": layer.scale,
                    "error": layer.error,
                    "shape": layer.shape,
                }
                for layer in self.layers
            ],
            **({"toy_trace": self.toy_trace} if self.toy_trace else {}),
        }


@torch.no_grad()
def compare_forward(model: nn.Module, x: torch.Tensor) -> list[LayerCheck]:
    """Run `x` through `model` (evaluation mode, float32) and through the NumPy walker (float64)
    with the same weights; the largest absolute difference of every module's output, in run order."""
    model = model.eval().float().cpu()
    x = x.float().contiguous()
    check = getattr(model, "check_input", None)
    if check is not None:
        check(x)  # a clear error for a wrong size, not a failure inside a hook
    spec, weights = [describe(model)], numpy_weights(model)
    _, peak = dry_run(spec, tuple(x.shape[1:]), weights)
    fits = max(1, VERIFY_BYTES // (3 * 8 * peak))  # float64, PyTorch's copy of each layer's output beside it
    if len(x) > fits:
        raise ClassicnetsError(
            f"--batch {len(x)}: at most {fits} images of this network fit in the "
            f"{VERIFY_BYTES >> 30} GiB the check may take; give a smaller --batch"
        )
    modules = dict(model.named_modules())
    torch_out: dict[str, list[np.ndarray]] = {}

    def hook(name: str) -> Callable[[nn.Module, Any, Any], None]:
        def record(_module: nn.Module, _args: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                torch_out.setdefault(name, []).append(output.detach().double().numpy())

        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in modules.items()]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()

    checks: list[LayerCheck] = []
    seen: dict[str, int] = {}

    def compare(node: dict[str, Any], out: np.ndarray) -> None:
        name = node.get("name")
        if name not in torch_out:  # a functional op with no module of its own
            return
        index = seen.get(name, 0)
        seen[name] = index + 1
        reference = torch_out[name][index]
        diff = float(np.abs(out - reference).max()) if out.shape == reference.shape else float("inf")
        checks.append(
            LayerCheck(
                name=name or "(model)",
                type=type(modules[name]).__name__,
                max_abs_diff=diff,
                shape=list(reference.shape),
                scale=float(np.abs(reference).max()) if reference.size else 0.0,
            )
        )

    run_spec(spec, x.double().numpy(), weights, dtype=np.float64, record=compare)
    return checks


def toy_trace(model: nn.Module, x: torch.Tensor) -> list[dict[str, Any]]:
    """Seed 003's hand computation for its 4x4 toy network, per image: the 2x2 sliding sums,
    after ReLU, after max-pooling, the linear output and the sigmoid."""
    conv, linear = model.get_submodule("features.0"), model.get_submodule("head.1")
    if not isinstance(conv, nn.Conv2d) or not isinstance(linear, nn.Linear):
        raise ClassicnetsError(
            "the hand computation follows seed 003's toy network: a conv, then a linear layer"
        )
    kernel = conv.weight.detach().double().numpy()[0, 0]
    bias = float(conv.bias.detach()[0]) if conv.bias is not None else 0.0
    w, b = float(linear.weight.detach()[0, 0]), float(linear.bias.detach()[0])
    trace = []
    with torch.no_grad():
        reference = model.eval()(x.float()).double().numpy()[:, 0]
    for image, expected in zip(x.double().numpy()[:, 0], reference):
        sums = ops.conv2d_sliding(image, kernel, bias)
        relu = np.maximum(sums, 0)
        pooled = float(relu.max())
        linear_out = pooled * w + b
        sigmoid = float(ops.sigmoid(np.array(linear_out)))
        trace.append(
            {
                "sumprod": sums.tolist(),
                "after_relu": relu.tolist(),
                "after_max_pool": pooled,
                "linear": linear_out,
                "sigmoid": sigmoid,
                "pytorch": float(expected),
            }
        )
    return trace


def _randomise_statistics(model: nn.Module, seed: int) -> None:
    """Random running statistics, so that random-weight checks exercise BatchNorm's arithmetic
    (fresh layers hold mean 0 and variance 1, which hides mistakes)."""
    gen = torch.Generator().manual_seed(seed)
    for name, buffer in model.named_buffers():
        if name.endswith(("running_mean", "moving_mean")):
            buffer.copy_(torch.randn(buffer.shape, generator=gen) * 0.1)
        elif name.endswith(("running_var", "moving_var")):
            buffer.copy_(torch.rand(buffer.shape, generator=gen) + 0.5)


def load_source(
    source: str,
    *,
    batch: int,
    seed: int = 0,
    data_dir: str | None = None,
    model_args: dict[str, Any] | None = None,
) -> tuple[nn.Module, torch.Tensor, str]:
    """(model, input batch, label) for a run directory / checkpoint, or a model name with
    random weights (seeded) fed as its book recipe feeds it."""
    if source in list_models():
        spec = recipe_config(source, "book").input_spec()
        torch.manual_seed(seed)
        model = create_model_for_spec(source, spec, **(model_args or {}))
        with torch.no_grad():
            _randomise_statistics(model, seed)
        label = f"{source} (random weights, seed {seed})"
    elif Path(source).exists():
        run = load_run(source)
        model, spec, label = run.model, run.input, f"{run.info.model} run {source}"
    else:
        raise ClassicnetsError(
            f"{source!r} is neither a run directory, a checkpoint nor a model name "
            f"(models: {', '.join(list_models())})"
        )
    if not spec.images:
        return model, toy_4x4()[0][:batch], label
    images = data_for_run(spec, data_dir=data_dir).test.images[:batch]
    return model, to_model_input(images, BatchConfig.for_input(spec)), label


def verify(
    source: str,
    *,
    batch: int = 8,
    seed: int = 0,
    tolerance: float = VERIFY_TOLERANCE,
    data_dir: str | None = None,
) -> Verification:
    """Compare PyTorch and the NumPy walker on a batch of real test images (the toy images
    for seed 003's tiny network)."""
    if not 1 <= batch <= MAX_VERIFY_BATCH:
        raise ClassicnetsError(f"--batch {batch}: at most {MAX_VERIFY_BATCH} images are checked at once")
    model, x, label = load_source(source, batch=batch, seed=seed, data_dir=data_dir)
    checks = compare_forward(model, x)
    is_toy = (
        isinstance(model, ClassicNet) and model.model_name == "tiny_cnn" and tuple(x.shape[1:]) == (1, 4, 4)
    )
    return Verification(
        source=label,
        layers=checks,
        tolerance=tolerance,
        batch=len(x),
        toy_trace=toy_trace(model, x) if is_toy else [],
    )


def plot_verification(result: Verification) -> plt.Figure:
    names = [f"{layer.name} ({layer.type})" for layer in result.layers]
    diffs = [max(layer.error, 1e-18) for layer in result.layers]
    height = max(3.0, 0.16 * len(names) + 1.2)
    fig, ax = plt.subplots(figsize=(8, height), layout="constrained")
    colors = ["tab:red" if d > result.tolerance else "tab:blue" for d in diffs]
    ax.barh(range(len(names)), diffs, color=colors)
    ax.axvline(result.tolerance, color="tab:red", linestyle="--", label=f"tolerance {result.tolerance:g}")
    ax.set_xscale("log")
    ax.set_yticks(range(len(names)), names, fontsize=6 if len(names) > 40 else 8)
    ax.invert_yaxis()
    ax.set_xlabel("largest |NumPy - PyTorch| over the batch / max(1, the layer's largest |output|)")
    verdict = "agree" if result.passed else "DISAGREE"
    ax.set_title(
        f"{result.source}: NumPy and PyTorch {verdict} (batch {result.batch}, max {result.max_error:.2e})",
        fontsize=9,
    )
    ax.legend(loc="lower right", fontsize=8)
    return fig


def run_verify(
    source: str, *, out_dir: str | Path | None = None, **kwargs: Any
) -> tuple[Verification, ExperimentOutput]:
    result = verify(source, **kwargs)
    return result, write_experiment("verify", result.to_dict(), plot_verification(result), out_dir)

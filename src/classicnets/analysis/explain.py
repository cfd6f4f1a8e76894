"""What a trained network looks at: the receptive field of every layer, its first layer's
filters, the feature maps of each stage for an image, and two attributions for the predicted
class, both from Captum (the PyTorch project's interpretability library): Grad-CAM on the last
convolutional stage (where in the image the evidence for the class lies, at that stage's
resolution) and input saliency (how much each pixel changes the class score).

Compute only; `reports/explain_figures.py` draws the results.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from classicnets.data.batches import BatchConfig, to_model_input
from classicnets.errors import ClassicnetsError
from classicnets.models.base import ClassicNet, ClassifierSurface, top_level_layers
from classicnets.training.checkpoint import LoadedRun

MAPS_PER_STAGE = 8  # feature maps drawn per stage: its most active channels


@dataclass
class Stage:
    """One stage's output for the image: the last top-level layer before the shape changes."""

    name: str
    shape: tuple[int, ...]  # (C, H, W)
    channels: list[int]  # which channels `maps` holds: the most active ones
    maps: np.ndarray  # (k, H, W), k <= MAPS_PER_STAGE


@dataclass
class Explanation:
    """One image through one network."""

    image: np.ndarray  # (S, S): the network's input (normalised, resized) for drawing
    top: list[tuple[str, float]]  # (class, probability), best first
    target: int  # the class the attributions explain (the predicted one)
    saliency: np.ndarray  # (S, S): |d score / d pixel|, largest over channels
    grad_cam: np.ndarray | None  # (S, S) upsampled, or None for a network without conv stages
    grad_cam_layer: str | None
    stages: list[Stage] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "top": [{"class": c, "probability": p} for c, p in self.top],
            "target": self.target,
            "grad_cam_layer": self.grad_cam_layer,
            "stages": [{"name": s.name, "shape": list(s.shape), "channels": s.channels} for s in self.stages],
        }


def _captum() -> Any:
    try:
        with warnings.catch_warnings():
            # Captum imports tqdm.auto, which warns inside Jupyter when ipywidgets is missing; we draw no bar.
            warnings.filterwarnings("ignore", message="IProgress not found")
            import captum.attr
    except ImportError:
        raise ClassicnetsError("explain needs Captum: pip install 'classicnets[explain]'") from None
    return captum.attr


def first_layer_filters(model: ClassifierSurface) -> tuple[str, np.ndarray]:
    """The first learned layer's weights as pictures (N, H, W): a conv's kernels (channels
    averaged), or the MLP's first Linear rows as input-sized templates."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module.weight.detach().float().mean(1).cpu().numpy()
        if isinstance(module, nn.Linear):
            side = getattr(model, "fixed_input_size", None) or round(
                (module.in_features / model.in_channels) ** 0.5
            )
            weight = (
                module.weight.detach()
                .float()
                .cpu()
                .reshape(module.out_features, model.in_channels, side, side)
            )
            return name, weight.mean(1).numpy()
    raise ClassicnetsError(f"{type(model).__name__} has no convolution or linear layer")


def _forward_with_stages(
    model: nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, list[tuple[nn.Module, Stage]]]:
    """The network's output for `x`, and each stage with its module: the last top-level layer
    with a 4-D output before the output's shape changes (a conv followed by its activation
    keeps the activation's output), leaving out 1x1 maps (after a global pooling)."""
    recorded: dict[str, torch.Tensor] = {}
    layers = list(top_level_layers(model)) if isinstance(model, ClassicNet) else []
    hooks = [
        module.register_forward_hook(lambda _m, _i, out, name=name: recorded.__setitem__(name, out))
        for name, module in layers
    ]
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    maps = [(name, module, recorded[name]) for name, module in layers if recorded[name].ndim == 4]
    ends = [
        item for i, item in enumerate(maps) if i + 1 == len(maps) or maps[i + 1][2].shape != item[2].shape
    ]
    return out, [(module, _stage(name, o[0])) for name, module, o in ends if o.shape[2] > 1]


def _stage(name: str, maps: torch.Tensor) -> Stage:
    """The stage's most active maps (largest mean |activation|), in channel order: the first
    channels would repeat the previous stage in DenseNet, whose blocks pass their input on."""
    strength = maps.float().abs().mean(dim=(1, 2))
    channels = sorted(strength.topk(min(MAPS_PER_STAGE, len(strength))).indices.tolist())
    return Stage(name=name, shape=tuple(maps.shape), channels=channels, maps=maps[channels].float().numpy())


def explain_input(model: nn.Module, x: torch.Tensor, class_names: list[str], top_k: int = 3) -> Explanation:
    """Explain one prepared input `x` (1, C, S, S) for `model` (in evaluation mode)."""
    attr = _captum()
    model = model.eval()
    x = x.detach().float()
    out, stages = _forward_with_stages(model, x)
    if out.shape[1] == 1:  # one sigmoid output: P(second class)
        probs = torch.cat([1 - out, out], dim=1)[0]
    else:
        probs = torch.softmax(out.float(), dim=1)[0]  # log-probabilities too: softmax is idempotent on them
    values, indices = probs.topk(min(top_k, len(class_names)))
    top = [(class_names[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]
    predicted = int(indices[0])
    target = 0 if out.shape[1] == 1 else predicted

    saliency = attr.Saliency(model).attribute(x.clone().requires_grad_(True), target=target, abs=True)
    grad_cam, cam_layer = None, None
    if stages:
        module, last = stages[-1]
        cam = attr.LayerGradCam(model, module).attribute(x, target=target, relu_attributions=True)
        grad_cam = attr.LayerAttribution.interpolate(cam, tuple(x.shape[2:]), interpolate_mode="bilinear")
        grad_cam, cam_layer = grad_cam[0, 0].detach().numpy(), last.name
    return Explanation(
        image=x[0].mean(0).numpy(),
        top=top,
        target=predicted,
        saliency=saliency[0].amax(0).numpy(),
        grad_cam=grad_cam,
        grad_cam_layer=cam_layer,
        stages=[stage for _, stage in stages],
    )


def explain_images(run: LoadedRun, images: torch.Tensor, top_k: int = 3) -> list[Explanation]:
    """Explain uint8 images of the run's data set (N, C, H, W), each prepared as the run was trained."""
    from classicnets.analysis.predict import run_images

    if not run.input.images:
        raise ClassicnetsError(
            f"this run was trained on {run.input.dataset}, not on pictures: explain needs a run "
            "on pictures (its receptive fields: classicnets summary)"
        )
    images = run_images(run, images)
    config = BatchConfig.for_input(run.input)
    model = run.model.eval().cpu()
    return [
        explain_input(model, to_model_input(image[None], config), run.class_names, top_k) for image in images
    ]

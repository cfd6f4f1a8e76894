"""Model summaries: every layer's output shape and parameters, totals, FLOPs and memory.

FLOPs come from PyTorch's own `torch.utils.flop_counter.FlopCounterMode`, which counts the
matrix multiplications and convolutions (2 FLOPs per multiply-accumulate); pooling, activations
and normalisation are not counted, as in most published FLOP figures. A model built on the
meta device is summarised without any arithmetic, so even VGG-19 at 224 px takes milliseconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from classicnets.models.base import ClassifierSurface, top_level_layers


@dataclass
class LayerInfo:
    name: str  # nested module name, e.g. "features.resnet_block1.0.conv1"
    type: str
    depth: int  # 1 for a child of the model, 2 for a grandchild, ...
    output_shape: list[int] | None = None
    params: int = 0  # including sub-modules
    flops: int = 0  # including sub-modules


@dataclass
class ModelSummary:
    model: str
    input_shape: list[int]  # (N, C, H, W) of the example input
    layers: list[LayerInfo] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    frozen_params: int = 0
    flops: int = 0  # per forward pass of the whole batch
    input_bytes: int = 0
    activation_bytes: int = 0  # outputs of leaf modules in one forward pass
    param_bytes: int = 0

    @property
    def macs(self) -> int:
        return self.flops // 2

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "macs": self.macs}


@contextlib.contextmanager
def _inference_with_hooks(model: nn.Module, handles: list[Any]) -> Iterator[None]:
    """Eval mode without gradients for one pass; the mode is restored and `handles` removed after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()


def _first_tensor(output: Any) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    return None


def _example_input(model: nn.Module, input_size: tuple[int, ...], batch_size: int) -> torch.Tensor:
    """A zero batch on the model's device, already checked against the model's input limits.

    The check runs here, before any hook or FLOP counter is attached, because it may probe
    the network's layers once (to find its smallest input) and those probes must not count.
    """
    tensor = next(model.parameters(), None)
    device = tensor.device if tensor is not None else torch.device("cpu")
    dtype = tensor.dtype if tensor is not None else torch.float32
    x = torch.zeros(batch_size, *input_size, device=device, dtype=dtype)
    if isinstance(model, ClassifierSurface):
        model.check_input(x)
    return x


def summary(model: nn.Module, input_size: tuple[int, ...], *, batch_size: int = 1) -> ModelSummary:
    """Run one (batch_size, *input_size) forward pass in eval mode and describe every layer,
    in the order the layers run (a layer used twice appears twice)."""
    x = _example_input(model, input_size, batch_size)
    names = {module: name for name, module in model.named_modules() if name}
    records: list[LayerInfo] = []
    open_records: list[tuple[LayerInfo, bool]] = []
    activation_bytes = 0

    def pre_hook(module: nn.Module, _args: Any) -> None:
        name = names[module]
        info = LayerInfo(
            name=name,
            type=type(module).__name__,
            depth=name.count(".") + 1,
            params=sum(p.numel() for p in module.parameters()),
        )
        records.append(info)
        open_records.append((info, next(module.children(), None) is None))

    def post_hook(module: nn.Module, _args: Any, output: Any) -> None:
        nonlocal activation_bytes
        info, is_leaf = open_records.pop()
        out = _first_tensor(output)
        if out is not None:
            info.output_shape = list(out.shape)
            if is_leaf:
                activation_bytes += out.numel() * out.element_size()

    handles = []
    for module in names:
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(post_hook))
    counter = FlopCounterMode(display=False)
    with _inference_with_hooks(model, handles), counter:
        model(x)

    per_module = counter.get_flop_counts()
    prefix = type(model).__name__
    for info in records:
        info.flops = int(sum(per_module.get(f"{prefix}.{info.name}", {}).values()))
    params = list(model.parameters())
    trainable = sum(p.numel() for p in params if p.requires_grad)
    total = sum(p.numel() for p in params)
    return ModelSummary(
        model=getattr(model, "model_name", type(model).__name__),
        input_shape=list(x.shape),
        layers=records,
        total_params=total,
        trainable_params=trainable,
        frozen_params=total - trainable,
        flops=int(counter.get_total_flops()),
        input_bytes=x.numel() * x.element_size(),
        activation_bytes=activation_bytes,
        param_bytes=sum(p.numel() * p.element_size() for p in params),
    )


def layer_walk(model: nn.Module, input_size: tuple[int, ...]) -> list[tuple[str, str, list[int]]]:
    """The book's shape walk (seed 000): each top-level layer's name, class name and output
    shape, for a single (1, *input_size) input, in the order the layers run."""
    x = _example_input(model, input_size, 1)
    tops = {module: name for name, module in top_level_layers(model)}
    rows: list[tuple[str, str, list[int]]] = []

    def hook(module: nn.Module, _args: Any, output: Any) -> None:
        out = _first_tensor(output)
        rows.append((tops[module], type(module).__name__, list(out.shape) if out is not None else []))

    handles = [module.register_forward_hook(hook) for module in tops]
    with _inference_with_hooks(model, handles):
        model(x)
    return rows

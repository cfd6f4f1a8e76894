"""What a training run will ask of the device's memory, worked out on the meta device (shapes
only) before any real tensor exists: a size that cannot fit is one clear line, not an attempt
to allocate terabytes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from classicnets.errors import ClassicnetsError
from classicnets.inputs import InputSpec
from classicnets.models import create_model_for_spec

_FLOAT = 4  # bytes: float32, an upper bound (bf16 autocast, on CUDA or a CPU with native bf16, halves the activations)


@dataclass(frozen=True)
class Footprint:
    """A network's size at one input side: parameters, and floats of every layer's output
    for one example."""

    parameters: int
    activations: int

    def training_bytes(self, batch_size: int) -> int:
        """Weights, gradients and up to two optimizer moments (Adam), plus each layer's output
        kept for the backward pass and its gradient, for one batch."""
        return _FLOAT * (4 * self.parameters + 2 * batch_size * self.activations)


def footprint(model: str, spec: InputSpec, model_args: dict[str, object]) -> Footprint:
    """Build `model` for `spec`'s input on the meta device and run one example through it."""
    with torch.device("meta"):
        net = create_model_for_spec(model, spec, **model_args)
    total = 0

    def count(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel()

    leaves = [m for m in net.modules() if not list(m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        net.eval()
        with torch.no_grad():
            net(torch.empty(1, *spec.shape, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return Footprint(parameters=sum(p.numel() for p in net.parameters()), activations=total)


def available_bytes(device: torch.device) -> int:
    """Memory a run could use: the GPU's total, or the host's available memory."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[1]
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_fits(
    model: str, spec: InputSpec, model_args: dict[str, object], batch_size: int, device: torch.device
) -> None:
    """Raise a clear error if training `model` on `spec`'s input with `batch_size` cannot fit `device`."""
    side = spec.resize
    need = footprint(model, spec, model_args).training_bytes(batch_size)
    have = available_bytes(device)
    if need > have:
        raise ClassicnetsError(
            f"training {model} on {side}x{side} inputs in batches of {batch_size} needs about {_gb(need)} "
            f"(weights, gradients, optimizer state and one batch's activations), and {device} has {_gb(have)}: "
            "use a smaller --resize or --batch-size"
        )


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e8 else f"{n / 1e6:,.0f} MB"

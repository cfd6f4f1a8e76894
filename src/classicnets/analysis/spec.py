"""A network of the zoo as plain data: the spec the NumPy walker runs (see
`classicnets.numpy_runtime.walker`), its weights as NumPy arrays, and the `.npz` export.

Every node that stands for a module carries the module's qualified name, so a walk can be
compared layer by layer with PyTorch's forward hooks. Operations the book writes as function
calls (`F.relu` inside `Residual` and `Inception`) get names with a "/" that no module has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from classicnets.errors import ModelError
from classicnets.models.base import ClassicNet
from classicnets.models.densenet import DenseBlock
from classicnets.models.googlenet import Inception
from classicnets.models.layers import BookBatchNorm
from classicnets.models.mlp import FashionNetwork
from classicnets.models.resnet import Residual
from classicnets.numpy_runtime import save_npz
from classicnets.numpy_runtime.walker import Node

_ACTIVATIONS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.SiLU: "silu"}


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _pair(value: Any) -> list[int]:
    return [int(v) for v in value] if isinstance(value, (tuple, list)) else [int(value), int(value)]


def _fn(op: str, name: str, **fields: Any) -> Node:
    return {"op": op, "name": name, **fields}


def _leaf(module: nn.Module, name: str) -> Node:
    key = lambda field: _join(name, field)  # noqa: E731
    if type(module) in _ACTIVATIONS:
        return _fn(_ACTIVATIONS[type(module)], name)
    if isinstance(module, nn.Conv2d):
        if module.padding_mode != "zeros" or isinstance(module.padding, str):
            raise ModelError(f"{name}: the NumPy walker takes numeric zero padding only")
        return _fn(
            "conv2d",
            name,
            weight=key("weight"),
            bias=key("bias") if module.bias is not None else None,
            stride=_pair(module.stride),
            padding=_pair(module.padding),
            dilation=_pair(module.dilation),
            groups=module.groups,
        )
    if isinstance(module, nn.Linear):
        return _fn(
            "linear", name, weight=key("weight"), bias=key("bias") if module.bias is not None else None
        )
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if module.running_mean is None:
            raise ModelError(f"{name}: BatchNorm without running statistics has no evaluation-mode forward")
        return _fn(
            "batch_norm",
            name,
            mean=key("running_mean"),
            var=key("running_var"),
            weight=key("weight") if module.affine else None,
            bias=key("bias") if module.affine else None,
            eps=module.eps,
        )
    if isinstance(module, BookBatchNorm):
        return _fn(
            "batch_norm",
            name,
            mean=key("moving_mean"),
            var=key("moving_var"),
            weight=key("gamma"),
            bias=key("beta"),
            eps=module.eps,
        )
    if isinstance(module, nn.MaxPool2d):
        if module.ceil_mode:
            raise ModelError(f"{name}: the NumPy walker has no ceil_mode pooling")
        return _fn(
            "max_pool2d",
            name,
            kernel=_pair(module.kernel_size),
            stride=_pair(module.stride or module.kernel_size),
            padding=_pair(module.padding),
            dilation=_pair(module.dilation),
        )
    if isinstance(module, nn.AvgPool2d):
        if module.ceil_mode or module.divisor_override:
            raise ModelError(f"{name}: the NumPy walker has no ceil_mode or divisor_override pooling")
        return _fn(
            "avg_pool2d",
            name,
            kernel=_pair(module.kernel_size),
            stride=_pair(module.stride or module.kernel_size),
            padding=_pair(module.padding),
            count_include_pad=module.count_include_pad,
        )
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return _fn("adaptive_avg_pool2d", name, output_size=_pair(module.output_size))
    if isinstance(module, nn.Flatten):
        return _fn("flatten", name, start_dim=module.start_dim, end_dim=module.end_dim)
    if isinstance(module, nn.LeakyReLU):
        return _fn("leaky_relu", name, negative_slope=module.negative_slope)
    if isinstance(module, nn.GELU):
        if module.approximate != "none":
            raise ModelError(f"{name}: the NumPy walker has the exact GELU only")
        return _fn("gelu", name)
    if isinstance(module, (nn.LogSoftmax, nn.Softmax)):
        return _fn("log_softmax" if isinstance(module, nn.LogSoftmax) else "softmax", name, dim=module.dim)
    if isinstance(module, nn.Dropout):
        return _fn("dropout", name)
    if isinstance(module, nn.Identity):
        return _fn("identity", name)
    raise ModelError(
        f"{name or 'the model'}: the NumPy walker has no implementation of {type(module).__name__}"
    )


def _seq(name: str, body: list[Node]) -> Node:
    return {"op": "seq", "name": name, "body": body}


def describe(module: nn.Module, name: str = "") -> Node:
    """The spec node of `module` (named `name`) and of everything inside it."""
    if isinstance(module, ClassicNet):
        return _seq(
            name,
            [describe(module.features, _join(name, "features")), describe(module.head, _join(name, "head"))],
        )
    if isinstance(module, nn.Sequential):
        return _seq(
            name, [describe(child, _join(name, child_name)) for child_name, child in module.named_children()]
        )
    if isinstance(module, FashionNetwork):
        functional = module.form == "functional"

        def act(index: int) -> Node:
            return (
                _fn("relu", f"{name}/relu{index}")
                if functional
                else describe(module.activation, _join(name, "activation"))
            )

        def drop(index: int) -> Node:
            return (
                _fn("dropout", f"{name}/dropout{index}")
                if functional
                else _fn("dropout", _join(name, "drop"))
            )

        return _seq(
            name,
            [
                _fn("flatten", f"{name}/flatten", start_dim=1, end_dim=-1),
                describe(module.hidden1, _join(name, "hidden1")),
                act(1),
                drop(1),
                describe(module.hidden2, _join(name, "hidden2")),
                act(2),
                drop(2),
                describe(module.output, _join(name, "output")),
                _fn(
                    "log_softmax", f"{name}/log_softmax" if functional else _join(name, "log_softmax"), dim=1
                ),
            ],
        )
    if isinstance(module, Residual):
        body = [
            describe(module.conv1, _join(name, "conv1")),
            describe(module.bn1, _join(name, "bn1")),
            _fn("relu", f"{name}/relu1"),
            describe(module.conv2, _join(name, "conv2")),
            describe(module.bn2, _join(name, "bn2")),
        ]
        shortcut = [describe(module.conv3, _join(name, "conv3"))] if module.conv3 is not None else []
        return _seq(
            name,
            [
                {"op": "add", "name": f"{name}/add", "branches": [body, shortcut]},
                _fn("relu", f"{name}/relu2"),
            ],
        )
    if isinstance(module, Inception):

        def path(*parts: str, pool_first: bool = False) -> list[Node]:
            nodes: list[Node] = []
            for i, part in enumerate(parts):
                nodes.append(describe(getattr(module, part), _join(name, part)))
                if not (pool_first and i == 0):
                    nodes.append(_fn("relu", f"{name}/{part}/relu"))
            return nodes

        return {
            "op": "concat",
            "name": name,
            "dim": 1,
            "branches": [
                path("p1_1"),
                path("p2_1", "p2_2"),
                path("p3_1", "p3_2"),
                path("p4_1", "p4_2", pool_first=True),
            ],
        }
    if isinstance(module, DenseBlock):
        return {
            "op": "dense",
            "name": name,
            "blocks": [
                describe(block, _join(name, f"net.{i}"))["body"] for i, block in enumerate(module.net)
            ],
        }
    return _leaf(module, name)


def numpy_weights(module: nn.Module) -> dict[str, np.ndarray]:
    """The state dict as float32 NumPy arrays (integer buffers such as BN's step count are not
    needed for evaluation and are left out)."""
    return {
        k: v.detach().float().cpu().numpy() for k, v in module.state_dict().items() if v.is_floating_point()
    }


def export_npz(model: nn.Module, path: str | Path, meta: dict[str, Any]) -> Path:
    """Write `model` as a NumPy archive that `classicnets.numpy_runtime.load_npz` runs.

    `meta` carries what classifying needs besides the network: the model's name and arguments
    and its input (`InputSpec.to_dict()`).
    """
    return save_npz(path, [describe(model)], numpy_weights(model), meta)

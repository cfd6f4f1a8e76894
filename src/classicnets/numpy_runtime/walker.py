"""Run a network described as plain data through the NumPy layers.

A spec is a list of nodes, each a dict with an "op" and, where it stands for a PyTorch module,
that module's qualified "name". Composite ops hold lists of nodes:

    seq      {"body": [...]}                       one after another
    add      {"branches": [[...], [...]]}          sum of the branches (residual connection)
    concat   {"branches": [[...], ...], "dim": 1}  branches concatenated (Inception)
    dense    {"blocks": [[...], ...]}              x = concat(x, block(x)) per block (DenseNet)

Leaf ops name their tensors by key in the weights mapping ("features.0.weight", ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from classicnets.numpy_runtime import ops

Node = dict[str, Any]
Recorder = Callable[[Node, np.ndarray], None]


class SpecError(ValueError):
    """A spec or a weights mapping that the walker cannot run."""


def _tensor(weights: Mapping[str, np.ndarray], node: Node, field: str, dtype: np.dtype) -> np.ndarray | None:
    key = node.get(field)
    if key is None:
        return None
    if key not in weights:
        raise SpecError(f"layer {node.get('name') or node['op']} needs the tensor {key!r}, which the weights lack")
    return np.asarray(weights[key], dtype=dtype)


def _leaf(node: Node, x: np.ndarray, weights: Mapping[str, np.ndarray]) -> np.ndarray:
    op, dtype = node["op"], x.dtype
    if op == "conv2d":
        return ops.conv2d(x, _tensor(weights, node, "weight", dtype), _tensor(weights, node, "bias", dtype),
                          stride=tuple(node["stride"]), padding=tuple(node["padding"]),
                          dilation=tuple(node["dilation"]), groups=node["groups"])
    if op == "linear":
        return ops.linear(x, _tensor(weights, node, "weight", dtype), _tensor(weights, node, "bias", dtype))
    if op == "batch_norm":
        return ops.batch_norm(x, _tensor(weights, node, "mean", dtype), _tensor(weights, node, "var", dtype),
                              _tensor(weights, node, "weight", dtype), _tensor(weights, node, "bias", dtype),
                              node["eps"])
    if op == "max_pool2d":
        return ops.max_pool2d(x, tuple(node["kernel"]), tuple(node["stride"]), tuple(node["padding"]),
                              tuple(node["dilation"]))
    if op == "avg_pool2d":
        return ops.avg_pool2d(x, tuple(node["kernel"]), tuple(node["stride"]), tuple(node["padding"]),
                              node["count_include_pad"])
    if op == "adaptive_avg_pool2d":
        return ops.adaptive_avg_pool2d(x, tuple(node["output_size"]))
    if op == "flatten":
        return ops.flatten(x, node["start_dim"], node["end_dim"])
    if op == "leaky_relu":
        return ops.leaky_relu(x, node["negative_slope"])
    if op in ("log_softmax", "softmax"):
        return getattr(ops, op)(x, node["dim"])
    if op in ("relu", "sigmoid", "tanh", "gelu", "silu"):
        return getattr(ops, op)(x)
    if op in ("identity", "dropout"):  # dropout is the identity in evaluation
        return x
    raise SpecError(f"unknown op {op!r} in the spec")


def _run(nodes: Sequence[Node], x: np.ndarray, weights: Mapping[str, np.ndarray], record: Recorder | None) -> np.ndarray:
    for node in nodes:
        x = run_node(node, x, weights, record)
    return x


def run_node(node: Node, x: np.ndarray, weights: Mapping[str, np.ndarray], record: Recorder | None = None) -> np.ndarray:
    """Run one node (and what it holds) on `x`; `record(node, output)` sees every node's output."""
    op = node.get("op")
    if op == "seq":
        out = _run(node["body"], x, weights, record)
    elif op == "add":
        branches = [_run(branch, x, weights, record) for branch in node["branches"]]
        out = branches[0]
        for branch in branches[1:]:
            out = out + branch
    elif op == "concat":
        out = np.concatenate([_run(branch, x, weights, record) for branch in node["branches"]], axis=node["dim"])
    elif op == "dense":
        out = x
        for block in node["blocks"]:
            out = np.concatenate([out, _run(block, out, weights, record)], axis=1)
    elif isinstance(op, str):
        out = _leaf(node, x, weights)
    else:
        raise SpecError(f"a spec node has no op: {node!r}")
    if record is not None:
        record(node, out)
    return out


def run_spec(spec: Sequence[Node], x: np.ndarray, weights: Mapping[str, np.ndarray], *,
             dtype: type[np.floating] = np.float32, record: Recorder | None = None) -> np.ndarray:
    """The network's output for the batch `x`, computed in `dtype`."""
    try:
        return _run(spec, np.asarray(x, dtype=dtype), weights, record)
    except KeyError as exc:
        raise SpecError(f"a spec node lacks the field {exc}") from None

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

from classicnets.errors import ClassicnetsError
from classicnets.numpy_runtime import ops

Node = dict[str, Any]
Recorder = Callable[[Node, np.ndarray], None]

# The most one example may allocate in one layer, in elements: an output, or the rows of
# im2col (the zoo's largest is VGG's second convolution at 224 px, 29M). A spec asking for
# more is damaged or hostile, and is refused before NumPy allocates it.
MAX_ELEMENTS = 1 << 25
_MAX_WINDOW = 1024  # kernel, stride, dilation and padding of one layer


class SpecError(ClassicnetsError, ValueError):
    """A spec or a weights mapping that the walker cannot run."""


def _window(node: Node, field: str, low: int) -> tuple[int, int]:
    value = node[field]
    pair = [value, value] if isinstance(value, int) else value
    if (
        not isinstance(pair, list)
        or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= _MAX_WINDOW for v in pair)
    ):
        raise SpecError(
            f"layer {node.get('name') or node['op']}: its {field} is {value!r:.40}, not two integers "
            f"from {low} to {_MAX_WINDOW}"
        )
    return pair[0], pair[1]


def _check_window_op(node: Node, x: np.ndarray, weights: Mapping[str, np.ndarray]) -> None:
    """Refuse a convolution or pooling whose parameters are not sane, or whose output (or
    im2col rows) would exceed MAX_ELEMENTS per example, before anything is allocated."""
    op, name = node["op"], node.get("name") or node["op"]
    if x.ndim != 4:
        raise SpecError(f"layer {name} ({op}) needs an (N, C, H, W) input, not {x.ndim}-D")
    channels, height, width = x.shape[1:]
    if op == "adaptive_avg_pool2d":
        oh, ow = _window(node, "output_size", 1)
        if oh > height or ow > width:
            raise SpecError(f"layer {name}: its {oh}x{ow} output is larger than its {height}x{width} input")
        largest = channels * oh * ow
    else:
        if op == "conv2d":
            weight = _tensor(weights, node, "weight", x.dtype)
            if weight is None or weight.ndim != 4:
                raise SpecError(f"layer {name} needs a 4-D weight tensor, not {node.get('weight')!r:.40}")
            out_channels, _, kh, kw = np.shape(weight)
            groups = node["groups"]
            if not isinstance(groups, int) or groups < 1 or out_channels % groups:
                raise SpecError(
                    f"layer {name}: its groups ({groups!r:.20}) do not divide its {out_channels} filters"
                )
            kernel = (kh, kw)
        else:
            out_channels, kernel = channels, _window(node, "kernel", 1)
        stride, padding = _window(node, "stride", 1), _window(node, "padding", 0)
        dilation = _window(node, "dilation", 1) if "dilation" in node else (1, 1)
        span = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
        padded = [height + 2 * padding[0], width + 2 * padding[1]]
        if any(s > p for s, p in zip(span, padded)):
            raise SpecError(
                f"layer {name}: its {span[0]}x{span[1]} window does not fit a {padded[0]}x{padded[1]} input"
            )
        oh, ow = ((p - s) // st + 1 for p, s, st in zip(padded, span, stride))
        per_position = channels * kernel[0] * kernel[1] if op == "conv2d" else 1  # im2col's row length
        # the padded input, the output, and im2col's rows: what this layer allocates per image
        largest = max(channels * padded[0] * padded[1], out_channels * oh * ow, oh * ow * per_position)
    if largest > MAX_ELEMENTS:
        raise SpecError(
            f"layer {name} would compute {largest:,} values per image, more than the "
            f"{MAX_ELEMENTS:,} any network of the zoo needs: the export is damaged"
        )


def _check_joined(node: Node, parts: Sequence[np.ndarray], same_shape: bool) -> None:
    """Branches to add must have one shape; branches to concatenate must fit within MAX_ELEMENTS."""
    name = node.get("name") or node["op"]
    if same_shape and any(p.shape != parts[0].shape for p in parts):
        raise SpecError(f"layer {name} adds branches of different shapes: {[list(p.shape) for p in parts]}")
    if sum(p.size // max(p.shape[0], 1) for p in parts) > MAX_ELEMENTS:
        raise SpecError(
            f"layer {name} would join more than {MAX_ELEMENTS:,} values per image: the export is damaged"
        )


def _tensor(weights: Mapping[str, np.ndarray], node: Node, field: str, dtype: np.dtype) -> np.ndarray | None:
    key = node.get(field)
    if key is None:
        return None
    if key not in weights:
        raise SpecError(
            f"layer {node.get('name') or node['op']} needs the tensor {key!r}, which the weights lack"
        )
    return np.asarray(weights[key], dtype=dtype)


def _required(weights: Mapping[str, np.ndarray], node: Node, field: str, dtype: np.dtype) -> np.ndarray:
    tensor = _tensor(weights, node, field, dtype)
    if tensor is None:
        raise SpecError(f"layer {node.get('name') or node['op']} names no {field!r} tensor, which it needs")
    return tensor


def _leaf(node: Node, x: np.ndarray, weights: Mapping[str, np.ndarray]) -> np.ndarray:
    op, dtype = node["op"], x.dtype
    if op in ("conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"):
        _check_window_op(node, x, weights)
    if op == "conv2d":
        return ops.conv2d(
            x,
            _required(weights, node, "weight", dtype),
            _tensor(weights, node, "bias", dtype),
            stride=tuple(node["stride"]),
            padding=tuple(node["padding"]),
            dilation=tuple(node["dilation"]),
            groups=node["groups"],
        )
    if op == "linear":
        return ops.linear(x, _required(weights, node, "weight", dtype), _tensor(weights, node, "bias", dtype))
    if op == "batch_norm":
        return ops.batch_norm(
            x,
            _required(weights, node, "mean", dtype),
            _required(weights, node, "var", dtype),
            _required(weights, node, "weight", dtype),
            _required(weights, node, "bias", dtype),
            node["eps"],
        )
    if op == "max_pool2d":
        return ops.max_pool2d(
            x, tuple(node["kernel"]), tuple(node["stride"]), tuple(node["padding"]), tuple(node["dilation"])
        )
    if op == "avg_pool2d":
        return ops.avg_pool2d(
            x, tuple(node["kernel"]), tuple(node["stride"]), tuple(node["padding"]), node["count_include_pad"]
        )
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


def _run(
    nodes: Sequence[Node], x: np.ndarray, weights: Mapping[str, np.ndarray], record: Recorder | None
) -> np.ndarray:
    for node in nodes:
        x = run_node(node, x, weights, record)
    return x


def run_node(
    node: Node, x: np.ndarray, weights: Mapping[str, np.ndarray], record: Recorder | None = None
) -> np.ndarray:
    """Run one node (and what it holds) on `x`; `record(node, output)` sees every node's output."""
    op = node.get("op")
    if op == "seq":
        out = _run(node["body"], x, weights, record)
    elif op == "add":
        branches = [_run(branch, x, weights, record) for branch in node["branches"]]
        _check_joined(node, branches, same_shape=True)
        out = branches[0]
        for branch in branches[1:]:
            out = out + branch
    elif op == "concat":
        branches = [_run(branch, x, weights, record) for branch in node["branches"]]
        _check_joined(node, branches, same_shape=False)
        out = np.concatenate(branches, axis=node["dim"])
    elif op == "dense":
        out = x
        for block in node["blocks"]:
            grown = _run(block, out, weights, record)
            _check_joined(node, [out, grown], same_shape=False)
            out = np.concatenate([out, grown], axis=1)
    elif isinstance(op, str):
        out = _leaf(node, x, weights)
    else:
        raise SpecError(f"a spec node has no op: {node!r}")
    if record is not None:
        record(node, out)
    return out


def run_spec(
    spec: Sequence[Node],
    x: np.ndarray,
    weights: Mapping[str, np.ndarray],
    *,
    dtype: type[np.floating] = np.float32,
    record: Recorder | None = None,
) -> np.ndarray:
    """The network's output for the batch `x`, computed in `dtype`."""
    try:
        return _run(spec, np.asarray(x, dtype=dtype), weights, record)
    except KeyError as exc:
        raise SpecError(f"a spec node lacks the field {exc}") from None


def dry_run(
    spec: Sequence[Node], shape: tuple[int, ...], weights: Mapping[str, np.ndarray]
) -> tuple[int, int]:
    """Run the spec once on a blank example of `shape` (C, H, W): (outputs per example, the
    most values one layer computes per example). Anything in the spec or the weights that
    cannot run (a missing tensor, shapes that do not chain, an unknown op, a zero stride) is
    one SpecError here, before a real picture is classified."""
    peak = [0]

    def measure(node: Node, out: np.ndarray) -> None:
        peak[0] = max(peak[0], out.size)
        if node.get("op") == "conv2d":  # im2col's rows: output positions x receptive-field size
            c_in, kh, kw = np.shape(weights[node["weight"]])[1:]
            peak[0] = max(peak[0], out.shape[2] * out.shape[3] * c_in * kh * kw)

    if not isinstance(spec, list) or not all(isinstance(node, dict) for node in spec):
        raise SpecError("the network description is not a list of layers")
    try:
        with np.errstate(all="ignore"):
            out = run_spec(spec, np.zeros((1, *shape), dtype=np.float32), weights, record=measure)
    except SpecError:
        raise
    except Exception as exc:  # a file's spec can fail inside NumPy in many ways; each is "cannot run"
        raise SpecError(
            f"the network description cannot run ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    if out.ndim != 2:
        raise SpecError(f"the network's output is {list(out.shape)}, not one row of class scores per image")
    return int(out.shape[1]), peak[0]

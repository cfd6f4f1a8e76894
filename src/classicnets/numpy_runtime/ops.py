"""Layer forward passes in NumPy, written the way the book explains them.

Arrays are (N, C, H, W) for images and (N, F) for features, as in PyTorch. Convolution is
im2col: every receptive field becomes a row, and one matrix product applies every filter to
every row; `conv2d_sliding` is the seed-003 loop of sliding sums, kept for teaching and for
checking im2col against it.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Pair = tuple[int, int]


def _pair(value: int | tuple[int, ...] | list[int]) -> Pair:
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


def _windows(x: np.ndarray, kernel: Pair, stride: Pair, dilation: Pair) -> np.ndarray:
    """(N, C, H, W) -> (N, C, Ho, Wo, kh, kw): a view of every receptive field."""
    kh, kw = kernel
    dh, dw = dilation
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    view = sliding_window_view(x, span, axis=(2, 3))
    return view[:, :, :: stride[0], :: stride[1], ::dh, ::dw]


def pad2d(x: np.ndarray, padding: Pair, value: float = 0.0) -> np.ndarray:
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
    groups: int = 1,
) -> np.ndarray:
    """2-D cross-correlation (PyTorch's Conv2d) as im2col and one matrix product per group."""
    n, c, _, _ = x.shape
    out_channels, c_per_group, kh, kw = weight.shape
    if c != c_per_group * groups:
        raise ValueError(f"conv2d: input has {c} channels, the weight expects {c_per_group * groups}")
    cols = _windows(pad2d(x, _pair(padding)), (kh, kw), _pair(stride), _pair(dilation))
    _, _, ho, wo, _, _ = cols.shape
    o_per_group = out_channels // groups
    outputs = []
    for g in range(groups):
        group_cols = cols[:, g * c_per_group : (g + 1) * c_per_group]
        # (N, Ho, Wo, C*kh*kw) rows times (C*kh*kw, O) filters
        rows = group_cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c_per_group * kh * kw)
        filters = weight[g * o_per_group : (g + 1) * o_per_group].reshape(o_per_group, -1)
        outputs.append((rows @ filters.T).reshape(n, ho, wo, o_per_group))
    out = np.concatenate(outputs, axis=3).transpose(0, 3, 1, 2)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return np.ascontiguousarray(out)


def conv2d_sliding(image: np.ndarray, kernel: np.ndarray, bias: float = 0.0) -> np.ndarray:
    """Seed 003's convolution of one (H, W) image by one (kh, kw) filter, stride 1, no
    padding: slide the filter, multiply elementwise, sum, add the bias."""
    kh, kw = kernel.shape
    height, width = image.shape
    out = np.zeros((height - kh + 1, width - kw + 1), dtype=np.result_type(image, kernel))
    for i in range(height - kh + 1):
        for j in range(width - kw + 1):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel) + bias
    return out


def max_pool2d(
    x: np.ndarray,
    kernel: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
) -> np.ndarray:
    kernel = _pair(kernel)
    stride = _pair(stride) if stride is not None else kernel
    windows = _windows(pad2d(x, _pair(padding), -np.inf), kernel, stride, _pair(dilation))
    return windows.max(axis=(4, 5))


def avg_pool2d(
    x: np.ndarray,
    kernel: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    count_include_pad: bool = True,
) -> np.ndarray:
    kernel = _pair(kernel)
    stride = _pair(stride) if stride is not None else kernel
    padding = _pair(padding)
    sums = _windows(pad2d(x, padding), kernel, stride, (1, 1)).sum(axis=(4, 5))
    if count_include_pad or padding == (0, 0):
        return sums / (kernel[0] * kernel[1])
    ones = pad2d(np.ones((1, 1) + x.shape[2:], dtype=x.dtype), padding)
    counts = _windows(ones, kernel, stride, (1, 1)).sum(axis=(4, 5))
    return sums / counts


def adaptive_avg_pool2d(x: np.ndarray, output_size: int | Pair) -> np.ndarray:
    """PyTorch's adaptive average pooling: cell i covers [floor(i*H/oh), ceil((i+1)*H/oh))."""
    oh, ow = _pair(output_size)
    height, width = x.shape[2:]
    out = np.empty(x.shape[:2] + (oh, ow), dtype=x.dtype)
    for i in range(oh):
        top, bottom = (i * height) // oh, -((-(i + 1) * height) // oh)
        for j in range(ow):
            left, right = (j * width) // ow, -((-(j + 1) * width) // ow)
            out[:, :, i, j] = x[:, :, top:bottom, left:right].mean(axis=(2, 3))
    return out


def batch_norm(
    x: np.ndarray, mean: np.ndarray, var: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> np.ndarray:
    """Evaluation-mode batch normalisation with the moving averages, per channel (axis 1)."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    scale = gamma.reshape(-1) / np.sqrt(var.reshape(-1) + eps)
    return (x - mean.reshape(shape)) * scale.reshape(shape) + beta.reshape(shape)


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    out = x @ weight.T
    return out + bias if bias is not None else out


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def leaky_relu(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    return np.where(x >= 0, x, x * negative_slope)


def sigmoid(x: np.ndarray) -> np.ndarray:
    # exp(-log(1 + exp(-x))) never overflows, unlike 1 / (1 + exp(-x)) for large negative x
    return np.exp(-np.logaddexp(0, -x))


def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def silu(x: np.ndarray) -> np.ndarray:
    return x * sigmoid(x)


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26: absolute error below 1.5e-7, far inside verify's 1e-4.
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def flatten(x: np.ndarray, start_dim: int = 1, end_dim: int = -1) -> np.ndarray:
    end = end_dim % x.ndim
    return x.reshape(x.shape[:start_dim] + (-1,) + x.shape[end + 1 :])


def log_softmax(x: np.ndarray, dim: int = 1) -> np.ndarray:
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


def softmax(x: np.ndarray, dim: int = 1) -> np.ndarray:
    return np.exp(log_softmax(x, dim))


def resize_bilinear(x: np.ndarray, size: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C, size, size), bilinear with half-pixel centres: PyTorch's
    `interpolate(mode="bilinear", align_corners=False)` when enlarging (the book's resizes
    all enlarge Fashion-MNIST's 28 px)."""
    height, width = x.shape[2:]

    def axis_weights(n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.maximum((np.arange(size) + 0.5) * (n_in / size) - 0.5, 0.0)
        low = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        high = np.minimum(low + 1, n_in - 1)
        return low, high, (src - low).astype(x.dtype)

    r0, r1, fr = axis_weights(height)
    c0, c1, fc = axis_weights(width)
    rows = x[:, :, r0, :] * (1 - fr)[:, None] + x[:, :, r1, :] * fr[:, None]
    return rows[:, :, :, c0] * (1 - fc) + rows[:, :, :, c1] * fc

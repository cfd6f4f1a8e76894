"""Why optimizing a network is hard, and what convexity buys (seed 004, "凸优化"): a local
minimum against the global one, saddle points in 1-D and 2-D, vanishing gradients, and the
definitions of convexity checked numerically on sampled points."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from classicnets.reports.figures import plt

Fn = Callable[[np.ndarray], np.ndarray]


def local_minima(f: Fn, lo: float, hi: float, points: int = 20001) -> list[float]:
    """The interior local minima of f on [lo, hi], from a fine grid."""
    x = np.linspace(lo, hi, points)
    y = f(x)
    inner = np.flatnonzero((y[1:-1] < y[:-2]) & (y[1:-1] <= y[2:])) + 1
    return [float(x[i]) for i in inner]


def convexity_check(
    f: Fn, second: Fn, lo: float, hi: float, samples: int = 10_000, seed: int = 0
) -> dict[str, Any]:
    """Jensen's definition f(λa + (1-λ)b) <= λf(a) + (1-λ)f(b) and the second-order condition
    f'' >= 0, each tested on random points of [lo, hi]."""
    rng = np.random.default_rng(seed)
    a, b, lam = rng.uniform(lo, hi, samples), rng.uniform(lo, hi, samples), rng.uniform(0, 1, samples)
    gap = f(lam * a + (1 - lam) * b) - (lam * f(a) + (1 - lam) * f(b))
    tolerance = 1e-12 * (1 + np.abs(f(a)) + np.abs(f(b)))
    curvature = second(rng.uniform(lo, hi, samples))
    return {
        "interval": [lo, hi],
        "samples": samples,
        "jensen_violations": int((gap > tolerance).sum()),
        "largest_jensen_gap": float(gap.max()),
        "negative_curvature_points": int((curvature < 0).sum()),
        "smallest_second_derivative": float(curvature.min()),
        "convex_on_samples": bool((gap <= tolerance).all() and (curvature >= 0).all()),
    }


_CONVEXITY: dict[str, tuple[Fn, Fn]] = {
    "0.5*x^2": (lambda x: 0.5 * x**2, lambda x: np.ones_like(x)),
    "cos(pi*x)": (lambda x: np.cos(np.pi * x), lambda x: -(np.pi**2) * np.cos(np.pi * x)),
    "exp(0.5*x)": (lambda x: np.exp(0.5 * x), lambda x: 0.25 * np.exp(0.5 * x)),
}


def lab_landscape() -> tuple[dict[str, Any], plt.Figure]:
    fig = plt.figure(figsize=(16, 8.5), layout="constrained")
    grid = fig.add_gridspec(2, 4)
    doc: dict[str, Any] = {}

    f = lambda x: x * np.cos(np.pi * x)  # noqa: E731 - d2l's example
    minima = local_minima(f, -1.0, 2.0)
    values = [float(f(np.array(m))) for m in minima]
    best = int(np.argmin(values))
    doc["local_vs_global"] = {
        "f": "x*cos(pi*x)",
        "interval": [-1.0, 2.0],
        "local_minima": minima,
        "values": values,
        "global_minimum": minima[best],
    }
    ax = fig.add_subplot(grid[0, 0])
    x = np.linspace(-1.0, 2.0, 400)
    ax.plot(x, f(x))
    for m, v, is_best in zip(minima, values, [i == best for i in range(len(minima))]):
        ax.annotate(
            "global minimum" if is_best else "local minimum",
            (m, v),
            xytext=(m - 0.4, v + 1.2 if is_best else v + 1.8),
            arrowprops={"arrowstyle": "->"},
            fontsize=8,
        )
    ax.set_title("x·cos(πx): a local minimum and the global one", fontsize=9)

    ax = fig.add_subplot(grid[0, 1])
    x = np.linspace(-2.0, 2.0, 400)
    ax.plot(x, x**3)
    ax.annotate("saddle point", (0, 0), xytext=(-0.5, -5.0), arrowprops={"arrowstyle": "->"}, fontsize=8)
    ax.set_title("x³: f'(0) = 0 but 0 is no minimum", fontsize=9)
    doc["saddle_1d"] = {"f": "x^3", "gradient_at_0": 0.0, "second_derivative_at_0": 0.0}

    ax = fig.add_subplot(grid[0, 2], projection="3d")
    x1, x2 = np.meshgrid(np.linspace(-1.0, 1.0, 41), np.linspace(-1.0, 1.0, 41))
    ax.plot_wireframe(x1, x2, x1**2 - x2**2, rstride=4, cstride=4, linewidth=0.6)
    ax.scatter([0], [0], [0], color="red", s=30)
    ax.set_title("x² - y²: a saddle (Hessian eigenvalues 2 and -2)", fontsize=9)
    doc["saddle_2d"] = {
        "f": "x^2 - y^2",
        "hessian_eigenvalues_at_0": [float(v) for v in np.linalg.eigvalsh(np.diag([2.0, -2.0]))],
    }

    ax = fig.add_subplot(grid[0, 3])
    x = np.linspace(-4.0, 4.0, 400)
    ax.plot(x, np.tanh(x), label="tanh(x)")
    ax.plot(x, 1 - np.tanh(x) ** 2, label="tanh'(x)")
    grad4 = 1 - math.tanh(4.0) ** 2
    ax.annotate(
        f"gradient at x=4: {grad4:.4f}",
        (4.0, math.tanh(4.0)),
        xytext=(0.5, 0.2),
        arrowprops={"arrowstyle": "->"},
        fontsize=8,
    )
    ax.legend(fontsize=8)
    ax.set_title("vanishing gradient: tanh saturates", fontsize=9)
    doc["vanishing_gradient"] = {"f": "tanh(x)", "gradient_at_4": grad4, "gradient_at_0": 1.0}

    doc["convexity"] = {}
    segment = (-1.5, 1.0)  # d2l draws the chord between these two points
    for i, (name, (fn, second)) in enumerate(_CONVEXITY.items()):
        check = convexity_check(fn, second, -2.0, 2.0)
        doc["convexity"][name] = check
        ax = fig.add_subplot(grid[1, i])
        x = np.linspace(-2.0, 2.0, 400)
        ax.plot(x, fn(x))
        ends = np.array(segment)
        ax.plot(ends, fn(ends), "r--o", markersize=4, label="chord")
        verdict = (
            "convex"
            if check["convex_on_samples"]
            else f"not convex: {check['jensen_violations']:,} of {check['samples']:,} samples break Jensen"
        )
        ax.set_title(f"{name}: {verdict}", fontsize=9)
        ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[1, 3])
    ax.axis("off")
    ax.text(
        0,
        0.5,
        "Convex f:  f(λa + (1-λ)b) ≤ λf(a) + (1-λ)f(b)\nfor all a, b and λ in [0, 1];\n"
        "for twice differentiable f: f'' ≥ 0.\n\nChecked on 10,000 random (a, b, λ)\n"
        "and 10,000 random points in [-2, 2].\n\nConvex functions have no local minima\nother than the global ones.",
        fontsize=10,
        va="center",
    )
    fig.suptitle(
        "Optimization landscapes: local minima, saddle points, vanishing gradients, convexity", fontsize=12
    )
    return doc, fig

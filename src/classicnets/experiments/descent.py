"""Gradient descent, Newton's method, preconditioning and SGD on small functions (seed 004's
"gradient descent" section, as d2l's optimization chapter runs them), with closed forms to
check against where one exists.

Each `lab_*` function returns (document, figure): the numbers for NAME.json and the picture.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from classicnets.reports.figures import plt

Fn1 = Callable[[float], float]
C = 0.15 * math.pi  # d2l's constant for the non-convex x * cos(c x)


# --- the functions, with their derivatives --------------------------------------------------


def square(x: float) -> float:
    return x * x


def square_grad(x: float) -> float:
    return 2 * x


def xcos(x: float) -> float:
    return x * math.cos(C * x)


def xcos_grad(x: float) -> float:
    return math.cos(C * x) - C * x * math.sin(C * x)


def xcos_hess(x: float) -> float:
    return -2 * C * math.sin(C * x) - C * C * x * math.cos(C * x)


def cosh_c(x: float, c: float = 0.5) -> float:
    return math.cosh(c * x)


def cosh_grad(x: float, c: float = 0.5) -> float:
    return c * math.sinh(c * x)


def cosh_hess(x: float, c: float = 0.5) -> float:
    return c * c * math.cosh(c * x)


def quad2d(x: np.ndarray, a: float = 1.0, b: float = 2.0) -> Any:
    """a·x1² + b·x2² of a point (2,) or of a grid (2, ...) at once."""
    return a * x[0] ** 2 + b * x[1] ** 2


def quad2d_grad(x: np.ndarray, a: float = 1.0, b: float = 2.0) -> np.ndarray:
    return np.array([2 * a * x[0], 2 * b * x[1]])


# --- the methods ------------------------------------------------------------------------------


def gd_1d(grad: Fn1, x0: float, lr: float, steps: int) -> list[float]:
    """x_{k+1} = x_k - lr * f'(x_k); the whole trajectory, x_0 included."""
    xs = [x0]
    for _ in range(steps):
        x = xs[-1]
        xs.append(x - lr * grad(x) if math.isfinite(x) else x)
    return xs


def newton_1d(grad: Fn1, hess: Fn1, x0: float, lr: float, steps: int) -> list[float]:
    """x_{k+1} = x_k - lr * f'(x_k) / f''(x_k) (d2l divides by |f''| only in its fix; this is
    the plain method, which heads for any stationary point, maxima included)."""
    xs = [x0]
    for _ in range(steps):
        x = xs[-1]
        xs.append(x - lr * grad(x) / hess(x))
    return xs


def gd_2d(
    grad: Callable[[np.ndarray], np.ndarray],
    x0: Sequence[float] | np.ndarray,
    lr: float,
    steps: int,
    precondition: np.ndarray | None = None,
) -> np.ndarray:
    """Gradient descent in 2-D, optionally with a diagonal preconditioner: x -= lr * P * grad."""
    xs = [np.asarray(x0, dtype=float)]
    p = np.ones(2) if precondition is None else precondition
    for _ in range(steps):
        xs.append(xs[-1] - lr * p * grad(xs[-1]))
    return np.array(xs)


def gd_line_search(
    f: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], np.ndarray],
    x0: Sequence[float],
    steps: int,
    lr0: float = 1.0,
    shrink: float = 0.5,
    armijo: float = 1e-4,
) -> np.ndarray:
    """Gradient descent with a backtracking (Armijo) line search: start from lr0 and halve the
    step until it decreases f enough."""
    xs = [np.asarray(x0, dtype=float)]
    for _ in range(steps):
        x, g = xs[-1], grad(xs[-1])
        lr = lr0
        while f(x - lr * g) > f(x) - armijo * lr * float(g @ g) and lr > 1e-12:
            lr *= shrink
        xs.append(x - lr * g)
    return np.array(xs)


def sgd_2d(
    x0: Sequence[float], lr_at: Callable[[int], float], steps: int, seed: int = 0, noise: float = 1.0
) -> np.ndarray:
    """d2l's SGD on f = x1^2 + 2 x2^2 with the gradient plus N(0, noise^2) per coordinate."""
    rng = np.random.default_rng(seed)
    xs = [np.asarray(x0, dtype=float)]
    for t in range(steps):
        g = quad2d_grad(xs[-1]) + rng.normal(0.0, noise, 2)
        xs.append(xs[-1] - lr_at(t) * g)
    return np.array(xs)


def _contour(
    ax: plt.Axes, f2: Callable[[np.ndarray], float], xlim: tuple[float, float], ylim: tuple[float, float]
) -> None:
    x1, x2 = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    ax.contour(x1, x2, f2(np.stack([x1, x2])), levels=20, colors="#7f7f7f", linewidths=0.6)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")


def _curve(ax: plt.Axes, f: Fn1, xs: list[float], lo: float, hi: float, label: str) -> None:
    grid = np.linspace(lo, hi, 400)
    ax.plot(grid, [f(g) for g in grid], color="#7f7f7f", linewidth=1)
    finite = [x for x in xs if math.isfinite(x) and lo <= x <= hi]
    ax.plot(finite, [f(x) for x in finite], "-o", markersize=3.5, label=label)


# --- the labs ---------------------------------------------------------------------------------


def lab_gd(steps: int = 10, steps_2d: int = 20) -> tuple[dict[str, Any], plt.Figure]:
    """Learning rates too small, right and too large, in 1-D (convex and not) and 2-D."""
    fig, axes = plt.subplots(3, 3, figsize=(13, 11), layout="constrained")
    doc: dict[str, Any] = {"square": [], "xcos": [], "quad2d": []}
    x0 = 10.0
    for ax, lr, verdict in zip(axes[0], (0.05, 0.2, 1.1), ("too small", "right", "too large")):
        xs = gd_1d(square_grad, x0, lr, steps)
        closed_1d = [x0 * (1 - 2 * lr) ** k for k in range(steps + 1)]
        doc["square"].append(
            {
                "lr": lr,
                "verdict": verdict,
                "x": xs,
                "closed_form": closed_1d,
                "max_error_vs_closed_form": max(abs(a - b) for a, b in zip(xs, closed_1d)),
            }
        )
        bound = max(10.0, min(60.0, max(abs(x) for x in xs)))
        _curve(ax, square, xs, -bound, bound, f"lr {lr}")
        ax.set_title(f"f(x) = x², lr {lr} ({verdict}): x_k = {1 - 2 * lr:+.2f}^k · 10", fontsize=9)
    for ax, lr, verdict in zip(axes[1], (0.05, 0.5, 2.0), ("too small", "right", "too large")):
        xs = gd_1d(xcos_grad, x0, lr, steps)
        doc["xcos"].append({"lr": lr, "verdict": verdict, "c": C, "x": xs, "f": [xcos(x) for x in xs]})
        _curve(ax, xcos, xs, -13, 13, f"lr {lr}")
        ax.set_title(f"f(x) = x·cos(0.15πx), lr {lr} ({verdict}): ends at f = {xcos(xs[-1]):.2f}", fontsize=9)
    start = np.array([-5.0, -2.0])
    for ax, lr, verdict in zip(axes[2], (0.02, 0.1, 0.52), ("too small", "right", "too large")):
        trajectory = gd_2d(quad2d_grad, start, lr, steps_2d)
        k = np.arange(steps_2d + 1)
        closed = np.stack([start[0] * (1 - 2 * lr) ** k, start[1] * (1 - 4 * lr) ** k], axis=1)
        doc["quad2d"].append(
            {
                "lr": lr,
                "verdict": verdict,
                "x": trajectory.tolist(),
                "closed_form": closed.tolist(),
                "max_error_vs_closed_form": float(np.abs(trajectory - closed).max()),
                "final_f": quad2d(trajectory[-1]),
            }
        )
        _contour(ax, quad2d, (-5.5, 2.0), (-3.0, 3.0))
        ax.plot(trajectory[:, 0], trajectory[:, 1], "-o", color="tab:orange", markersize=3)
        ax.set_title(
            f"f = x1² + 2·x2², lr {lr} ({verdict}): f = {quad2d(trajectory[-1]):.3g} after {steps_2d}",
            fontsize=9,
        )
    fig.suptitle("Gradient descent and the learning rate", fontsize=12)
    return doc, fig


def lab_newton(steps: int = 10) -> tuple[dict[str, Any], plt.Figure]:
    """Newton's method against gradient descent, and preconditioning on an ill-conditioned bowl."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 9.5), layout="constrained")
    doc: dict[str, Any] = {}
    x0 = 10.0
    newton = newton_1d(cosh_grad, cosh_hess, x0, 1.0, steps)
    gd = gd_1d(cosh_grad, x0, 0.5, steps)
    doc["cosh"] = {"c": 0.5, "newton": {"lr": 1.0, "x": newton}, "gd": {"lr": 0.5, "x": gd}}
    ax = axes[0, 0]
    _curve(ax, cosh_c, newton, -11, 11, "Newton, lr 1")
    _curve(ax, cosh_c, gd, -11, 11, "GD, lr 0.5")
    ax.set_title(f"convex f = cosh(0.5x): Newton reaches {newton[-1]:.1e}, GD {gd[-1]:.2f}", fontsize=9)
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    doc["xcos"] = {"c": C}
    for lr in (1.0, 0.5):
        xs = newton_1d(xcos_grad, xcos_hess, x0, lr, steps)
        doc["xcos"][f"newton_lr_{lr}"] = {
            "x": xs,
            "f": [xcos(x) for x in xs],
            "hessian_at_end": xcos_hess(xs[-1]),
        }
        _curve(ax, xcos, xs, -15, 25, f"Newton, lr {lr}: f'' = {xcos_hess(xs[-1]):+.2f} at the end")
    xs = gd_1d(xcos_grad, x0, 0.5, steps)
    doc["xcos"]["gd_lr_0.5"] = {"x": xs, "f": [xcos(x) for x in xs]}
    _curve(ax, xcos, xs, -15, 25, "GD, lr 0.5")
    ax.set_title("non-convex f = x·cos(0.15πx): Newton heads for any stationary point", fontsize=9)
    ax.legend(fontsize=7)

    # An ill-conditioned bowl: curvatures 2 and 40. Plain GD must keep lr < 2/40 and crawls along x1.
    a, b = 1.0, 20.0
    f2 = lambda x: quad2d(x, a, b)  # noqa: E731
    g2 = lambda x: quad2d_grad(x, a, b)  # noqa: E731
    start = [-5.0, -2.0]
    runs = {
        "gd": gd_2d(g2, start, 0.045, 20),
        "gd_diag_preconditioner": gd_2d(g2, start, 0.45, 20, precondition=1 / np.array([2 * a, 2 * b])),
        "gd_line_search": gd_line_search(f2, g2, start, 20),
        "newton": gd_2d(g2, start, 1.0, 20, precondition=1 / np.array([2 * a, 2 * b])),
    }
    doc["ill_conditioned"] = {
        "f": f"{a:g}*x1^2 + {b:g}*x2^2",
        "start": start,
        **{k: {"x": v.tolist(), "f": [f2(p) for p in v]} for k, v in runs.items()},
        "newton_one_step_error": float(np.abs(runs["newton"][1]).max()),
    }
    ax = axes[1, 0]
    _contour(ax, f2, (-5.5, 1.5), (-2.5, 2.5))
    for name, path in runs.items():
        ax.plot(path[:, 0], path[:, 1], "-o", markersize=2.5, label=name.replace("_", " "))
    ax.legend(fontsize=8)
    ax.set_title(
        f"f = x1² + {b:g}·x2²: a diagonal preconditioner (here the exact Hessian) evens the curvatures",
        fontsize=9,
    )
    ax = axes[1, 1]
    for name, path in runs.items():
        ax.semilogy([max(f2(p), 1e-30) for p in path], "-o", markersize=2.5, label=name.replace("_", " "))
    ax.set_xlabel("iteration")
    ax.set_ylabel("f(x)")
    ax.legend(fontsize=8)
    ax.set_title("the same four methods, objective per iteration", fontsize=9)
    fig.suptitle("Newton's method and preconditioning", fontsize=12)
    return doc, fig


def lab_sgd(steps: int = 50, seed: int = 0, repeats: int = 20) -> tuple[dict[str, Any], plt.Figure]:
    """SGD with a constant, an exponentially and a polynomially decaying learning rate (d2l runs
    the exponential schedule for 1,000 steps: it still stalls short of the optimum)."""
    eta = 0.1
    schedules: dict[str, tuple[Callable[[int], float], int, str]] = {
        "constant": (lambda t: eta, steps, "η = 0.1"),
        "exponential": (lambda t: eta * math.exp(-0.1 * t), 1000, "η_t = 0.1·exp(-0.1 t)"),
        "polynomial": (lambda t: eta * (1 + 0.1 * t) ** -0.5, steps, "η_t = 0.1·(1 + 0.1 t)^-0.5"),
    }
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.3), layout="constrained")
    doc: dict[str, Any] = {
        "f": "x1^2 + 2*x2^2",
        "gradient_noise": "N(0, 1) per coordinate",
        "seed": seed,
        "start": [-5.0, -2.0],
        "schedules": {},
    }
    for ax, (name, (lr_at, n, formula)) in zip(axes, schedules.items()):
        path = sgd_2d([-5.0, -2.0], lr_at, n, seed)
        finals = [quad2d(sgd_2d([-5.0, -2.0], lr_at, n, seed + r)[-1]) for r in range(repeats)]
        doc["schedules"][name] = {
            "formula": formula,
            "steps": n,
            "x": path.tolist(),
            "final_f": quad2d(path[-1]),
            "lr": [lr_at(t) for t in range(n)],
            "mean_final_f": float(np.mean(finals)),
            "seeds": repeats,
        }
        _contour(ax, quad2d, (-5.5, 2.0), (-3.0, 3.0))
        ax.plot(path[:, 0], path[:, 1], "-o", color="tab:orange", markersize=2.5)
        ax.set_title(
            f"{name}: {formula}\nfinal f {quad2d(path[-1]):.3f} (mean of {repeats} seeds {np.mean(finals):.3f})",
            fontsize=9,
        )
        axes[3].loglog(np.arange(1, len(path) + 1), [quad2d(p) for p in path], label=name)
    axes[3].set_xlabel("step + 1")
    axes[3].set_ylabel("f(x)")
    axes[3].legend(fontsize=8)
    axes[3].set_title("objective per step (one seed)", fontsize=9)
    fig.suptitle("Stochastic gradient descent with a dynamic learning rate", fontsize=12)
    return doc, fig

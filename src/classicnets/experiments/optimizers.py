"""Seed 004's `train_pytorch_ch7`: a linear model fitted by minibatch SGD at several batch
sizes and by PyTorch's optimizers, the loss (MSE / 2 over all examples) recorded every 100
examples, drawn against epochs and against seconds.

The data is d2l's: NASA airfoil self-noise, 1,500 x 5, standardised (shipped in the package).
The hyperparameters are d2l's chapter 7 ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from classicnets.data.airfoil import AIRFOIL_SOURCE, load_airfoil
from classicnets.reports.figures import plt


@dataclass(frozen=True)
class OptimizerRun:
    label: str
    optimizer: str  # a torch.optim class name
    hyperparams: dict[str, float] = field(default_factory=dict)
    batch_size: int = 10
    epochs: int = 2
    # d2l's from-scratch runs (GD, SGD, minibatch SGD) start from w ~ N(0, 0.01), b = 0; its
    # PyTorch-optimizer runs from nn.Linear's default initialisation.
    small_init: bool = False


# d2l's chapter 7: GD (batch 1500, lr 1, 6 epochs), SGD (batch 1, lr 0.005), minibatch SGD
# (batch 10, lr 0.05), then the optimizers at batch 10 with their sections' hyperparameters.
D2L_RUNS = (
    OptimizerRun("GD, batch 1500", "SGD", {"lr": 1.0}, batch_size=1500, epochs=6, small_init=True),
    OptimizerRun("SGD, batch 1", "SGD", {"lr": 0.005}, batch_size=1, small_init=True),
    OptimizerRun("minibatch SGD, batch 10", "SGD", {"lr": 0.05}, batch_size=10, small_init=True),
    OptimizerRun("minibatch SGD, batch 100", "SGD", {"lr": 0.4}, batch_size=100, small_init=True),
    OptimizerRun("momentum 0.9", "SGD", {"lr": 0.004, "momentum": 0.9}),
    OptimizerRun("Adagrad", "Adagrad", {"lr": 0.1}),
    OptimizerRun("RMSprop", "RMSprop", {"lr": 0.01, "alpha": 0.9}),
    OptimizerRun("Adadelta", "Adadelta", {"rho": 0.9}),
    OptimizerRun("Adam", "Adam", {"lr": 0.01}),
)


@dataclass
class Trace:
    run: OptimizerRun
    epochs: list[float]  # x of each recorded loss, in epochs
    seconds: list[float]  # training time at each record (loss evaluations excluded)
    losses: list[float]


def train_pytorch_ch7(
    run: OptimizerRun, features: torch.Tensor, labels: torch.Tensor, seed: int = 0
) -> Trace:
    """The seed's function: a Linear(5, 1) model, MSELoss / 2, shuffled minibatches; the loss
    over all examples before training and whenever a multiple of 100 examples has been seen."""
    torch.manual_seed(seed)
    linear = nn.Linear(features.shape[-1], 1)
    net = nn.Sequential(linear)
    if run.small_init:
        with torch.no_grad():
            linear.weight.normal_(0.0, 0.01)
            linear.bias.zero_()
    loss = nn.MSELoss()
    optimizer = getattr(torch.optim, run.optimizer)(net.parameters(), **run.hyperparams)
    generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def eval_loss() -> float:
        return float(loss(net(features).view(-1), labels)) / 2

    n = len(features)
    batches = -(-n // run.batch_size)
    losses, epochs, seconds, elapsed = [eval_loss()], [0.0], [0.0], 0.0
    for epoch in range(run.epochs):
        order = torch.randperm(n, generator=generator)
        for batch_i in range(batches):
            start = time.perf_counter()
            index = order[batch_i * run.batch_size : (batch_i + 1) * run.batch_size]
            l = loss(net(features[index]).view(-1), labels[index]) / 2  # noqa: E741 - the seed's name
            optimizer.zero_grad()
            l.backward()
            optimizer.step()
            elapsed += time.perf_counter() - start
            if (batch_i + 1) * run.batch_size % 100 == 0:
                losses.append(eval_loss())
                epochs.append(epoch + (batch_i + 1) / batches)
                seconds.append(elapsed)
    return Trace(run=run, epochs=epochs, seconds=seconds, losses=losses)


def least_squares_loss(features: torch.Tensor, labels: torch.Tensor) -> float:
    """The best loss a linear model can reach (closed-form least squares), for reference."""
    x = np.hstack([features.double().numpy(), np.ones((len(features), 1))])
    w, *_ = np.linalg.lstsq(x, labels.double().numpy(), rcond=None)
    return float(np.mean((x @ w - labels.double().numpy()) ** 2) / 2)


def lab_optimizers(
    runs: tuple[OptimizerRun, ...] = D2L_RUNS, seed: int = 0
) -> tuple[dict[str, Any], plt.Figure]:
    features, labels = load_airfoil()
    floor = least_squares_loss(features, labels)
    # The loss's Hessian is X^T X / n (plus the bias row); GD diverges along its top
    # eigenvector once lr > 2 / lambda_max, and d2l's lr 1 sits just past that edge.
    x1 = torch.cat([features, torch.ones(len(features), 1)], dim=1).double()
    lambda_max = float(torch.linalg.eigvalsh(x1.T @ x1 / len(x1)).max())
    traces = [train_pytorch_ch7(run, features, labels, seed) for run in runs]
    fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(14, 5.5), layout="constrained")
    for trace in traces:
        by_epoch.plot(trace.epochs, trace.losses, label=trace.run.label)
        by_time.plot(
            trace.seconds[1:], trace.losses[1:], label=trace.run.label
        )  # t = 0 has no place on a log axis
    for ax, xlabel in ((by_epoch, "epoch"), (by_time, "seconds of training (loss evaluations excluded)")):
        ax.axhline(floor, color="black", linestyle=":", linewidth=1, label=f"least squares {floor:.4f}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss (MSE / 2)")
        ax.set_ylim(floor * 0.95, 0.6)
        ax.grid(alpha=0.3)
    by_time.set_xscale("log")
    by_epoch.legend(fontsize=8)
    fig.suptitle(
        "train_pytorch_ch7: a linear model on airfoil self-noise (1,500 x 5), loss every 100 examples",
        fontsize=11,
    )
    doc = {
        "data": AIRFOIL_SOURCE,
        "examples": len(features),
        "features": features.shape[1],
        "seed": seed,
        "least_squares_loss": floor,
        "hessian_max_eigenvalue": lambda_max,
        "largest_stable_gd_lr": 2 / lambda_max,
        "runs": [
            {
                "label": t.run.label,
                "optimizer": t.run.optimizer,
                "hyperparams": t.run.hyperparams,
                "batch_size": t.run.batch_size,
                "epochs": t.run.epochs,
                "init": "N(0, 0.01), b = 0" if t.run.small_init else "nn.Linear default",
                "final_loss": t.losses[-1],
                "seconds": t.seconds[-1],
                "epoch_axis": t.epochs,
                "seconds_axis": t.seconds,
                "loss": t.losses,
            }
            for t in traces
        ],
    }
    return doc, fig

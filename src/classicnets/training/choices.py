"""The named choices of a training run, each a table from name to what it does: optimizers,
learning-rate schedules, losses and initialisations. The configuration validates against
these tables' keys and the `train` command offers them, so a new entry needs one edit.

This module is imported without PyTorch (the command line's --help lists the names), so the
functions import it when they are called."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

    from classicnets.training.config import TrainConfig

LossFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]


# --- optimizers: (parameters, config) -> torch.optim.Optimizer -------------------------------------


def _torch_optimizer(
    name: str, **fixed: Any
) -> Callable[[Iterable[Any], TrainConfig], torch.optim.Optimizer]:
    def build(params: Iterable[Any], config: TrainConfig) -> torch.optim.Optimizer:
        import torch

        return getattr(torch.optim, name)(params, lr=config.lr, weight_decay=config.weight_decay, **fixed)

    return build


def _sgd_with_momentum(nesterov: bool) -> Callable[[Iterable[Any], TrainConfig], torch.optim.Optimizer]:
    def build(params: Iterable[Any], config: TrainConfig) -> torch.optim.Optimizer:
        import torch

        return torch.optim.SGD(
            params,
            lr=config.lr,
            momentum=config.momentum,
            nesterov=nesterov,
            weight_decay=config.weight_decay,
        )

    return build


OPTIMIZERS: dict[str, Callable[[Iterable[Any], TrainConfig], torch.optim.Optimizer]] = {
    "sgd": _torch_optimizer("SGD"),
    "momentum": _sgd_with_momentum(nesterov=False),
    "nesterov": _sgd_with_momentum(nesterov=True),
    "adam": _torch_optimizer("Adam"),
    "adamw": _torch_optimizer("AdamW"),
    "adagrad": _torch_optimizer("Adagrad"),
    "rmsprop": _torch_optimizer("RMSprop"),
    "adadelta": _torch_optimizer("Adadelta"),
}


# --- schedules: (progress in [0, 1), config, total steps) -> factor of the base learning rate ---------
# A pure function of the step, so a resumed run lands on exactly the rate the uninterrupted one used.


def _constant(_progress: float, _config: TrainConfig, _total: int) -> float:
    return 1.0


def _step(progress: float, _config: TrainConfig, _total: int) -> float:
    return 0.1 ** int(progress * 3)  # /10 after each third of the run


def _cosine(progress: float, config: TrainConfig, total: int) -> float:
    warmup = config.warmup_epochs / max(config.epochs, 1)
    if progress < warmup:
        return (progress + 1 / max(total, 1)) / warmup
    return 0.5 * (1 + math.cos(math.pi * (progress - warmup) / max(1 - warmup, 1e-8)))


def _onecycle(progress: float, _config: TrainConfig, _total: int) -> float:
    # Linear warm-up from lr/25 over the first quarter, then linear decay towards zero: the
    # triangle that super-convergence work (and airbench) uses.
    peak = 0.25
    if progress < peak:
        return 0.04 + 0.96 * progress / peak
    return max(1.0 - (progress - peak) / (1 - peak), 0.0) * 0.999 + 0.001


SCHEDULES: dict[str, Callable[[float, TrainConfig, int], float]] = {
    "constant": _constant,
    "step": _step,
    "cosine": _cosine,
    "onecycle": _onecycle,
}


# --- losses: config -> (outputs, labels) -> loss ---------------------------------------------------


def _bce(_config: TrainConfig) -> LossFn:
    import torch.nn.functional as F

    return lambda out, y: F.binary_cross_entropy(out.float(), y)


def _nll(config: TrainConfig) -> LossFn:
    import torch.nn.functional as F

    if config.label_smoothing:
        # Cross-entropy of log-probabilities equals NLL (log_softmax is idempotent), and it smooths.
        return _cross_entropy(config)
    return lambda out, y: F.nll_loss(out.float(), y)


def _cross_entropy(config: TrainConfig) -> LossFn:
    import torch.nn.functional as F

    return lambda out, y: F.cross_entropy(out.float(), y, label_smoothing=config.label_smoothing)


LOSSES: dict[str, Callable[[TrainConfig], LossFn]] = {
    "cross_entropy": _cross_entropy,
    "nll": _nll,
    "bce": _bce,
}


# --- initialisations: model -> None, in place ------------------------------------------------------


def _xavier(model: nn.Module) -> None:
    from classicnets.models import init_book_weights

    init_book_weights(model)


def _kaiming(model: nn.Module) -> None:
    from classicnets.models import init_kaiming_weights

    init_kaiming_weights(model)


def _default(_model: nn.Module) -> None:
    """PyTorch's own initialisation, as the layers were built."""


INITS: dict[str, Callable[[nn.Module], None]] = {"xavier": _xavier, "default": _default, "kaiming": _kaiming}

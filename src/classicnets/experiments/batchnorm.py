"""The BatchNorm lab (seed 004): what batch normalisation does in LeNet, and why BN networks'
test accuracy jumps from epoch to epoch.

Training normalises with each batch's statistics; evaluation with moving averages collected
during training (per channel after a convolution, per feature after a linear layer). With the
book's large learning rate (1.0 for LeNet-BN) the weights move far in one epoch, and the moving
averages, which weight the last ~10 batches (momentum 0.1; 0.9 in the book's convention), lag
behind the network they are used with. The lab measures, per epoch, the test accuracy with the
moving averages, with statistics re-estimated over training batches at the epoch's final
weights ("precise BN"), and with each test batch's own statistics; the re-estimated ones are
the fix.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from classicnets.data.batches import BatchIterator
from classicnets.data.split import Split
from classicnets.errors import ClassicnetsError
from classicnets.experiments.output import ExperimentOutput, write_experiment
from classicnets.models.layers import BookBatchNorm
from classicnets.reports.figures import plt
from classicnets.trainer import run
from classicnets.training.measure import accuracy
from classicnets.training.observers import Observer, RunState
from classicnets.training.recipes import recipe_config
from classicnets.training.setup import make_batches
from classicnets.training.step import Batches

BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, BookBatchNorm)


def batchnorm_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, module) for name, module in model.named_modules() if isinstance(module, BN_TYPES)]


def _running(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(module, BookBatchNorm):
        return module.moving_mean.flatten(), module.moving_var.flatten()
    mean, var = module.running_mean, module.running_var
    if not isinstance(mean, torch.Tensor) or not isinstance(var, torch.Tensor):
        raise ClassicnetsError(
            f"{type(module).__name__} keeps no running statistics (track_running_stats=False)"
        )
    return mean, var


def _batch_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (4-D input) or per-feature (2-D input) mean and biased variance."""
    dims = (0, 2, 3) if x.ndim == 4 else (0,)
    return x.mean(dim=dims), x.var(dim=dims, unbiased=False)


@torch.no_grad()
def population_statistics(
    model: nn.Module, batches: Iterable[torch.Tensor], num_batches: int
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Each BN layer's input mean and variance averaged over `num_batches` training batches,
    the network running as in training (every BN layer normalising with its batch's statistics).
    The model is left as it was."""
    probe = copy.deepcopy(model)
    sums: dict[str, list[torch.Tensor]] = {}

    def hook(name: str) -> Callable[[nn.Module, tuple[torch.Tensor, ...]], None]:
        def record(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            mean, var = _batch_stats(args[0].float())
            if name in sums:
                sums[name][0] += mean
                sums[name][1] += var
            else:
                sums[name] = [mean.clone(), var.clone()]

        return record

    for name, module in batchnorm_layers(probe):
        module.register_forward_pre_hook(hook(name))
    probe.train()
    for module in probe.modules():
        if isinstance(module, nn.Dropout):
            module.eval()
    seen = 0
    for x in batches:
        if seen == num_batches:
            break
        probe(x)
        seen += 1
    return {name: (mean / seen, var / seen) for name, (mean, var) in sums.items()}


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module, batches: Iterable[torch.Tensor], num_batches: int = 50
) -> nn.Module:
    """Replace every BN layer's moving averages by statistics re-estimated over training batches
    at the current weights (the fix for stale moving averages). Returns `model`."""
    stats = population_statistics(model, batches, num_batches)
    for name, module in batchnorm_layers(model):
        mean, var = stats[name]
        running_mean, running_var = _running(module)
        running_mean.copy_(mean.reshape(running_mean.shape))
        running_var.copy_(var.reshape(running_var.shape))
    return model


@torch.no_grad()
def batch_stat_accuracy(model: nn.Module, batches: Batches) -> float:
    """Test accuracy with every BN layer using the test batch's own statistics (train mode)."""
    probe = copy.deepcopy(model).train()
    correct = total = 0
    for x, y in batches.iter_epoch(0):
        correct += int((probe(x).argmax(1) == y).sum())
        total += len(y)
    return correct / total


def _train_inputs(train: Batches) -> Iterable[torch.Tensor]:
    # A fixed, unaugmented pass over the training set: deterministic and free of global RNG use.
    if not isinstance(train, BatchIterator):
        raise ClassicnetsError(
            "the BatchNorm diagnostics need a data set of pictures, not seed 003's toy pairs"
        )
    plain = BatchIterator(
        Split(train.images, train.labels),
        replace(train.config, shuffle=True, crop_padding=0, flip=False, seed=12345),
        device=train.device,
    )
    return (x for x, _ in plain.iter_epoch(0))


class EpochDiagnostics(Observer):
    """Every epoch: test accuracy with moving averages re-estimated (from `num_batches` training
    batches), with batch statistics, and how far the moving averages are from the re-estimated ones."""

    def __init__(self, num_batches: int) -> None:
        self.num_batches = num_batches

    def measure(self, run: RunState) -> dict[str, Any]:
        model, parts, num_batches = run.model, run.parts, self.num_batches
        device = next(model.parameters()).device
        fixed = recalibrate_batchnorm(copy.deepcopy(model), _train_inputs(parts.train_batches), num_batches)
        gaps = {}
        for (name, stale), (_, fresh) in zip(batchnorm_layers(model), batchnorm_layers(fixed)):
            stale_mean, _stale_var = _running(stale)
            fresh_mean, fresh_var = _running(fresh)
            # the shift of the moving mean, in units of the true standard deviation
            gaps[name] = float(((stale_mean - fresh_mean).abs() / fresh_var.sqrt().clamp(min=1e-5)).mean())
        return {
            "test_acc_recalibrated": accuracy(fixed, parts.test_batches, device),
            "test_acc_batch_stats": batch_stat_accuracy(model, parts.test_batches),
            "moving_mean_gap": gaps,
        }


@torch.no_grad()
def mode_differences(model: nn.Module, x: torch.Tensor) -> dict[str, dict[str, float]]:
    """For each BN layer, how its output on the batch `x` differs between train mode (batch
    statistics) and eval mode (moving averages), relative to the output's spread."""
    outputs: dict[str, dict[str, torch.Tensor]] = {}

    def capture(mode: str) -> Callable[[str], Callable[[nn.Module, Any, torch.Tensor], None]]:
        def hook(name: str) -> Callable[[nn.Module, Any, torch.Tensor], None]:
            def record(_module: nn.Module, _args: Any, out: torch.Tensor) -> None:
                outputs.setdefault(name, {})[mode] = out.float()

            return record

        return hook

    result: dict[str, dict[str, float]] = {}
    for mode in ("train", "eval"):
        probe = copy.deepcopy(model).train(mode == "train")
        handles = [m.register_forward_hook(capture(mode)(name)) for name, m in batchnorm_layers(probe)]
        logits = probe(x)
        outputs.setdefault("(logits)", {})[mode] = logits.float()
        for handle in handles:
            handle.remove()
    for name, pair in outputs.items():
        diff = (pair["train"] - pair["eval"]).abs()
        result[name] = {
            "mean_abs_diff": float(diff.mean()),
            "relative": float(diff.mean() / pair["eval"].std().clamp(min=1e-12)),
        }
    result["(logits)"]["predictions_changed"] = float(
        (outputs["(logits)"]["train"].argmax(1) != outputs["(logits)"]["eval"].argmax(1)).double().mean()
    )
    return result


def lab_batchnorm(
    *,
    out_dir: str | Path | None = None,
    epochs: int | None = None,
    limit: int | None = None,
    recalibrate_batches: int = 50,
    data_dir: str | None = None,
    show_progress: bool = True,
    log: Any = print,
) -> tuple[dict[str, Any], plt.Figure]:
    """Train LeNet and LeNet-BN with the book's recipes side by side (into OUT/batchnorm-runs),
    measuring the BN network's test accuracy three ways every epoch, then look inside it."""
    out = Path(out_dir) if out_dir is not None else Path("runs") / "experiments"
    overrides: dict[str, Any] = {"data_dir": data_dir}
    if epochs is not None:
        overrides["epochs"] = epochs
    if limit is not None:
        overrides["limit"] = limit
    plain = run(
        recipe_config("lenet", "book", **overrides),
        out=out / "batchnorm-runs" / "lenet",
        overwrite=True,
        show_progress=show_progress,
        log=log,
    )
    bn = run(
        recipe_config("lenet_bn", "book", **overrides),
        out=out / "batchnorm-runs" / "lenet_bn",
        overwrite=True,
        show_progress=show_progress,
        log=log,
        observers=[EpochDiagnostics(recalibrate_batches)],
    )
    model = bn.model.eval()
    parts_device = next(model.parameters()).device
    # Look inside the trained network with one training batch and the population statistics.
    batches = make_batches(bn.config, parts_device, show_progress=False)
    train_batches, test_batches = batches.train, batches.test
    population = population_statistics(model, _train_inputs(train_batches), recalibrate_batches)
    one_batch = population_statistics(model, _train_inputs(train_batches), 1)
    layers = []
    for name, module in batchnorm_layers(model):
        running_mean, running_var = _running(module)
        kind = (
            "per channel (convolution)"
            if isinstance(module, nn.BatchNorm2d) or getattr(module, "num_dims", 2) == 4
            else "per feature (linear)"
        )
        layers.append(
            {
                "name": name,
                "type": type(module).__name__,
                "normalises": kind,
                "size": running_mean.numel(),
                "running_mean": running_mean.tolist(),
                "running_var": running_var.tolist(),
                "population_mean": population[name][0].tolist(),
                "population_var": population[name][1].tolist(),
                "batch_mean": one_batch[name][0].tolist(),
                "batch_var": one_batch[name][1].tolist(),
            }
        )
    x_test = next(test_batches.iter_epoch(0))[0]
    modes = mode_differences(model, x_test)
    fixed = recalibrate_batchnorm(copy.deepcopy(model), _train_inputs(train_batches), recalibrate_batches)
    final = {
        "test_acc_moving_averages": accuracy(model, test_batches, parts_device),
        "test_acc_recalibrated": accuracy(fixed, test_batches, parts_device),
        "test_acc_batch_stats": batch_stat_accuracy(model, test_batches),
    }
    # How jumpy each curve is: the mean size of the change from one epoch to the next.
    jumps = {
        key: float(np.mean(np.abs(np.diff([r[key] for r in bn.metrics])))) if len(bn.metrics) > 1 else 0.0
        for key in ("test_acc", "test_acc_recalibrated", "test_acc_batch_stats")
    }
    doc = {
        "runs": {"lenet": str(plain.run_dir), "lenet_bn": str(bn.run_dir)},
        "mean_epoch_to_epoch_change": {
            "moving_averages": jumps["test_acc"],
            "recalibrated": jumps["test_acc_recalibrated"],
            "batch_stats": jumps["test_acc_batch_stats"],
        },
        "recipe": "book",
        "epochs": bn.config.epochs,
        "limit": bn.config.limit,
        "recalibrate_batches": recalibrate_batches,
        "curves": {"lenet": plain.metrics, "lenet_bn": bn.metrics},
        "final": final,
        "layers": layers,
        "train_vs_eval_mode": modes,
    }
    return doc, plot_batchnorm(doc)


def plot_batchnorm(doc: dict[str, Any]) -> plt.Figure:
    fig, axes = plt.subplots(2, 3, figsize=(17, 9.5), layout="constrained")
    plain, bn = doc["curves"]["lenet"], doc["curves"]["lenet_bn"]
    ax = axes[0, 0]
    for rows, label, color in ((plain, "LeNet", "tab:blue"), (bn, "LeNet-BN", "tab:orange")):
        epochs = [r["epoch"] for r in rows]
        ax.plot(epochs, [r["train_acc"] for r in rows], "-", color=color, label=f"{label} train acc")
        ax.plot(
            epochs, [r["test_acc"] for r in rows], "--o", color=color, markersize=3, label=f"{label} test acc"
        )
        ax.plot(epochs, [r["train_loss"] for r in rows], ":", color=color, label=f"{label} train loss")
    ax.set_xlabel("epoch")
    ax.set_ylim(0, 1.6)
    ax.legend(fontsize=7, ncols=2)
    ax.set_title("LeNet with and without BatchNorm (book recipes: sigmoid, SGD lr 0.9 / 1.0)", fontsize=9)

    ax = axes[0, 1]
    epochs = [r["epoch"] for r in bn]
    ax.plot(epochs, [r["test_acc"] for r in bn], "-o", markersize=3, label="moving averages (eval mode)")
    ax.plot(
        epochs,
        [r["test_acc_recalibrated"] for r in bn],
        "-o",
        markersize=3,
        label=f"re-estimated over {doc['recalibrate_batches']} training batches",
    )
    ax.plot(
        epochs,
        [r["test_acc_batch_stats"] for r in bn],
        "-o",
        markersize=3,
        label="each test batch's statistics",
    )
    ax.plot(epochs, [r["train_acc"] for r in bn], ":", color="gray", label="train acc (during the epoch)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7)
    ax.set_title("LeNet-BN's test accuracy, three ways: the jumps are the moving averages", fontsize=9)

    ax = axes[0, 2]
    names = list(bn[0]["moving_mean_gap"]) if bn else []
    for name in names:
        ax.plot(epochs, [r["moving_mean_gap"][name] for r in bn], "-o", markersize=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("|moving mean - re-estimated mean| / std")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.set_title("how stale the moving averages are at the end of each epoch", fontsize=9)

    layers = doc["layers"]
    conv = next((layer for layer in layers if layer["normalises"].startswith("per channel")), None)
    dense = next((layer for layer in layers if layer["normalises"].startswith("per feature")), None)
    if conv is not None:
        ax = axes[1, 0]
        idx = np.arange(conv["size"])
        width = 0.27
        ax.bar(idx - width, conv["running_mean"], width, label="moving average")
        ax.bar(idx, conv["population_mean"], width, label="re-estimated (training batches)")
        ax.bar(idx + width, conv["batch_mean"], width, label="one training batch")
        ax.set_xlabel("channel")
        ax.set_ylabel("mean of the BN input")
        ax.legend(fontsize=7)
        ax.set_title(f"{conv['name']} ({conv['type']}): one mean per channel over N×H×W values", fontsize=9)
    if dense is not None:
        ax = axes[1, 1]
        lo = min(dense["population_mean"] + dense["running_mean"])
        hi = max(dense["population_mean"] + dense["running_mean"])
        ax.plot([lo, hi], [lo, hi], color="gray", linewidth=1)
        ax.scatter(dense["population_mean"], dense["running_mean"], s=10, label="moving average")
        ax.scatter(dense["population_mean"], dense["batch_mean"], s=10, alpha=0.6, label="one training batch")
        ax.set_xlabel("re-estimated mean")
        ax.set_ylabel("mean used")
        ax.legend(fontsize=7)
        ax.set_title(
            f"{dense['name']} ({dense['type']}): one mean per feature, {dense['size']} features", fontsize=9
        )

    ax = axes[1, 2]
    modes = dict(doc["train_vs_eval_mode"].items())
    ax.barh(list(modes), [v["relative"] for v in modes.values()])
    ax.invert_yaxis()
    ax.set_xlabel("mean |train-mode - eval-mode output| / output std")
    final = doc["final"]
    changed = modes["(logits)"]["predictions_changed"]
    ax.set_title(
        f"train vs eval mode on one test batch ({changed:.1%} of predictions change)\n"
        f"final test acc: moving {final['test_acc_moving_averages']:.3f}, re-estimated "
        f"{final['test_acc_recalibrated']:.3f}, batch stats {final['test_acc_batch_stats']:.3f}",
        fontsize=9,
    )
    fig.suptitle(
        "BatchNorm in LeNet: batch statistics in training, moving averages in evaluation", fontsize=12
    )
    return fig


def run_batchnorm_lab(
    *, out_dir: str | Path | None = None, **kwargs: Any
) -> tuple[dict[str, Any], ExperimentOutput]:
    doc, fig = lab_batchnorm(out_dir=out_dir, **kwargs)
    return doc, write_experiment("batchnorm", doc, fig, out_dir)

"""The training loop: plain code, d2l's `train_ch6` made fast and trustworthy.

- Data stays on the device as uint8 and is batched by tensor ops (`BatchIterator`).
- Metrics accumulate on the device; the host synchronises once per epoch, plus a finite-loss
  check every `_CHECK_EVERY` batches, never per batch.
- Everything a run writes goes to a temporary name first; `last.safetensors` holds weights,
  optimizer and RNG state, so `resume` continues bit-for-bit on the CPU.
- Ready for DistributedDataParallel: batches come from `iter_epoch(epoch)` of an iterator that
  can be sharded by rank, and metrics are sums that can be all-reduced.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from classicnets import __version__
from classicnets.data import BatchConfig, BatchIterator, load_fashion_mnist, split_validation
from classicnets.data.toy import TensorBatches, toy_4x4
from classicnets.errors import ClassicnetsError
from classicnets.fileio import write_text_atomic
from classicnets.inputs import TOY_4X4
from classicnets.models import create_model_for_input, get_model_config, init_book_weights, init_kaiming_weights
from classicnets.reports.curves import plot_curves
from classicnets.training.checkpoint import Checkpoint, read_checkpoint, restore_training_state, save_checkpoint
from classicnets.training.config import TrainConfig
from classicnets.training.device import autocast, resolve_device, use_channels_last
from classicnets.training.optim import make_optimizer
from classicnets.training.recipes import recipe_config
from classicnets.training.step import Batches, TrainingParts, train_step

_CHECK_EVERY = 50  # batches between finite-loss checks (each one is a host synchronisation)
_WRITE_EVERY_S = 1.0  # at most one checkpoint/plot per second: seed 003's toy run has 2,000 epochs


class TrainingDiverged(ClassicnetsError):
    """The loss became NaN or infinite."""


@dataclass
class RunResult:
    run_dir: Path
    config: TrainConfig
    metrics: list[dict[str, Any]]
    model: nn.Module
    device: str
    examples_per_sec: float  # training examples per second of optimisation, over the whole run
    seconds: float  # wall time of this invocation

    def final(self) -> dict[str, Any]:
        last = self.metrics[-1] if self.metrics else {}
        return {
            "model": self.config.model, "recipe": self.config.recipe, "run_dir": str(self.run_dir),
            "epochs": last.get("epoch", 0), "train_loss": last.get("train_loss"),
            "train_acc": last.get("train_acc"), "test_acc": last.get("test_acc"),
            "examples_per_sec": self.examples_per_sec, "seconds": self.seconds, "device": self.device,
        }


def default_run_dir(model: str) -> Path:
    return Path("runs") / f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"


def environment(device: torch.device) -> dict[str, Any]:
    return {
        "classicnets": __version__, "torch": torch.__version__, "numpy": np.__version__,
        "python": platform.python_version(), "platform": platform.platform(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
    }


# --- data, loss, metrics ---------------------------------------------------------------------


def batch_configs(config: TrainConfig, device: torch.device) -> tuple[BatchConfig, BatchConfig]:
    """How training batches (shuffled, augmented) and evaluation batches are made for `config`."""
    train = BatchConfig.for_input(
        config.input_spec(), batch_size=config.batch_size, shuffle=True, seed=config.seed,
        crop_padding=config.crop_padding if config.augment else 0, flip=config.augment,
        channels_last=_channels_last(config, device),
    )
    evaluation = replace(train, batch_size=config.eval_batch_size or 2 * config.batch_size,
                         shuffle=False, crop_padding=0, flip=False)
    return train, evaluation


def _channels_last(config: TrainConfig, device: torch.device) -> bool:
    return use_channels_last(device, config.channels_last, get_model_config(config.model).cpu_channels_last)


def make_batches(config: TrainConfig, device: torch.device, show_progress: bool = True) -> tuple[Batches, Batches]:
    """Training and evaluation batches for `config`, resident on `device`."""
    train_cfg, eval_cfg = batch_configs(config, device)
    if config.dataset == TOY_4X4.name:
        x, y = toy_4x4()
        return (TensorBatches(x, y, train_cfg.batch_size, device=device),
                TensorBatches(x, y, eval_cfg.batch_size, device=device))
    data = load_fashion_mnist(config.data_dir, show_progress=show_progress)
    train_split, test_split = data.train, data.test
    if config.val_size:
        train_split, test_split = split_validation(data.train, config.val_size, seed=config.seed)
    if config.limit:
        train_split, test_split = train_split.head(config.limit), test_split.head(config.limit)
    return BatchIterator(train_split, train_cfg, device=device), BatchIterator(test_split, eval_cfg, device=device)


def loss_function(config: TrainConfig) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if config.loss == "bce":
        return lambda out, y: F.binary_cross_entropy(out.float(), y)
    if config.loss == "nll" and config.label_smoothing == 0:
        return lambda out, y: F.nll_loss(out.float(), y)
    # Cross-entropy of log-probabilities equals NLL (log_softmax is idempotent), so "nll" with
    # label smoothing takes this path too.
    return lambda out, y: F.cross_entropy(out.float(), y, label_smoothing=config.label_smoothing)


def predicted_labels(out: torch.Tensor) -> torch.Tensor:
    """Class indices from logits/log-probabilities (N, K), or from sigmoid outputs (N, 1)."""
    if out.shape[1] == 1:
        return (out[:, 0] > 0.5).long()
    return out.argmax(dim=1)


def true_labels(y: torch.Tensor) -> torch.Tensor:
    return y[:, 0].long() if y.ndim == 2 else y


@torch.no_grad()
def predict_all(model: nn.Module, batches: Batches, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted, true) labels for every example of `batches`, on the CPU, one sync at the end."""
    was_training = model.training
    model.eval()
    predicted, true = [], []
    try:
        for x, y in batches.iter_epoch(0):
            with autocast(device):
                out = model(x)
            predicted.append(predicted_labels(out))
            true.append(true_labels(y))
    finally:
        model.train(was_training)
    return torch.cat(predicted).cpu(), torch.cat(true).cpu()


def accuracy(model: nn.Module, batches: Batches, device: torch.device) -> float:
    predicted, true = predict_all(model, batches, device)
    return float((predicted == true).double().mean())


# --- the run ---------------------------------------------------------------------------------


class _Throttle:
    """True at most once per `interval` seconds, and always when forced."""

    def __init__(self, interval: float) -> None:
        self.interval, self.last = interval, -math.inf

    def __call__(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self.last >= self.interval:
            self.last = now
            return True
        return False


def build_training(config: TrainConfig, device: torch.device, show_progress: bool = True) -> TrainingParts:
    """Seed, build and initialise the network on `device` in its layout, with its optimizer,
    loss and batches: the set-up of `run`, shared with the benchmarks."""
    torch.manual_seed(config.seed)
    model = create_model_for_input(config.model, config.input_spec().resize, **config.model_args)
    if config.init == "xavier":
        init_book_weights(model)
    elif config.init == "kaiming":
        init_kaiming_weights(model)
    layout = torch.channels_last if _channels_last(config, device) else torch.contiguous_format
    model.to(device, memory_format=layout)
    train_batches, test_batches = make_batches(config, device, show_progress)
    return TrainingParts(
        config=config, device=device, model=model,
        step_model=torch.compile(model) if config.compile else model,
        optimizer=make_optimizer(model.parameters(), config), loss_fn=loss_function(config),
        train_batches=train_batches, test_batches=test_batches, total_steps=config.epochs * len(train_batches),
    )


def _model_meta(config: TrainConfig, epoch: int, step: int, metrics: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "model": config.model, "model_args": config.model_args, "recipe": config.recipe,
        "input": config.input_spec().to_dict(), "epoch": epoch, "step": step, "metrics": metrics,
    }


def _write_metrics(path: Path, metrics: list[dict[str, Any]]) -> None:
    write_text_atomic(path, "".join(json.dumps(m) + "\n" for m in metrics))


def read_metrics(run_dir: Path, up_to_epoch: int | None = None) -> list[dict[str, Any]]:
    """The per-epoch rows of a run's metrics.jsonl (those up to `up_to_epoch`, if given)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    try:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise ClassicnetsError(f"{path} is damaged ({exc})") from None
    return [row for row in rows if up_to_epoch is None or row["epoch"] <= up_to_epoch]


def run(
    config: TrainConfig,
    *,
    out: str | Path | None = None,
    checkpoint: Checkpoint | None = None,
    show_progress: bool = True,
    log: Callable[[str], None] = print,
    stop_after_epoch: int | None = None,
    overwrite: bool = False,
    on_epoch_end: Callable[[int, nn.Module, TrainingParts], dict[str, Any]] | None = None,
) -> RunResult:
    """Train `config` into the run directory `out` (or continue from `checkpoint` there).

    A directory that already holds a run is refused unless `overwrite`: its checkpoints
    might be the only copy of hours of training.

    `stop_after_epoch` ends this invocation after that epoch, checkpoint written, as an
    interruption would; `resume` continues it.

    `on_epoch_end(epoch, model, parts)` may add measurements to the epoch's metrics row (the
    BatchNorm lab does); it must leave the model, the optimizer and the global RNG untouched,
    or resuming would no longer be exact.
    """
    started = time.perf_counter()
    config.validate()
    device = resolve_device(config.device)
    writer_class = _tensorboard_writer_class() if config.tensorboard else None  # fail before writing anything
    run_dir = Path(out) if out is not None else default_run_dir(config.model)
    if checkpoint is None and (run_dir / "config.json").exists() and not overwrite:
        raise ClassicnetsError(
            f"{run_dir} already holds a run: continue it with --resume {run_dir}, choose another --out, "
            "or pass --overwrite to replace it"
        )
    parts = build_training(config, device, show_progress)  # a network or data problem stops here, before any write
    run_dir.mkdir(parents=True, exist_ok=True)
    model, optimizer, step_model = parts.model, parts.optimizer, parts.step_model
    train_batches, test_batches = parts.train_batches, parts.test_batches

    start_epoch, step, metrics = 0, 0, []
    if checkpoint is not None:
        model.load_state_dict({k: v.to(device) for k, v in checkpoint.prefixed("model.").items()})
        restore_training_state(checkpoint, optimizer, device)
        start_epoch, step = int(checkpoint.meta["epoch"]), int(checkpoint.meta["step"])
        metrics = read_metrics(run_dir, start_epoch)
        log(f"resuming {run_dir} after epoch {start_epoch} of {config.epochs}")
    else:
        for stale in ("metrics.jsonl", "last.safetensors", "model.safetensors", "curves.png", "confusion.png"):
            (run_dir / stale).unlink(missing_ok=True)
        write_text_atomic(run_dir / "config.json", json.dumps(
            {"config": config.to_dict(), "environment": environment(device), "command": sys.argv}, indent=2))

    # Check the input once, before any step: a wrong size is one clear line, not a trace from compile.
    example, _ = next(train_batches.iter_epoch(0))
    model.check_input(example)
    writer = writer_class(str(run_dir / "tensorboard")) if writer_class is not None else None

    throttle = _Throttle(_WRITE_EVERY_S)
    train_seconds = sum(m["train_seconds"] for m in metrics)
    trained_examples = sum(m["train_examples"] for m in metrics)
    if show_progress and start_epoch == 0:
        log(f"training {config.model} ({config.recipe} recipe) on {device}: {config.epochs} epochs, "
            f"batch {config.batch_size}, lr {config.lr:g}, {config.optimizer}, -> {run_dir}")
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True), transient=True, disable=not show_progress)
    try:
        with progress:
            for epoch in range(start_epoch, config.epochs):
                epoch_start = time.perf_counter()
                task = progress.add_task(f"epoch {epoch + 1}/{config.epochs}", total=len(train_batches))
                model.train()
                loss_sum = torch.zeros((), device=device)
                correct = torch.zeros((), device=device, dtype=torch.long)
                seen = 0
                for index, (x, y) in enumerate(train_batches.iter_epoch(epoch)):
                    out, loss, lr = train_step(parts, x, y, step)
                    step += 1
                    seen += y.shape[0]
                    loss_sum += loss * y.shape[0]
                    correct += (predicted_labels(out) == true_labels(y)).sum()
                    if (index + 1) % _CHECK_EVERY == 0:
                        _check_finite(loss_sum, epoch, index, lr, run_dir, start_epoch, metrics)
                        progress.update(task, description=f"epoch {epoch + 1}/{config.epochs} "
                                                          f"loss {float(loss_sum) / seen:.3f}")
                    progress.advance(task)
                _check_finite(loss_sum, epoch, len(train_batches) - 1, lr, run_dir, start_epoch, metrics)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                epoch_train_seconds = time.perf_counter() - epoch_start
                test_acc = accuracy(step_model, test_batches, device)
                progress.remove_task(task)
                row = {
                    "epoch": epoch + 1, "train_loss": float(loss_sum) / seen, "train_acc": int(correct) / seen,
                    "test_acc": test_acc, "examples_per_sec": seen / epoch_train_seconds,
                    "seconds": time.perf_counter() - epoch_start, "lr": lr,
                    "train_seconds": epoch_train_seconds, "train_examples": seen,
                    "elapsed": time.perf_counter() - started,  # wall time of this invocation so far
                }
                if on_epoch_end is not None:
                    row.update(on_epoch_end(epoch + 1, model, parts))
                metrics.append(row)
                train_seconds += epoch_train_seconds
                trained_examples += seen
                last = epoch + 1 == config.epochs or epoch + 1 == stop_after_epoch
                if throttle(force=last):
                    save_checkpoint(run_dir / "last.safetensors", model,
                                    _model_meta(config, epoch + 1, step, row), optimizer=optimizer)
                    _write_metrics(run_dir / "metrics.jsonl", metrics)
                    plot_curves(metrics, run_dir / "curves.png", title=f"{config.model} ({config.recipe} recipe)")
                    log(f"epoch {epoch + 1:>3}/{config.epochs}: loss {row['train_loss']:.3f}, train acc "
                        f"{row['train_acc']:.3f}, test acc {row['test_acc']:.3f}, "
                        f"{row['examples_per_sec']:,.0f} examples/sec, {row['seconds']:.1f} s")
                if writer is not None:
                    for key in ("train_loss", "train_acc", "test_acc", "examples_per_sec", "lr"):
                        writer.add_scalar(key, row[key], epoch + 1)
                if epoch + 1 == stop_after_epoch:
                    break
    except KeyboardInterrupt:
        log(f"interrupted; the last complete checkpoint is in {run_dir}: "
            f"continue with `classicnets train --resume {run_dir}`")
        raise
    finally:
        if writer is not None:
            writer.close()

    examples_per_sec = trained_examples / train_seconds if train_seconds else 0.0
    finished = bool(metrics) and metrics[-1]["epoch"] == config.epochs
    if finished:
        save_checkpoint(run_dir / "model.safetensors", model, _model_meta(config, config.epochs, step, metrics[-1]))
        final = metrics[-1]
        # d2l's closing lines, as train_ch6 prints them.
        log(f"loss {final['train_loss']:.3f}, train acc {final['train_acc']:.3f}, test acc {final['test_acc']:.3f}")
        log(f"{examples_per_sec:.1f} examples/sec on {device}")
        log(f"run directory: {run_dir} (curves.png, metrics.jsonl, model.safetensors)")
    return RunResult(run_dir=run_dir, config=config, metrics=metrics, model=model, device=str(device),
                     examples_per_sec=examples_per_sec, seconds=time.perf_counter() - started)


def _check_finite(loss_sum: torch.Tensor, epoch: int, index: int, lr: float, run_dir: Path,
                  start_epoch: int, metrics: list[dict[str, Any]]) -> None:
    value = float(loss_sum)
    if math.isfinite(value):
        return
    good = run_dir / "last.safetensors"
    where = (f"the last good checkpoint is {good} (epoch {metrics[-1]['epoch']})" if metrics and good.exists()
             else "no checkpoint was written before it")
    raise TrainingDiverged(
        f"the training loss became {value} in epoch {epoch + 1} (by batch {index + 1}); {where}. "
        f"The learning rate ({lr:g}) is probably too high for this network: try --lr {lr / 10:g}"
    )


def _tensorboard_writer_class() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ClassicnetsError(
            "--tensorboard needs the tensorboard package: pip install 'classicnets[tensorboard]'"
        ) from None
    return SummaryWriter


# --- the public API --------------------------------------------------------------------------


def train(model: str = "lenet", *, recipe: str = "book", out: str | Path | None = None,
          show_progress: bool = True, log: Callable[[str], None] = print, overwrite: bool = False,
          **overrides: Any) -> RunResult:
    """Train `model` with `recipe` ("book" or "fast"); keyword overrides change any TrainConfig field.

    >>> result = train("lenet", epochs=2, limit=5000)        # doctest: +SKIP
    >>> result.final()["test_acc"]                             # doctest: +SKIP
    """
    config = recipe_config(model, recipe, **overrides)
    return run(config, out=out, show_progress=show_progress, log=log, overwrite=overwrite)


def resume(run_dir: str | Path, *, show_progress: bool = True, log: Callable[[str], None] = print,
           stop_after_epoch: int | None = None) -> RunResult:
    """Continue an interrupted run from its last complete checkpoint."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise ClassicnetsError(f"{run_dir} is not a run directory (no config.json)")
    try:
        config = TrainConfig.from_dict(json.loads(config_path.read_text())["config"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ClassicnetsError(f"{config_path} is damaged ({exc}); start a new run") from None
    last = run_dir / "last.safetensors"
    if not last.is_file():
        raise ClassicnetsError(f"{run_dir} has no checkpoint yet (last.safetensors): start the run again")
    checkpoint = read_checkpoint(last)
    return run(config, out=run_dir, checkpoint=checkpoint, show_progress=show_progress, log=log,
               stop_after_epoch=stop_after_epoch)

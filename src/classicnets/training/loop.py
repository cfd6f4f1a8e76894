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

import contextlib
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
from classicnets.data import BatchConfig, BatchIterator, load_data, split_validation
from classicnets.data.toy import TensorBatches, toy_4x4
from classicnets.errors import ClassicnetsError
from classicnets.fileio import write_text_atomic
from classicnets.inputs import TOY_4X4, user_kind
from classicnets.models import create_model_for_spec, get_model_config, init_book_weights, init_kaiming_weights
from classicnets.reports.curves import plot_curves
from classicnets.reports.notebook import LiveImage, NotebookProgress, in_notebook
from classicnets.training.checkpoint import (Checkpoint, CheckpointError, load_weights, read_checkpoint,
                                            restore_training_state, save_checkpoint)
from classicnets.training.config import TrainConfig
from classicnets.training.device import resolve_device, resolve_precision, use_channels_last
from classicnets.training.distributed import World, joined, per_rank_batch, world_from_env, wrap
from classicnets.training.inference import Inference
from classicnets.training.memory import check_fits
from classicnets.training.optim import make_optimizer
from classicnets.training.recipes import recipe_config
from classicnets.training.rundir import (CONFIG, FINAL, LAST, METRICS, SKIPPED, append_metrics, check_not_a_file, claim,
                                        read_metrics, refuse_to_replace, remove_run_files, run_config, write_metrics)
from classicnets.training.step import Batches, TrainingParts, scheduled_lr, train_step
from classicnets.training.stopping import LossWatch, StopRequest, TrainingInterrupted, diverged
from classicnets.validation import Invalid, integer, mapping, number

_CHECK_EVERY = 50  # batches between finite-loss checks (each one is a host synchronisation)
_WRITE_EVERY_S = 1.0  # at most one plot and log line per second: seed 003's toy run has 2,000 epochs


@dataclass
class RunResult:
    run_dir: Path
    config: TrainConfig
    metrics: list[dict[str, Any]]
    model: nn.Module
    device: str
    examples_per_sec: float  # training examples per second of optimisation, over the whole run
    seconds: float  # wall time of this invocation
    world: World = World()  # the processes that trained together (torchrun), and this one's rank

    def final(self) -> dict[str, Any]:
        last = self.metrics[-1] if self.metrics else {}
        return {
            "model": self.config.model, "recipe": self.config.recipe, "run_dir": str(self.run_dir),
            "epochs": last.get("epoch", 0), "train_loss": last.get("train_loss"),
            "train_acc": last.get("train_acc"), "test_acc": last.get("test_acc"),
            "examples_per_sec": self.examples_per_sec, "seconds": self.seconds, "device": self.device,
            "world_size": self.world.size,
        }


def default_run_dir(model: str) -> Path:
    return Path("runs") / f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"


def environment(device: torch.device, world: World = World(), precision: str = "auto") -> dict[str, Any]:
    return {
        "precision": resolve_precision(device, precision),
        "world_size": world.size,
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


def make_batches(config: TrainConfig, device: torch.device, show_progress: bool = True,
                 world: World = World()) -> tuple[Batches, Batches]:
    """Training and evaluation batches for `config`, resident on `device`: this rank's share of
    each (its part of every global training batch; its disjoint part of the test set)."""
    train_cfg, eval_cfg = batch_configs(config, device)
    if world.distributed:
        train_cfg = replace(train_cfg, batch_size=per_rank_batch(config.batch_size, world))
    if config.dataset == TOY_4X4.name:
        if world.distributed:
            raise ClassicnetsError(f"{config.model} trains on two 4x4 images: there is nothing to share among "
                                   "processes; run it without torchrun")
        x, y = toy_4x4()
        return (TensorBatches(x, y, train_cfg.batch_size, device=device),
                TensorBatches(x, y, eval_cfg.batch_size, device=device))
    data = load_data(config.data_request(), show_progress=show_progress)
    train_split, test_split = data.train, data.test
    if config.val_size:
        train_split, test_split = split_validation(data.train, config.val_size, seed=config.seed)
    if config.limit:
        train_split, test_split = train_split.head(config.limit), test_split.head(config.limit)
    shard = {"rank": world.rank, "world_size": world.size}
    return (BatchIterator(train_split, train_cfg, device=device, **shard),
            BatchIterator(test_split, eval_cfg, device=device, pad=False, **shard))


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
def predict_all(model: nn.Module, batches: Batches, device: torch.device,
                inference: Inference = Inference()) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted, true) labels for every example of `batches`, on the CPU, one sync at the end."""
    was_training = model.training
    model.eval()
    predicted, true = [], []
    try:
        for x, y in batches.iter_epoch(0):
            predicted.append(predicted_labels(inference.scores(model, x, device)))
            true.append(true_labels(y))
    finally:
        model.train(was_training)
    return torch.cat(predicted).cpu(), torch.cat(true).cpu()


def accuracy(model: nn.Module, batches: Batches, device: torch.device, world: World = World(),
             inference: Inference = Inference()) -> float:
    """The fraction of `batches` that `model` classifies right; with a `world` of several ranks,
    each holding its shard, the counts are summed over all of them."""
    predicted, true = predict_all(model, batches, device, inference)
    correct, total = world.sum([float((predicted == true).sum()), float(len(true))], device)
    return correct / total


# --- the run ---------------------------------------------------------------------------------


class _Throttle:
    """Due at most once per `interval` seconds (`__call__` resets it when due, and when forced)."""

    def __init__(self, interval: float, start_now: bool = False) -> None:
        self.interval, self.last = interval, time.monotonic() if start_now else -math.inf

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.interval

    def reset(self) -> None:
        self.last = time.monotonic()

    def __call__(self, force: bool = False) -> bool:
        if force or self.due():
            self.reset()
            return True
        return False


def build_training(config: TrainConfig, device: torch.device, show_progress: bool = True,
                   world: World = World()) -> TrainingParts:
    """Seed, build and initialise the network on `device` in its layout, with its optimizer,
    loss and batches: the set-up of `run`, shared with the benchmarks. In a world of several
    processes the network is wrapped in DistributedDataParallel and the batches are this rank's."""
    spec = config.input_spec()
    train_batches, test_batches = make_batches(config, device, show_progress, world)
    check_fits(config.model, spec, config.model_args, config.batch_size // world.size, device)
    torch.manual_seed(config.seed)
    model = create_model_for_spec(config.model, spec, **config.model_args)
    if config.init == "xavier":
        init_book_weights(model)
    elif config.init == "kaiming":
        init_kaiming_weights(model)
    layout = torch.channels_last if _channels_last(config, device) else torch.contiguous_format
    model.to(device, memory_format=layout)
    trained = wrap(model, world, device, config.sync_bn)
    if world.distributed:
        model = trained.module  # SyncBatchNorm's conversion makes a new module; checkpoints hold the inner one
        torch.manual_seed(world.rank_seed(config.seed, 0))  # each rank its own dropout, after the shared init
    step_model = torch.compile(trained) if config.compile else trained
    return TrainingParts(
        config=config, device=device, model=model, step_model=step_model,
        # Evaluation runs without DistributedDataParallel: the ranks' test shards differ in length,
        # and its forward would wait for a collective that a shorter shard never joins.
        eval_model=step_model if not world.distributed else model,
        optimizer=make_optimizer(model.parameters(), config), loss_fn=loss_function(config),
        train_batches=train_batches, test_batches=test_batches, total_steps=config.epochs * len(train_batches),
        world=world,
    )


def _model_meta(config: TrainConfig, epoch: int, step: int, metrics: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "model": config.model, "model_args": config.model_args, "recipe": config.recipe,
        "input": config.input_spec().to_dict(), "epoch": epoch, "step": step, "metrics": metrics,
        "flip_tta": config.flip_tta, "precision": config.precision,
    }


@dataclass
class _Position:
    """Where a run stands: epochs finished, batches done in the next one, and that epoch's
    running sums, which a mid-epoch checkpoint carries so that a resumed epoch ends exactly as
    an uninterrupted one."""

    epoch: int
    batch: int
    step: int
    loss_sum: torch.Tensor
    correct: torch.Tensor
    seen: int = 0
    train_seconds: float = 0.0

    @classmethod
    def start(cls, epoch: int, step: int, device: torch.device) -> "_Position":
        return cls(epoch=epoch, batch=0, step=step, loss_sum=torch.zeros((), device=device),
                   correct=torch.zeros((), device=device, dtype=torch.long))

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, device: torch.device, epochs: int,
                        batches: int) -> "_Position":
        """Where the checkpoint stands, each number checked against the run it resumes
        (`epochs` in all, `batches` per epoch): a damaged position is one clear line."""
        meta = checkpoint.meta
        try:
            epoch = integer(meta.get("epoch"), "its epoch", 0, epochs)
            batch = integer(meta.get("batch", 0), "its batch", 0, batches - 1)
            step = integer(meta.get("step"), "its step", 0, 2**53)
            if step != epoch * batches + batch:
                raise Invalid(f"its step {step} is not epoch {epoch} x {batches} batches + batch {batch}")
            integer(meta.get("metrics_rows", epoch), "its count of metrics rows", epoch, epoch)
            position = cls.start(epoch, step, device)
            if batch:
                partial = mapping(meta.get("partial"), "its epoch so far")
                position.batch = batch
                position.seen = integer(partial.get("seen"), "the examples seen", 0, 2**53)
                position.train_seconds = number(partial.get("train_seconds"), "the seconds trained", 0)
                sums = [checkpoint.tensors.get(f"partial.{name}") for name in ("loss_sum", "correct")]
                if any(t is None or t.ndim != 0 for t in sums):
                    raise Invalid("its epoch's running sums are missing or not numbers")
                position.loss_sum, position.correct = (t.to(device) for t in sums)  # type: ignore[union-attr]
        except Invalid as exc:
            raise CheckpointError(f"the checkpoint's position is damaged: {exc}; start the run again") from None
        return position

    def where(self) -> str:
        return f"epoch {self.epoch + 1}, batch {self.batch}" if self.batch else f"the end of epoch {self.epoch}"

    def meta(self) -> dict[str, Any]:
        return {"batch": self.batch, "partial": {"seen": self.seen, "train_seconds": self.train_seconds}}

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"partial.loss_sum": self.loss_sum, "partial.correct": self.correct}


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

    A directory that already holds trained weights is refused unless `overwrite`: its
    checkpoints might be the only copy of hours of training. One process at a time writes a
    run directory (`rundir.claim`).

    A checkpoint is written at every epoch's end and every `config.save_every` seconds within
    an epoch; Ctrl-C or SIGTERM saves one at the current step and raises TrainingInterrupted.
    `stop_after_epoch` ends this invocation after that epoch, checkpoint written, as an
    interruption would; `resume` continues either.

    `on_epoch_end(epoch, model, parts)` may add measurements to the epoch's metrics row (the
    BatchNorm lab does); it must leave the model, the optimizer and the global RNG untouched,
    or resuming would no longer be exact.
    """
    started = time.perf_counter()
    config.validate()
    world = world_from_env()
    if world.distributed and out is None:
        raise ClassicnetsError("under torchrun give --out DIR: every process, and every restart, must write and "
                               "resume the same run directory")
    with joined(world, resolve_device(config.device)) as device:
        return _run(config, world, device, out=out, checkpoint=checkpoint, show_progress=show_progress and world.main,
                    log=log if world.main else _silent, stop_after_epoch=stop_after_epoch, overwrite=overwrite,
                    on_epoch_end=on_epoch_end, started=started)


def _silent(_line: str) -> None:
    """The log of every rank but rank 0: one process speaks for the run."""


def _run(config: TrainConfig, world: World, device: torch.device, *, out: str | Path | None,
         checkpoint: Checkpoint | None, show_progress: bool, log: Callable[[str], None],
         stop_after_epoch: int | None, overwrite: bool, started: float,
         on_epoch_end: Callable[[int, nn.Module, TrainingParts], dict[str, Any]] | None) -> RunResult:
    writer_class = _tensorboard_writer_class() if config.tensorboard else None  # fail before writing anything
    run_dir = Path(out) if out is not None else default_run_dir(config.model)
    if world.main:
        if checkpoint is None and not overwrite:
            refuse_to_replace(run_dir)
        check_not_a_file(run_dir)
    # A network or data problem stops here, before any write (--overwrite has removed nothing yet).
    parts = build_training(config, device, show_progress, world)
    example, _ = next(parts.train_batches.iter_epoch(0))
    parts.model.check_input(example)  # a wrong size is one clear line, not a trace from compile
    watch = LossWatch.for_classes(len(config.input_spec().class_names))
    with claim(run_dir) if world.main else contextlib.nullcontext():
        if checkpoint is None:
            if world.main:
                if not overwrite:
                    refuse_to_replace(run_dir)  # again, now that no other process can be writing it
                remove_run_files(run_dir)
                write_text_atomic(run_dir / CONFIG, json.dumps(
                    {"config": config.to_dict(), "environment": environment(device, world, config.precision),
                     "command": sys.argv}, indent=2))
                _record_skipped(config, run_dir, log)
            position, metrics = _Position.start(0, 0, device), []
        else:
            position = _Position.from_checkpoint(checkpoint, device, config.epochs, len(parts.train_batches))
            load_weights(parts.model, checkpoint, run_dir / LAST)
            restore_training_state(checkpoint, parts.optimizer, device)
            if world.distributed:
                torch.manual_seed(world.rank_seed(config.seed, position.step))
                if not world.main:  # rank 0 carries the epoch's sums so far; the others start from zero
                    position = replace(_Position.start(position.epoch, position.step, device), batch=position.batch)
            metrics = _checkpointed_metrics(run_dir, checkpoint, rewrite=world.main)
            watch = LossWatch.from_state(checkpoint.meta.get("loss_watch"), watch)
            log(f"resuming {run_dir} from {position.where()} of {config.epochs}"
                + (f" on {world.size} processes" if world.distributed else ""))
        return _train(parts, run_dir, position, metrics, watch, started=started, show_progress=show_progress,
                      log=log, stop_after_epoch=stop_after_epoch, on_epoch_end=on_epoch_end, writer_class=writer_class)


def _record_skipped(config: TrainConfig, run_dir: Path, log: Callable[[str], None]) -> None:
    """A folder's pictures that could not be read: listed in the run (SKIPPED) and counted."""
    if user_kind(config.dataset) != "folder":
        return
    data = load_data(config.data_request())
    info = data.info
    log(f"{config.dataset}: {len(data.train):,} training and {len(data.test):,} test pictures of "
        f"{len(info.class_names)} classes, read as {'colour' if info.channels == 3 else 'grey'} "
        f"{info.native_size}x{info.native_size}" + ("" if config.channels and config.image_size else
                                                   " (chosen from the pictures; --channels and --image-size change it)"))
    if data.skipped:
        write_text_atomic(run_dir / SKIPPED, "".join(f"{path}\t{why}\n" for path, why in data.skipped))
        count = len(data.skipped)
        log(f"skipped {count:,} file{'s' if count != 1 else ''} it could not read as a picture: listed in "
            f"{run_dir / SKIPPED}")


def _checkpointed_metrics(run_dir: Path, checkpoint: Checkpoint, rewrite: bool = True) -> list[dict[str, Any]]:
    """The metrics rows the checkpoint covers; metrics.jsonl is rewritten to exactly those."""
    rows = read_metrics(run_dir)
    count = int(checkpoint.meta.get("metrics_rows", checkpoint.meta["epoch"]))
    if len(rows) < count:
        raise CheckpointError(f"{run_dir / METRICS} has {len(rows)} rows but the checkpoint was written after "
                              f"{count}: the file was changed by hand; start the run again")
    if rewrite:
        write_metrics(run_dir, rows[:count])
    return rows[:count]


def _train(parts: TrainingParts, run_dir: Path, position: _Position, metrics: list[dict[str, Any]],
           watch: LossWatch, *, started: float, show_progress: bool, log: Callable[[str], None],
           stop_after_epoch: int | None, writer_class: Any,
           on_epoch_end: Callable[[int, nn.Module, TrainingParts], dict[str, Any]] | None) -> RunResult:
    config, device = parts.config, parts.device
    model, optimizer, train_batches = parts.model, parts.optimizer, parts.train_batches

    world = parts.world
    writer = writer_class(str(run_dir / "tensorboard")) if writer_class is not None and world.main else None

    saved: list[str] = []  # where the last checkpoint is, for messages
    if (run_dir / LAST).is_file():
        saved.append(f"{run_dir / LAST} ({position.where()})")

    def save(row: dict[str, Any] | None, epoch_sums: list[float] | None = None) -> None:
        """Rank 0 writes the checkpoint; mid-epoch, the epoch's sums so far are the global ones
        (`epoch_sums`: loss, correct, seen over all ranks), so any number of processes resumes it."""
        here = position
        if world.distributed and epoch_sums is not None:
            loss, correct, seen = epoch_sums
            here = replace(position, loss_sum=torch.tensor(loss, dtype=torch.float32),
                           correct=torch.tensor(int(correct)), seen=int(seen))
        if world.main:
            meta = {**_model_meta(config, here.epoch, here.step, row), **here.meta(),
                    "metrics_rows": len(metrics), "loss_watch": watch.state()}
            save_checkpoint(run_dir / LAST, model, meta, optimizer=optimizer, extra=here.tensors())
        saved[:] = [f"{run_dir / LAST} ({here.where()})"]

    # In Jupyter the bar and the curves are two outputs of the cell, updated in place, every epoch.
    notebook = show_progress and in_notebook()
    live_curves = LiveImage() if notebook and world.main else None
    display = _Throttle(0.0 if notebook else _WRITE_EVERY_S)
    save_timer = _Throttle(config.save_every, start_now=True)
    train_seconds = sum(m["train_seconds"] for m in metrics)
    trained_examples = sum(m["train_examples"] for m in metrics)
    if show_progress and position.step == 0:
        on = f"{world.size} processes ({device.type})" if world.distributed else str(device)
        precision = resolve_precision(device, config.precision)
        on += ", bf16" if precision == "bf16" else ""
        if config.precision == "bf16" and precision != "bf16":
            log(f"bf16 asked for, but {device} has no native bf16 (AVX512-BF16, AMX or CUDA): training in float32")
        log(f"training {config.model} ({config.recipe} recipe) on {on}: {config.epochs} epochs, "
            f"batch {config.batch_size}, lr {config.lr:g}, {config.optimizer}, -> {run_dir}")
    progress = NotebookProgress() if notebook else Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True, disable=not show_progress)
    lr = scheduled_lr(parts, max(position.step - 1, 0))
    stop = StopRequest()
    try:
        with progress, stop:
            while position.epoch < config.epochs:
                epoch = position.epoch
                resumed_seconds, epoch_start = position.train_seconds, time.perf_counter()
                task = progress.add_task(f"epoch {epoch + 1}/{config.epochs}", total=len(train_batches),
                                         completed=position.batch)
                model.train()
                loss_sum, _, seen = world.sum(_local_sums(position), device)
                watch.start_epoch(loss_sum, int(seen))
                for x, y in train_batches.iter_epoch(epoch, position.batch):
                    out, loss, lr = train_step(parts, x, y, position.step)
                    position.step += 1
                    position.batch += 1
                    position.seen += y.shape[0]
                    position.loss_sum += loss * y.shape[0]
                    position.correct += (predicted_labels(out) == true_labels(y)).sum()
                    progress.advance(task)
                    check = position.batch % _CHECK_EVERY == 0
                    if world.distributed and not check:
                        continue  # the ranks agree on saving and stopping only where they synchronise anyway
                    sums, stopping, saving = None, stop.requested, save_timer.due()
                    if world.distributed:
                        *sums, stops, saves = world.sum([*_local_sums(position), stopping, saving], device)
                        stopping, saving = stops > 0, saves > 0
                    if check:
                        loss_sum, _, seen = sums or _local_sums(position)
                        _watch(watch, loss_sum, seen, position, lr, saved)
                        progress.update(task, description=f"epoch {epoch + 1}/{config.epochs} loss {loss_sum / seen:.3f}")
                    if stopping or saving:
                        position.train_seconds = resumed_seconds + time.perf_counter() - epoch_start
                        save(None, sums)
                        save_timer.reset()
                        if stopping:
                            raise _interrupted(stop, run_dir, saved, log)
                loss_sum, correct, seen, stops = world.sum([*_local_sums(position), stop.requested], device)
                _watch(watch, loss_sum, seen, position, lr, saved)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                epoch_train_seconds = resumed_seconds + time.perf_counter() - epoch_start
                test_acc = _test_accuracy(parts)
                progress.remove_task(task)
                seen = int(seen)
                row = {
                    "epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": int(correct) / seen,
                    "test_acc": test_acc, "examples_per_sec": seen / epoch_train_seconds,
                    "seconds": resumed_seconds + time.perf_counter() - epoch_start, "lr": lr,
                    "train_seconds": epoch_train_seconds, "train_examples": seen,
                    "elapsed": time.perf_counter() - started,  # wall time of this invocation so far
                }
                if on_epoch_end is not None:
                    row.update(on_epoch_end(epoch + 1, model, parts))
                metrics.append(row)
                train_seconds += epoch_train_seconds
                trained_examples += seen
                # The row first, then the checkpoint that counts it: consistent after a kill at any instant.
                if world.main:
                    append_metrics(run_dir, row)
                position = _Position.start(epoch + 1, position.step, device)
                save(row)
                save_timer.reset()
                stopping = stops > 0
                last = epoch + 1 == config.epochs or epoch + 1 == stop_after_epoch or stopping
                if world.main and display(force=last):
                    plot_curves(metrics, run_dir / "curves.png", title=f"{config.model} ({config.recipe} recipe)")
                    if live_curves is not None:
                        live_curves.show(run_dir / "curves.png")
                    log(f"epoch {epoch + 1:>3}/{config.epochs}: loss {row['train_loss']:.3f}, train acc "
                        f"{row['train_acc']:.3f}, test acc {row['test_acc']:.3f}, "
                        f"{row['examples_per_sec']:,.0f} examples/sec, {row['seconds']:.1f} s")
                if writer is not None:
                    for key in ("train_loss", "train_acc", "test_acc", "examples_per_sec", "lr"):
                        writer.add_scalar(key, row[key], epoch + 1)
                if stopping:
                    raise _interrupted(stop, run_dir, saved, log)
                if epoch + 1 == stop_after_epoch:
                    break
    except TrainingInterrupted:
        raise
    except KeyboardInterrupt:
        # A second Ctrl-C, or one outside the main thread: the step in progress is lost.
        log(f"interrupted; the last checkpoint is {saved[0]}: continue with `classicnets train --resume {run_dir}`"
            if saved else "interrupted before the first checkpoint: nothing to resume")
        raise
    finally:
        if writer is not None:
            writer.close()

    examples_per_sec = trained_examples / train_seconds if train_seconds else 0.0
    finished = bool(metrics) and metrics[-1]["epoch"] == config.epochs
    if finished and world.main:
        save_checkpoint(run_dir / FINAL, model, _model_meta(config, config.epochs, position.step, metrics[-1]))
        final = metrics[-1]
        # d2l's closing lines, as train_ch6 prints them.
        log(f"loss {final['train_loss']:.3f}, train acc {final['train_acc']:.3f}, test acc {final['test_acc']:.3f}")
        log(f"{examples_per_sec:.1f} examples/sec on {device}")
        log(f"run directory: {run_dir} (curves.png, metrics.jsonl, model.safetensors)")
    return RunResult(run_dir=run_dir, config=config, metrics=metrics, model=model, device=str(device),
                     examples_per_sec=examples_per_sec, seconds=time.perf_counter() - started, world=world)


def _local_sums(position: _Position) -> list[float]:
    """This rank's epoch so far: loss sum, correct count, examples seen (one host synchronisation)."""
    return [float(position.loss_sum), float(position.correct), float(position.seen)]


def _watch(watch: LossWatch, loss_sum: float, seen: float, position: _Position, lr: float, saved: list[str]) -> None:
    problem = watch.check(loss_sum, int(seen))
    if problem:
        raise diverged(problem, f"epoch {position.epoch + 1} (by batch {position.batch})", lr,
                       saved[0] if saved else None)


def _test_accuracy(parts: TrainingParts) -> float:
    """Test accuracy of the network, over every rank's shard of the test set."""
    parts.world.sync_buffers(parts.model)
    return accuracy(parts.eval_model, parts.test_batches, parts.device, parts.world, Inference.of(parts.config))


def _interrupted(stop: StopRequest, run_dir: Path, saved: list[str], log: Callable[[str], None]) -> TrainingInterrupted:
    message = f"{stop.signal}: saved a checkpoint, {saved[0]}; continue with `classicnets train --resume {run_dir}`"
    log(message)
    return TrainingInterrupted(message)


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
    """Train `model` with `recipe` ("book", "fast", or "speedrun" for vgg11); keyword overrides change
    any TrainConfig field.

    >>> result = train("lenet", epochs=2, limit=5000)        # doctest: +SKIP
    >>> result.final()["test_acc"]                             # doctest: +SKIP
    """
    config = recipe_config(model, recipe, **overrides)
    return run(config, out=out, show_progress=show_progress, log=log, overwrite=overwrite)


def resume(run_dir: str | Path, *, show_progress: bool = True, log: Callable[[str], None] = print,
           stop_after_epoch: int | None = None) -> RunResult:
    """Continue a run from its last checkpoint (mid-epoch included); one that was stopped before
    its first checkpoint starts again from its config.json."""
    run_dir = Path(run_dir)
    not_a_run = ClassicnetsError(f"{run_dir} is not a run directory (no {CONFIG})")
    if not (run_dir / CONFIG).is_file():
        raise not_a_run  # before claiming it, which would create the directory
    with claim(run_dir) if world_from_env().main else contextlib.nullcontext():
        config = run_config(run_dir)
        if config is None:
            raise not_a_run
        if not (run_dir / LAST).is_file():
            log(f"{run_dir} has no checkpoint yet: starting it from the beginning")
            return run(config, out=run_dir, overwrite=True, show_progress=show_progress, log=log,
                       stop_after_epoch=stop_after_epoch)
        checkpoint = read_checkpoint(run_dir / LAST)
        if checkpoint.meta["model"] != config.model:
            raise CheckpointError(f"{run_dir / LAST} holds {checkpoint.meta['model']} weights but {run_dir / CONFIG} "
                                  f"trains {config.model}: the files come from different runs")
        return run(config, out=run_dir, checkpoint=checkpoint, show_progress=show_progress, log=log,
                   stop_after_epoch=stop_after_epoch)

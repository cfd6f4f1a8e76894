"""The training loop, d2l's `train_ch6` made fast and trustworthy: the steps, each epoch's sums,
evaluation, and the checkpoint and metrics rows in their crash-safe order. Everything that only
watches a run (progress, curves, TensorBoard, the best checkpoint, early stopping) is an
observer (`training.observers`).

- Data stays on the device as uint8 and is batched by tensor ops (`BatchIterator`).
- Metrics accumulate on the device; the host synchronises once per epoch, plus a finite-loss
  check every `_CHECK_EVERY` batches, never per batch.
- Everything a run writes goes to a temporary name first; `last.safetensors` holds weights,
  optimizer and RNG state, so `resume` continues bit-for-bit on the CPU.
- Under torchrun each rank trains on its shard and the epoch's sums are all-reduced.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from classicnets.data import load_data
from classicnets.errors import ClassicnetsError
from classicnets.fileio import write_text_atomic
from classicnets.inputs import user_kind
from classicnets.training.best import EarlyStopping, KeepBest
from classicnets.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointMeta,
    load_weights,
    read_checkpoint,
    restore_training_state,
    save_checkpoint,
)
from classicnets.training.config import TrainConfig
from classicnets.training.device import resolve_device
from classicnets.training.distributed import World, joined, world_from_env
from classicnets.training.inference import Inference
from classicnets.training.measure import accuracy, loss_and_accuracy, predicted_labels, true_labels
from classicnets.training.observers import (
    FAILED,
    FINISHED,
    INTERRUPTED,
    PAUSED,
    STOPPED,
    Observer,
    ObserverFailed,
    RunState,
    Throttle,
)
from classicnets.training.position import Position
from classicnets.training.rundir import (
    CONFIG,
    FINAL,
    LAST,
    METRICS,
    SKIPPED,
    append_metrics,
    check_not_a_file,
    claim,
    examples_per_sec,
    read_metrics,
    refuse_to_replace,
    remove_run_files,
    run_config,
    write_metrics,
)
from classicnets.training.setup import build_training, default_run_dir, environment
from classicnets.training.step import TrainingParts, train_step
from classicnets.training.stopping import LossWatch, StopRequest, TrainingInterrupted, diverged

_CHECK_EVERY = 50  # batches between finite-loss checks (each one is a host synchronisation)


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
    outcome: str = FINISHED  # observers.OUTCOMES: finished, stopped (early), paused (stop_after_epoch)
    stop_reason: str | None = None

    def final(self) -> dict[str, Any]:
        last = self.metrics[-1] if self.metrics else {}
        document = {
            "model": self.config.model,
            "recipe": self.config.recipe,
            "run_dir": str(self.run_dir),
            "epochs": last.get("epoch", 0),
            "train_loss": last.get("train_loss"),
            "train_acc": last.get("train_acc"),
            "test_acc": last.get("test_acc"),
            "examples_per_sec": self.examples_per_sec,
            "seconds": self.seconds,
            "device": self.device,
            "world_size": self.world.size,
        }
        if "val_acc" in last:
            document.update(val_acc=last["val_acc"], val_loss=last["val_loss"])
        return {**document, "stopped": self.stop_reason} if self.stop_reason else document


def run(
    config: TrainConfig,
    *,
    out: str | Path | None = None,
    checkpoint: Checkpoint | None = None,
    observers: Sequence[Observer] = (),
    show_progress: bool = False,
    log: Callable[[str], None] = print,
    stop_after_epoch: int | None = None,
    overwrite: bool = False,
) -> RunResult:
    """Train `config` into the run directory `out` (or continue from `checkpoint` there), shown
    to `observers` (`training.observers`); `show_progress` is for the data set's loading.

    A directory that already holds trained weights is refused unless `overwrite`: its
    checkpoints might be the only copy of hours of training. One process at a time writes a
    run directory (`rundir.claim`).

    A checkpoint is written at every epoch's end and every `config.save_every` seconds within
    an epoch; Ctrl-C or SIGTERM saves one at the current step and raises TrainingInterrupted.
    `stop_after_epoch` ends this invocation after that epoch, checkpoint written, as an
    interruption would; `resume` continues either.
    """
    started = time.perf_counter()
    config.validate()
    world = world_from_env()
    if world.distributed and out is None:
        raise ClassicnetsError(
            "under torchrun give --out DIR: every process, and every restart, must write and "
            "resume the same run directory"
        )
    log = log if world.main else _silent
    run_dir = Path(out) if out is not None else default_run_dir(config.model)
    with joined(world, resolve_device(config.device)) as device:
        if world.main:
            if checkpoint is None and not overwrite:
                refuse_to_replace(run_dir)
            check_not_a_file(run_dir)
        # A network or data problem stops here, before any write (--overwrite has removed nothing yet).
        parts = build_training(config, device, show_progress and world.main, world)
        example, _ = next(parts.train_batches.iter_epoch(0))
        parts.model.check_input(example)  # a wrong size is one clear line, not a trace from compile
        with claim(run_dir) if world.main else contextlib.nullcontext():
            state, watch = _open(parts, run_dir, checkpoint, overwrite, log)
            loop = _Loop(state, [*_asked_for(config), *observers], watch, stop_after_epoch, started)
            outcome = loop.train()
    return RunResult(
        run_dir=run_dir,
        config=config,
        metrics=state.metrics,
        model=parts.model,
        device=str(device),
        examples_per_sec=examples_per_sec(state.metrics),
        seconds=time.perf_counter() - started,
        world=world,
        outcome=outcome,
        stop_reason=state.stop_reason,
    )


def _silent(_line: str) -> None:
    """The log of every rank but rank 0: one process speaks for the run."""


def _asked_for(config: TrainConfig) -> list[Observer]:
    """The observers the configuration itself asks for: they decide what the run writes."""
    chosen: list[Observer] = []
    if config.keep_best:
        chosen.append(KeepBest())
    if config.early_stop:
        chosen.append(EarlyStopping(config.early_stop, config.min_delta, config.early_stop_from))
    return chosen


def _open(
    parts: TrainingParts,
    run_dir: Path,
    checkpoint: Checkpoint | None,
    overwrite: bool,
    log: Callable[[str], None],
) -> tuple[RunState, LossWatch]:
    """The run's state at its start: a fresh run's directory prepared, or a checkpoint's position,
    weights, optimizer and RNG state restored."""
    config, device, world = parts.config, parts.device, parts.world
    watch = LossWatch.for_classes(len(config.input_spec().class_names))
    if checkpoint is None:
        if world.main:
            if not overwrite:
                refuse_to_replace(run_dir)  # again, now that no other process can be writing it
            remove_run_files(run_dir)
            write_text_atomic(
                run_dir / CONFIG,
                json.dumps(
                    {
                        "config": config.to_dict(),
                        "environment": environment(device, world, config.precision),
                        "command": sys.argv,
                    },
                    indent=2,
                ),
            )
            _record_skipped(config, run_dir, log)
        return RunState(config, run_dir, parts, Position.start(0, 0, device), [], log), watch
    position = Position.from_checkpoint(checkpoint, device, config.epochs, len(parts.train_batches))
    load_weights(parts.model, checkpoint, run_dir / LAST)
    restore_training_state(checkpoint, parts.optimizer, device)
    if world.distributed:
        torch.manual_seed(world.rank_seed(config.seed, position.step))
        if not world.main:  # rank 0 carries the epoch's sums so far; the others start from zero
            position = replace(Position.start(position.epoch, position.step, device), batch=position.batch)
    metrics = _checkpointed_metrics(run_dir, checkpoint, rewrite=world.main)
    log(
        f"resuming {run_dir} from {position.where()} of {config.epochs}"
        + (f" on {world.size} processes" if world.distributed else "")
    )
    state = RunState(config, run_dir, parts, position, metrics, log, resumed=True)
    return state, LossWatch.from_state(checkpoint.meta.get("loss_watch"), watch)


class _Loop:
    """One invocation of a run: its epochs, from wherever the run stands."""

    def __init__(
        self,
        state: RunState,
        observers: list[Observer],
        watch: LossWatch,
        stop_after_epoch: int | None,
        started: float,
    ) -> None:
        self.state, self.observers, self.watch, self.stop_after_epoch = (
            state,
            observers,
            watch,
            stop_after_epoch,
        )
        self.started = started  # this invocation's start, for the rows' wall time
        self.parts = state.parts
        self.saved = (
            f"{state.run_dir / LAST} ({state.position.where()})" if (state.run_dir / LAST).is_file() else None
        )
        self.save_timer = Throttle(state.config.save_every, start_now=True)
        self.signals = StopRequest()
        self.stopping = False  # a signal reached this process or, under torchrun, another
        self.lr = 0.0

    def train(self) -> str:
        """Every epoch left, then the final weights; the outcome (observers.OUTCOMES)."""
        state, config = self.state, self.state.config
        try:
            self.notify("on_start")
            with self.signals:
                while state.position.epoch < config.epochs and not state.stop_reason:
                    self.epoch()
                    if self.stopping:
                        raise self.interrupted()
                    if state.position.epoch == self.stop_after_epoch:
                        break
            outcome = (
                FINISHED
                if state.position.epoch == config.epochs
                else STOPPED
                if state.stop_reason
                else PAUSED
            )
            if outcome != PAUSED:
                self.finish(outcome)
        except TrainingInterrupted:
            self.notify_end(INTERRUPTED)
            raise
        except KeyboardInterrupt:
            # A second Ctrl-C, or one outside the main thread: the step in progress is lost.
            state.log(
                f"interrupted; the last checkpoint is {self.saved}: continue with `classicnets train --resume "
                f"{state.run_dir}`"
                if self.saved
                else "interrupted before the first checkpoint: nothing to resume"
            )
            self.notify_end(INTERRUPTED)
            raise
        except BaseException:
            self.notify_end(FAILED)
            raise
        self.notify("on_end", outcome)
        return outcome

    def epoch(self) -> None:
        parts, position = self.parts, self.state.position
        started, resumed_seconds = time.perf_counter(), position.train_seconds
        parts.model.train()
        loss_sum, _, seen = parts.world.sum(position.local_sums(), parts.device)
        self.watch.start_epoch(loss_sum, int(seen))
        for x, y in parts.train_batches.iter_epoch(position.epoch, position.batch):
            out, loss, self.lr = train_step(parts, x, y, position.step)
            position.step += 1
            position.batch += 1
            position.seen += y.shape[0]
            position.loss_sum += loss * y.shape[0]
            position.correct += (predicted_labels(out) == true_labels(y)).sum()
            self.notify("on_step")
            if position.batch % _CHECK_EVERY == 0 or not parts.world.distributed:
                self.between_steps(resumed_seconds + time.perf_counter() - started)
        self.end_epoch(resumed_seconds, started)

    def between_steps(self, train_seconds: float) -> None:
        """Every `_CHECK_EVERY` steps the loss is checked; at any step (under torchrun: only at a
        check, where the ranks synchronise anyway) a due checkpoint or a signal is acted on."""
        parts, position = self.parts, self.state.position
        check = position.batch % _CHECK_EVERY == 0
        sums, stopping, saving = None, self.signals.requested, self.save_timer.due()
        if parts.world.distributed:
            *sums, stops, saves = parts.world.sum([*position.local_sums(), stopping, saving], parts.device)
            stopping, saving = stops > 0, saves > 0
        if check:
            loss_sum, _, seen = sums or position.local_sums()
            self.check_loss(loss_sum, seen)
            self.state.loss = loss_sum / seen
        if stopping or saving:
            position.train_seconds = train_seconds
            self.save(None, sums)
            if stopping:
                raise self.interrupted()

    def end_epoch(self, resumed_seconds: float, started: float) -> None:
        """The epoch's row (its sums over every rank, test and validation accuracy, what observers
        measure), written before the checkpoint that counts it: consistent after a kill at any instant."""
        state, parts, position = self.state, self.parts, self.state.position
        loss_sum, correct, seen, stops = parts.world.sum(
            [*position.local_sums(), self.signals.requested], parts.device
        )
        self.stopping = stops > 0  # any rank's signal stops them all, after this epoch's checkpoint
        self.check_loss(loss_sum, seen)
        if parts.device.type == "cuda":
            torch.cuda.synchronize(parts.device)
        train_seconds = resumed_seconds + time.perf_counter() - started
        parts.world.sync_buffers(parts.model)
        inference = Inference.of(state.config, parts.device)
        row = {
            "epoch": position.epoch + 1,
            "train_loss": loss_sum / seen,
            "train_acc": int(correct) / seen,
            "test_acc": accuracy(parts.eval_model, parts.test_batches, parts.device, parts.world, inference),
        }
        if parts.val_batches is not None:
            row["val_loss"], row["val_acc"] = loss_and_accuracy(
                parts.eval_model, parts.val_batches, parts.device, parts.loss_fn, parts.world, inference
            )
        row.update(
            {
                "examples_per_sec": seen / train_seconds,
                "seconds": resumed_seconds + time.perf_counter() - started,
                "lr": self.lr,
                "train_seconds": train_seconds,
                "train_examples": int(seen),
                "elapsed": time.perf_counter() - self.started,
            }
        )  # wall time of this invocation so far
        for extra in self.notify("measure"):
            row.update(extra)
        state.metrics.append(row)
        if state.main:
            append_metrics(state.run_dir, row)
        state.position = Position.start(position.epoch + 1, position.step, parts.device)
        self.save(row)
        self.notify("on_epoch_end", row)

    def check_loss(self, loss_sum: float, seen: float) -> None:
        problem = self.watch.check(loss_sum, int(seen))
        if problem:
            position = self.state.position
            raise diverged(
                problem, f"epoch {position.epoch + 1} (by batch {position.batch})", self.lr, self.saved
            )

    def save(self, row: dict[str, Any] | None, epoch_sums: list[float] | None = None) -> None:
        """Rank 0 writes last.safetensors; mid-epoch, the epoch's sums so far are the global ones
        (`epoch_sums`: loss, correct, seen over all ranks), so any number of processes resumes it."""
        state, here = self.state, self.state.position
        if self.parts.world.distributed and epoch_sums is not None:
            loss, correct, seen = epoch_sums
            here = replace(
                here,
                loss_sum=torch.tensor(loss, dtype=torch.float32),
                correct=torch.tensor(int(correct)),
                seen=int(seen),
            )
        if state.main:
            info = CheckpointMeta.of(
                state.config, self.parts.device, epoch=here.epoch, step=here.step, metrics=row
            )
            resume_state = {
                **here.meta(),
                "metrics_rows": len(state.metrics),
                "loss_watch": self.watch.state(),
            }
            save_checkpoint(
                state.run_dir / LAST,
                self.parts.model,
                info,
                optimizer=self.parts.optimizer,
                state=resume_state,
                extra=here.tensors(),
            )
        self.saved = f"{state.run_dir / LAST} ({here.where()})"
        self.save_timer.reset()

    def finish(self, outcome: str) -> None:
        """The final weights: after the last epoch, or where early stopping ended the run."""
        state = self.state
        if state.main and state.metrics:
            last = state.metrics[-1]
            info = CheckpointMeta.of(
                state.config,
                self.parts.device,
                epoch=last["epoch"],
                step=state.position.step,
                metrics=last,
                stopped=state.stop_reason if outcome == STOPPED else None,
            )
            save_checkpoint(state.run_dir / FINAL, self.parts.model, info)

    def notify(self, hook: str, *args: Any) -> list[Any]:
        """Call `hook` of every observer that has it; one that raises stops the run, resumable."""
        results = []
        for observer in self.observers:
            method = getattr(observer, hook, None)
            if method is None:
                continue
            try:
                results.append(method(self.state, *args))
            except KeyboardInterrupt:
                raise
            except ClassicnetsError:  # already one clear line
                self.save_after_failure(hook)
                raise
            except Exception as exc:
                self.save_after_failure(hook)
                resume = (
                    f"the last checkpoint is {self.saved}: continue with `classicnets train --resume "
                    f"{self.state.run_dir}`"
                    if self.saved
                    else "no checkpoint was written before it"
                )
                raise ObserverFailed(
                    f"the observer {type(observer).__name__} failed in {hook} at "
                    f"{self.state.position.where()} ({type(exc).__name__}: {exc}); {resume}"
                ) from exc
        return results

    def save_after_failure(self, hook: str) -> None:
        """Mid-epoch, a checkpoint at the current step (one rank alone cannot gather the others' sums)."""
        position = self.state.position
        if (
            hook == "on_step"
            and 0 < position.batch < len(self.parts.train_batches)
            and not self.parts.world.distributed
        ):
            self.save(None)

    def notify_end(self, outcome: str) -> None:
        """`on_end` while the run fails: an observer's own error then must not hide the run's."""
        with contextlib.suppress(Exception):
            self.notify("on_end", outcome)

    def interrupted(self) -> TrainingInterrupted:
        message = (
            f"{self.signals.signal or 'a signal'}: saved a checkpoint, {self.saved}; continue with `classicnets train "
            f"--resume {self.state.run_dir}`"
        )
        self.state.log(message)
        return TrainingInterrupted(message)


def _record_skipped(config: TrainConfig, run_dir: Path, log: Callable[[str], None]) -> None:
    """A folder's pictures that could not be read: listed in the run (SKIPPED) and counted."""
    if user_kind(config.dataset) != "folder":
        return
    data = load_data(config.data_request())
    info = data.info
    log(
        f"{config.dataset}: {len(data.train):,} training and {len(data.test):,} test pictures of "
        f"{len(info.class_names)} classes, read as {'colour' if info.channels == 3 else 'grey'} "
        f"{info.native_size}x{info.native_size}"
        + (
            ""
            if config.channels and config.image_size
            else " (chosen from the pictures; --channels and --image-size change it)"
        )
    )
    if data.skipped:
        write_text_atomic(run_dir / SKIPPED, "".join(f"{path}\t{why}\n" for path, why in data.skipped))
        count = len(data.skipped)
        log(
            f"skipped {count:,} file{'s' if count != 1 else ''} it could not read as a picture: listed in "
            f"{run_dir / SKIPPED}"
        )


def _checkpointed_metrics(
    run_dir: Path, checkpoint: Checkpoint, rewrite: bool = True
) -> list[dict[str, Any]]:
    """The metrics rows the checkpoint covers; metrics.jsonl is rewritten to exactly those."""
    rows = read_metrics(run_dir)
    count = int(checkpoint.meta.get("metrics_rows", checkpoint.meta["epoch"]))
    if len(rows) < count:
        raise CheckpointError(
            f"{run_dir / METRICS} has {len(rows)} rows but the checkpoint was written after "
            f"{count}: the file was changed by hand; start the run again"
        )
    if rewrite:
        write_metrics(run_dir, rows[:count])
    return rows[:count]


def resume(
    run_dir: str | Path,
    *,
    observers: Sequence[Observer] = (),
    show_progress: bool = False,
    log: Callable[[str], None] = print,
    stop_after_epoch: int | None = None,
) -> RunResult:
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
            return run(
                config,
                out=run_dir,
                overwrite=True,
                observers=observers,
                show_progress=show_progress,
                log=log,
                stop_after_epoch=stop_after_epoch,
            )
        checkpoint = read_checkpoint(run_dir / LAST)
        if checkpoint.meta["model"] != config.model:
            raise CheckpointError(
                f"{run_dir / LAST} holds {checkpoint.meta['model']} weights but {run_dir / CONFIG} "
                f"trains {config.model}: the files come from different runs"
            )
        return run(
            config,
            out=run_dir,
            checkpoint=checkpoint,
            observers=observers,
            show_progress=show_progress,
            log=log,
            stop_after_epoch=stop_after_epoch,
        )

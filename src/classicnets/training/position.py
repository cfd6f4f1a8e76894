"""Where a run stands, as a checkpoint carries it: epochs finished, batches done in the next
one, and that epoch's running sums, so that a resumed epoch ends exactly as an uninterrupted one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from classicnets.training.checkpoint import Checkpoint, CheckpointError
from classicnets.validation import Invalid, integer, mapping, number


@dataclass
class Position:
    epoch: int  # epochs finished
    batch: int  # batches done in the epoch under way
    step: int  # optimisation steps done in all
    loss_sum: torch.Tensor  # this epoch's so far, on the device (no host synchronisation per step)
    correct: torch.Tensor
    seen: int = 0
    train_seconds: float = 0.0

    @classmethod
    def start(cls, epoch: int, step: int, device: torch.device) -> Position:
        return cls(
            epoch=epoch,
            batch=0,
            step=step,
            loss_sum=torch.zeros((), device=device),
            correct=torch.zeros((), device=device, dtype=torch.long),
        )

    @classmethod
    def from_checkpoint(
        cls, checkpoint: Checkpoint, device: torch.device, epochs: int, batches: int
    ) -> Position:
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
            raise CheckpointError(
                f"the checkpoint's position is damaged: {exc}; start the run again"
            ) from None
        return position

    def where(self) -> str:
        return (
            f"epoch {self.epoch + 1}, batch {self.batch}" if self.batch else f"the end of epoch {self.epoch}"
        )

    def local_sums(self) -> list[float]:
        """This rank's epoch so far: loss sum, correct count, examples seen (one host synchronisation)."""
        return [float(self.loss_sum), float(self.correct), float(self.seen)]

    def meta(self) -> dict[str, Any]:
        return {"batch": self.batch, "partial": {"seen": self.seen, "train_seconds": self.train_seconds}}

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"partial.loss_sum": self.loss_sum, "partial.correct": self.correct}

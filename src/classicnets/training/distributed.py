"""Data-parallel training under torchrun, PyTorch's own launcher.

torchrun starts one process per device (or per share of the CPU cores) and tells each, through
environment variables, its rank and the size of the world. A run started any other way is a
world of one, and nothing here then costs a collective or changes a result.

What the loop asks of the world: the global batch split evenly across ranks, sums of the
epoch's counts (loss, correct, seen) across ranks so that every printed number is the global
one, agreement on when to checkpoint or stop, and rank 0's BatchNorm statistics before each
evaluation. Only rank 0 writes files and prints.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.distributed_c10d import _set_pg_timeout

from classicnets.errors import ClassicnetsError

_RANK_SEED_STRIDE = 1_000_003
_COLLECTIVE_TIMEOUT = timedelta(minutes=30)  # PyTorch's default for gloo and nccl
CONNECT_TIMEOUT_ENV = "CLASSICNETS_CONNECT_TIMEOUT"  # seconds the ranks may take to connect (default 60)


def connect_timeout() -> timedelta:
    try:
        return timedelta(seconds=float(os.environ.get(CONNECT_TIMEOUT_ENV, 60)))
    except ValueError:
        raise ClassicnetsError(f"{CONNECT_TIMEOUT_ENV} must be a number of seconds") from None


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one training run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that prints, writes the run directory and checkpoints."""
        return self.rank == 0

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """Element-wise sums over all ranks (float64); the values themselves in a world of one."""
        if not self.distributed:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def sync_buffers(self, model: nn.Module) -> None:
        """Give every rank rank 0's buffers (BatchNorm's running statistics): each rank's last
        forward updated its own from its own shard, and evaluation must see one model."""
        if self.distributed:
            for buffer in model.buffers():
                dist.broadcast(buffer, src=0)

    def rank_seed(self, seed: int, step: int) -> int:
        """A seed for this rank's own randomness (dropout) from step `step` on: different ranks
        must not drop the same units, and a restarted world must draw as before."""
        return ((seed * _RANK_SEED_STRIDE + step) * _RANK_SEED_STRIDE + self.rank) % (2**63)


def world_from_env() -> World:
    """The world torchrun describes in the environment, or a world of one."""
    try:
        return World(
            rank=int(os.environ.get("RANK", 0)),
            size=int(os.environ.get("WORLD_SIZE", 1)),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
            local_size=int(os.environ.get("LOCAL_WORLD_SIZE", 1)),
        )
    except ValueError as exc:
        raise ClassicnetsError(f"the torchrun environment is malformed ({exc})") from None


def restarted_by_torchrun() -> bool:
    """True in the workers torchrun restarts after a failure (`--max-restarts`)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) > 0


@contextlib.contextmanager
def joined(world: World, device: torch.device) -> Iterator[torch.device]:
    """Join the process group for the body (nccl on CUDA, gloo on the CPU) and yield this
    rank's device; on the CPU each rank gets its share of the cores, unless the user chose.

    A peer that dies (killed, out of memory) makes the collectives of the others fail: that is
    one line naming this rank, and torchrun then stops the group or restarts it."""
    if not world.distributed:
        yield device
        return
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    elif os.environ.get("OMP_NUM_THREADS") == "1":
        # torchrun sets OMP_NUM_THREADS=1 when it starts several processes and the user set
        # nothing: one thread per rank would leave cores idle where ranks are fewer than cores.
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // world.local_size))
    try:
        if not dist.is_initialized():
            # Connecting the ranks gets its own short limit: after a torchrun restart the gloo
            # mesh can wait forever for a peer (both sides in Pair::waitUntilConnected), and a
            # failed start lets torchrun try again where a hang would hold every rank. The
            # collectives keep PyTorch's default limit.
            store, rank, size = next(dist.rendezvous("env://", timeout=connect_timeout()))
            dist.init_process_group(
                "nccl" if device.type == "cuda" else "gloo",
                store=_per_attempt(store),
                rank=rank,
                world_size=size,
                timeout=connect_timeout(),
            )
            _set_pg_timeout(_COLLECTIVE_TIMEOUT)
        yield device
        # Every rank here before any tears down: a rank that leaves while another is still in
        # its last collective makes gloo abort the process at exit.
        dist.barrier()
    except (RuntimeError, dist.DistError) as exc:
        if not _is_communication_error(exc):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClassicnetsError(
            f"rank {world.rank} of {world.size} lost contact with the other processes "
            f"({first[:200]}); torchrun stops or restarts the group"
        ) from None
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _per_attempt(store: dist.Store) -> dist.Store:
    """The store the ranks meet in, under a prefix of its own for each restart of the group.

    torchrun's workers share its agent's store across restarts (unless the agent ran with
    TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1), and PyTorch adds no prefix per attempt: a restarted
    rank can read the address its dead predecessor published and wait on it forever. On one
    node the restart count is the same for every rank and makes the prefix; across nodes it
    can differ (each node counts its own restarts), so there the README's command sets
    PyTorch's switch instead."""
    if (
        os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True"
        or os.environ.get("GROUP_WORLD_SIZE", "1") != "1"
    ):
        return store
    return dist.PrefixStore(f"classicnets/attempt-{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)


def _is_communication_error(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, dist.DistError) or any(
        marker in text
        for marker in ("gloo", "Gloo", "NCCL", "Connection reset", "Connection refused", "timed out")
    )


def per_rank_batch(batch_size: int, world: World) -> int:
    """`--batch-size` is the global batch: each rank takes its even share."""
    if batch_size % world.size:
        lower, upper = batch_size - batch_size % world.size, batch_size + world.size - batch_size % world.size
        raise ClassicnetsError(
            f"--batch-size {batch_size} is the global batch and must divide evenly among "
            f"{world.size} processes: use {lower} or {upper}"
        )
    return batch_size // world.size


def wrap(model: nn.Module, world: World, device: torch.device, sync_bn: bool) -> nn.Module:
    """The network as DistributedDataParallel trains it (the model itself in a world of one)."""
    if sync_bn and device.type != "cuda":
        raise ClassicnetsError(
            "--sync-bn needs CUDA: PyTorch's SyncBatchNorm does not run on CPU tensors; on the "
            "CPU each process normalises over its own shard of the batch"
        )
    if not world.distributed:
        return model
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids: Any = [device.index] if device.type == "cuda" else None
    # The CPU convolution's backward returns the gradient of a 1-input-channel filter bank
    # (LeNet's first layer: 6x1x5x5) with another stride along its size-1 dimension, which
    # describes the same memory order; DDP compares strides literally and warns once per rank.
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    # Gradients as views of the communication buckets: no second copy of every gradient.
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, gradient_as_bucket_view=True)

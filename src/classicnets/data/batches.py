"""Batches of a data set as tensor operations, with no per-image Python work.

The whole split stays a uint8 tensor (N, C, H, W) on the device where the model runs (47 MB
for Fashion-MNIST's training set, 154 MB for CIFAR-10's); each batch is gathered by index, augmented, converted to float, normalised
and resized there. This replaces d2l's DataLoader of per-image PIL transforms, which spends
most of an epoch resizing images one at a time on the CPU.

Every random choice comes from generators seeded by (seed, epoch), so an epoch's batches are
the same whether the run started at epoch 0 or resumed at that epoch, and each rank of a
distributed run can take its shard of the same permutation.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from classicnets.data.split import Split
from classicnets.errors import DataError
from classicnets.inputs import FASHION_MNIST, InputSpec

# Seeds of different epochs and purposes must not collide; a large odd multiplier spreads them.
_EPOCH_STRIDE = 1_000_003


@dataclass(frozen=True)
class BatchConfig:
    """How batches are drawn and transformed."""

    batch_size: int = 256
    shuffle: bool = False  # a fresh seeded permutation every epoch
    seed: int = 0
    mean: tuple[float, ...] = (
        FASHION_MNIST.mean
    )  # per channel (or one for all), on the [0, 1] scale; 0.5/0.5 is the MLP book recipe
    std: tuple[float, ...] = FASHION_MNIST.std
    resize: int | None = None  # square side in pixels, bilinear as the book's Resize
    crop_padding: int = 0  # random crop of the original size after zero padding by this many px
    flip: bool = False  # random horizontal flip
    drop_last: bool = False
    channels_last: bool = False
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise DataError(f"batch size must be at least 1, got {self.batch_size}")
        for name in ("mean", "std"):  # one number means the same for every channel
            value = getattr(self, name)
            object.__setattr__(
                self, name, (float(value),) if isinstance(value, (int, float)) else tuple(value)
            )
        if len(self.mean) != len(self.std) or min(self.std) <= 0:
            raise DataError(
                f"normalisation needs a positive std for each mean, got {self.mean} and {self.std}"
            )
        if self.resize is not None and self.resize < 1:
            raise DataError(f"resize must be a positive number of pixels, got {self.resize}")
        if self.crop_padding < 0:
            raise DataError(f"crop padding must be >= 0, got {self.crop_padding}")

    @classmethod
    def for_input(cls, spec: InputSpec, **options: object) -> BatchConfig:
        """Batches prepared as `spec` says (normalisation, resize), with the other `options`."""
        return cls(mean=spec.mean, std=spec.std, resize=spec.resize, **options)  # type: ignore[arg-type]


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Per-image random crops of (B, C, H, W) images after zero padding, as one gather (every
    channel of an image cropped alike)."""
    batch, _, height, width = images.shape
    device = images.device
    padded = F.pad(images, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (batch, 1), generator=generator, device=device)
    dx = torch.randint(0, 2 * padding + 1, (batch, 1), generator=generator, device=device)
    rows = (torch.arange(height, device=device) + dy)[:, :, None]  # (B, H, 1)
    cols = (torch.arange(width, device=device) + dx)[:, None, :]  # (B, 1, W)
    # Three index tensors over (B, H', W', C), not four over (B, C, H', W'): the channels ride along,
    # and the gather costs what it did for one channel.
    gathered = padded.permute(0, 2, 3, 1)[torch.arange(batch, device=device)[:, None, None], rows, cols]
    return gathered.permute(0, 3, 1, 2).contiguous()


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each (B, C, H, W) image left-right with probability 1/2."""
    flip = torch.rand(images.shape[0], generator=generator, device=images.device) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


@functools.lru_cache(maxsize=16)
def _channel_affine(
    mean: tuple[float, ...], std: tuple[float, ...], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """(1 / (255 std), mean / std) per channel as (C, 1, 1) tensors on `device`, made once, not
    copied to the device with every batch."""
    std_t = torch.tensor(std, dtype=torch.float64)[:, None, None]
    mean_t = torch.tensor(mean, dtype=torch.float64)[:, None, None]
    return (1.0 / (255.0 * std_t)).float().to(device), (mean_t / std_t).float().to(device)


def to_model_input(images: torch.Tensor, config: BatchConfig) -> torch.Tensor:
    """uint8 (B, C, H, W) -> normalised float (B, C, S, S) in the configured dtype and layout."""
    x = images.to(torch.float32)
    if len(config.mean) == 1:  # one channel: two scalar operations, as fast as before colour
        x = x.mul_(1.0 / (255.0 * config.std[0])).sub_(config.mean[0] / config.std[0])
    else:
        scale, shift = _channel_affine(config.mean, config.std, x.device)
        x = x.mul_(scale).sub_(shift)
    if config.resize is not None and config.resize != x.shape[-1]:
        # Normalising first is exact (bilinear weights sum to 1) and cheaper when upsampling.
        x = F.interpolate(
            x,
            size=(config.resize, config.resize),
            mode="bilinear",
            align_corners=False,
            antialias=config.resize < x.shape[-1],
        )
    if config.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x.to(config.dtype)


class BatchIterator:
    """Iterate over a `Split` in batches of model-ready tensors on `device`.

    `rank`/`world_size` select one shard of each epoch's permutation, padded like
    torch's DistributedSampler so that every rank sees the same number of batches (training
    steps must line up across ranks); with `pad=False` (evaluation) the shards are disjoint and
    together hold every example exactly once.
    """

    def __init__(
        self,
        split: Split,
        config: BatchConfig = BatchConfig(),
        *,
        device: torch.device | str = "cpu",
        rank: int = 0,
        world_size: int = 1,
        pad: bool = True,
    ) -> None:
        if len(split) == 0:
            raise DataError("cannot iterate over an empty split")
        if not 0 <= rank < world_size:
            raise DataError(f"rank {rank} is outside 0..{world_size - 1}")
        self.config = config
        self.device = torch.device(device)
        self.images = split.images.to(self.device)
        self.labels = split.labels.to(self.device)
        self.rank, self.world_size, self.pad = rank, world_size, pad
        self.epoch = 0

    @property
    def num_examples(self) -> int:
        """Examples this rank sees per epoch (before `drop_last`)."""
        if not self.pad:
            return len(range(self.rank, len(self.labels), self.world_size))
        return -(-len(self.labels) // self.world_size)

    def __len__(self) -> int:
        n, b = self.num_examples, self.config.batch_size
        return n // b if self.config.drop_last else -(-n // b)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """This rank's example indices for `epoch` (on the CPU; portable across machines)."""
        total = len(self.labels)
        if self.config.shuffle:
            gen = torch.Generator().manual_seed(self.config.seed * _EPOCH_STRIDE + epoch)
            order = torch.randperm(total, generator=gen)
        else:
            order = torch.arange(total)
        padded = self.num_examples * self.world_size
        if self.pad and padded > total:
            order = torch.cat([order, order[: padded - total]])
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.iter_epoch(self.epoch)

    def iter_epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of `epoch`, from `start_batch` on (resuming mid-epoch gives the same rest)."""
        cfg = self.config
        order = self.epoch_order(epoch).to(self.device)
        augment = cfg.crop_padding > 0 or cfg.flip
        if augment:
            gen = torch.Generator(device=self.device)
            gen.manual_seed((cfg.seed * _EPOCH_STRIDE + epoch) * 2 + 1 + self.rank * 7919)
        for index in range(len(self)):
            batch_index = order[index * cfg.batch_size : (index + 1) * cfg.batch_size]
            images = self.images[batch_index]
            if augment:
                # Draw the randomness even for skipped batches, so the rest match a full epoch.
                if cfg.crop_padding:
                    images = random_crop(images, cfg.crop_padding, gen)
                if cfg.flip:
                    images = random_flip(images, gen)
            if index < start_batch:
                continue
            yield to_model_input(images, cfg), self.labels[batch_index]

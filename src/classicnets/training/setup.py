"""What a run is built from: its batches, its network in its layout, its optimizer and loss
(`build_training`), shared by the loop and the benchmarks; and the record of where it ran."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from classicnets import __version__
from classicnets.data import BatchConfig, BatchIterator, load_data, split_validation
from classicnets.data.toy import TensorBatches, toy_4x4
from classicnets.errors import ClassicnetsError
from classicnets.inputs import TOY_4X4
from classicnets.models import create_model_for_spec, get_model_config
from classicnets.models.base import ClassifierSurface
from classicnets.training.choices import INITS, LOSSES
from classicnets.training.config import TrainConfig
from classicnets.training.device import compiler_missing, resolve_precision, use_channels_last
from classicnets.training.distributed import World, per_rank_batch, wrap
from classicnets.training.memory import check_fits
from classicnets.training.optim import make_optimizer
from classicnets.training.step import Batches, TrainingParts


def default_run_dir(model: str) -> Path:
    return Path("runs") / f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"


def environment(device: torch.device, world: World = World(), precision: str = "auto") -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "precision": resolve_precision(device, precision),
        "world_size": world.size,
        "classicnets": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
    }


def batch_configs(config: TrainConfig, device: torch.device) -> tuple[BatchConfig, BatchConfig]:
    """How training batches (shuffled, augmented) and evaluation batches are made for `config`."""
    train = BatchConfig.for_input(
        config.input_spec(),
        batch_size=config.batch_size,
        shuffle=True,
        seed=config.seed,
        crop_padding=config.crop_padding if config.augment else 0,
        flip=config.augment,
        channels_last=_channels_last(config, device),
    )
    evaluation = replace(
        train,
        batch_size=config.eval_batch_size or 2 * config.batch_size,
        shuffle=False,
        crop_padding=0,
        flip=False,
    )
    return train, evaluation


def _channels_last(config: TrainConfig, device: torch.device) -> bool:
    return use_channels_last(device, config.channels_last, get_model_config(config.model).cpu_channels_last)


@dataclass
class RunBatches:
    """A run's batches, resident on its device: training, test, and (with `val_size`) the
    validation set held out of the training set."""

    train: Batches
    test: Batches
    validation: Batches | None = None


def make_batches(
    config: TrainConfig, device: torch.device, show_progress: bool = True, world: World = World()
) -> RunBatches:
    """Training, test and validation batches for `config`, resident on `device`: this rank's
    share of each (its part of every global training batch; its disjoint part of the others)."""
    train_cfg, eval_cfg = batch_configs(config, device)
    if world.distributed:
        train_cfg = replace(train_cfg, batch_size=per_rank_batch(config.batch_size, world))
    if config.dataset == TOY_4X4.name:
        if world.distributed:
            raise ClassicnetsError(
                f"{config.model} trains on two 4x4 images: there is nothing to share among "
                "processes; run it without torchrun"
            )
        x, y = toy_4x4()
        return RunBatches(
            TensorBatches(x, y, train_cfg.batch_size, device=device),
            TensorBatches(x, y, eval_cfg.batch_size, device=device),
        )
    data = load_data(config.data_request(), show_progress=show_progress)
    train_split, test_split, val_split = data.train, data.test, None
    if config.val_size:
        train_split, val_split = split_validation(data.train, config.val_size, seed=config.seed)
    if config.limit:
        train_split, test_split = train_split.head(config.limit), test_split.head(config.limit)
        val_split = val_split.head(config.limit) if val_split is not None else None
    shard = {"rank": world.rank, "world_size": world.size}
    evaluation = {"device": device, "pad": False, **shard}
    return RunBatches(
        BatchIterator(train_split, train_cfg, device=device, **shard),
        BatchIterator(test_split, eval_cfg, **evaluation),
        BatchIterator(val_split, eval_cfg, **evaluation) if val_split is not None else None,
    )


def build_training(
    config: TrainConfig, device: torch.device, show_progress: bool = True, world: World = World()
) -> TrainingParts:
    """Seed, build and initialise the network on `device` in its layout, with its optimizer,
    loss and batches: the set-up of `run`, shared with the benchmarks. In a world of several
    processes the network is wrapped in DistributedDataParallel and the batches are this rank's."""
    if config.compile and (missing := compiler_missing(device)):
        raise ClassicnetsError(missing)
    spec = config.input_spec()
    batches = make_batches(config, device, show_progress, world)
    check_fits(config.model, spec, config.model_args, config.batch_size // world.size, device)
    torch.manual_seed(config.seed)
    model = create_model_for_spec(config.model, spec, **config.model_args)
    INITS[config.init](model)
    layout = torch.channels_last if _channels_last(config, device) else torch.contiguous_format
    model.to(device, memory_format=layout)  # type: ignore[call-overload]  # documented; not in torch's stub
    trained = wrap(model, world, device, config.sync_bn)
    if world.distributed:
        # SyncBatchNorm's conversion makes a new module; checkpoints hold the inner one
        model = cast(ClassifierSurface, trained.module)
        torch.manual_seed(world.rank_seed(config.seed, 0))  # each rank its own dropout, after the shared init
    # torch.compile returns an OptimizedModule, a Module; its stub says only "a callable"
    step_model = cast(nn.Module, torch.compile(trained)) if config.compile else trained
    return TrainingParts(
        config=config,
        device=device,
        model=model,
        step_model=step_model,
        # Evaluation runs without DistributedDataParallel: the ranks' test shards differ in length,
        # and its forward would wait for a collective that a shorter shard never joins.
        eval_model=step_model if not world.distributed else model,
        optimizer=make_optimizer(model.parameters(), config),
        loss_fn=LOSSES[config.loss](config),
        train_batches=batches.train,
        test_batches=batches.test,
        val_batches=batches.validation,
        total_steps=config.epochs * len(batches.train),
        world=world,
    )

"""Recipes: the book's (SPEC.md's table, from the seeds) and our fast ones.

A recipe is the set of TrainConfig fields that differ from the defaults for one network.
The fast recipes' measured accuracy and time are in the README's results table, with the
command that measured them (`benchmarks/recipes.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from classicnets.errors import ClassicnetsError
from classicnets.training.config import TrainConfig
from classicnets.zoo import NAMES

RECIPES = ("book", "fast", "speedrun")  # "speedrun": one network's, SPEEDRUN_MODEL

# d2l's train_ch6 recipes: SGD, Xavier init, cross-entropy, ToTensor() inputs (no normalisation).
_D2L = {"optimizer": "sgd", "init": "xavier", "loss": "cross_entropy", "mean": 0.0, "std": 1.0}

BOOK: dict[str, dict[str, Any]] = {
    # seed 002: Adam lr 3e-3, batch 64, Normalize((0.5,), (0.5,)), LogSoftmax + NLLLoss, dropout 0.25,
    # PyTorch's default init (the seed never re-initialises).
    "mlp": {
        "optimizer": "adam",
        "lr": 3e-3,
        "epochs": 10,
        "batch_size": 64,
        "loss": "nll",
        "init": "default",
        "mean": 0.5,
        "std": 0.5,
    },
    # seed 003: BCELoss, Adam lr 1e-2, 2,000 epochs over its two 4x4 images, DataLoader batch 1.
    "tiny_cnn": {
        "dataset": "toy4x4",
        "optimizer": "adam",
        "lr": 1e-2,
        "epochs": 2000,
        "batch_size": 1,
        "loss": "bce",
        "init": "default",
        "mean": 0.0,
        "std": 1.0,
    },
    "lenet": {**_D2L, "lr": 0.9, "epochs": 10, "batch_size": 256},
    "lenet_bn": {**_D2L, "lr": 1.0, "epochs": 10, "batch_size": 256},
    "alexnet": {**_D2L, "lr": 0.01, "epochs": 10, "batch_size": 128, "resize": 224},
    # seed 000: VGG-11 narrowed by ratio 4 at 224 px.
    "vgg11": {
        **_D2L,
        "lr": 0.05,
        "epochs": 10,
        "batch_size": 128,
        "resize": 224,
        "model_args": {"width_ratio": 4},
    },
    # seed 001: full-width VGG at 96 px, lr 0.01, 5 epochs, batch 128.
    "vgg13": {**_D2L, "lr": 0.01, "epochs": 5, "batch_size": 128, "resize": 96},
    "vgg16": {**_D2L, "lr": 0.01, "epochs": 5, "batch_size": 128, "resize": 96},
    "vgg19": {**_D2L, "lr": 0.01, "epochs": 5, "batch_size": 128, "resize": 96},
    "nin": {**_D2L, "lr": 0.1, "epochs": 10, "batch_size": 128, "resize": 224},
    "googlenet": {**_D2L, "lr": 0.1, "epochs": 10, "batch_size": 128, "resize": 96},
    "resnet18": {**_D2L, "lr": 0.05, "epochs": 10, "batch_size": 256, "resize": 96},
    "resnet34": {**_D2L, "lr": 0.05, "epochs": 10, "batch_size": 256, "resize": 96},
    "densenet": {**_D2L, "lr": 0.1, "epochs": 10, "batch_size": 256, "resize": 96},
}

# Fast recipes: the book's networks (their layers; the classifier sized to the input) at the
# fewest pixels they take, Nesterov SGD with a one-cycle schedule, label smoothing, inputs
# normalised by the data set's own per-channel statistics and a few epochs, sized so that each reaches the book's test accuracy (BOOK_READINGS)
# in about 5 minutes on 2 CPU cores (measured by benchmarks/tta.py, results in
# benchmarks/results/tta.json). The deep ReLU networks without BatchNorm (AlexNet, VGG, NiN,
# GoogLeNet) start from He's init: with PyTorch's default one NiN sits at chance (its signal
# shrinks ~80-fold over its 12 convs), and the others learn slowly.
_FAST = {
    "optimizer": "nesterov",
    "momentum": 0.9,
    "schedule": "onecycle",
    "label_smoothing": 0.1,
    "init": "default",
    "mean": None,
    "std": None,
    "weight_decay": 5e-4,
}
_HE = {**_FAST, "init": "kaiming"}
# seed 000's narrow VGG (every block's channels divided by 4), for all four depths.
_NARROW_VGG = {**_HE, "lr": 0.05, "batch_size": 128, "resize": 32, "model_args": {"width_ratio": 4}}

FAST: dict[str, dict[str, Any]] = {
    "mlp": {
        **_FAST,
        "optimizer": "adamw",
        "lr": 2e-3,
        "weight_decay": 1e-2,
        "epochs": 4,
        "batch_size": 128,
        "loss": "nll",
        "label_smoothing": 0.0,
    },
    "tiny_cnn": {
        "dataset": "toy4x4",
        "optimizer": "adam",
        "lr": 5e-2,
        "epochs": 200,
        "batch_size": 2,
        "loss": "bce",
        "init": "default",
    },
    "lenet": {**_FAST, "lr": 0.1, "epochs": 3, "batch_size": 128, "model_args": {"act_layer": "relu"}},
    "lenet_bn": {**_FAST, "lr": 0.2, "epochs": 3, "batch_size": 128},
    # bf16 where the CPU computes it natively (float32 elsewhere): AlexNet and DenseNet train
    # 1.4-1.5x faster per step in it on both hosts measured (benchmarks/results/precision.json)
    # and reach the same accuracy (benchmarks/results/tta.json: runs against other_precisions).
    # NiN's step gains 1.7-2.1x too, but its test accuracy fell from 0.898 to 0.815 (history,
    # "nin@3epochs-bf16"), so it stays float32; the others gain too little or lose (ResNet's BatchNorm).
    "alexnet": {**_HE, "lr": 0.02, "epochs": 2, "batch_size": 128, "resize": 65, "precision": "bf16"},
    # The plain narrow VGG-11 ended at 0.9167 after 5 epochs and 0.9092 after 6 with augmentation,
    # short of the book's 0.920 (benchmarks/results/tta.json, "history"): its fast recipe is
    # the BatchNorm variant, named as such on the leaderboard.
    "vgg11": {**_NARROW_VGG, "epochs": 5, "model_args": {"width_ratio": 4, "batch_norm": True}},
    # Plain VGG-13/16/19 reach the book's 0.847 in one epoch, in bf16 where native (VGG-13: 0.882
    # in both precisions); VGG-16 and VGG-19 at lr 0.02: at 0.05 one epoch's warm-up is too short
    # for these deep stacks without BatchNorm (VGG-16 ended at 0.78, VGG-19 at chance). NiN needs
    # 3 epochs (2 ended at 0.63 at lr 0.05 and 0.67 at 0.02). benchmarks/results/speedrun_search.json.
    "vgg13": {**_NARROW_VGG, "epochs": 1, "precision": "bf16"},
    "vgg16": {**_NARROW_VGG, "epochs": 1, "lr": 0.02, "precision": "bf16"},
    "vgg19": {**_NARROW_VGG, "epochs": 1, "lr": 0.02, "precision": "bf16"},
    "nin": {**_HE, "lr": 0.05, "epochs": 3, "batch_size": 128, "resize": 67},
    "googlenet": {**_HE, "lr": 0.05, "epochs": 3, "batch_size": 128, "resize": 28},
    "resnet18": {**_FAST, "lr": 0.05, "epochs": 2, "batch_size": 128, "resize": 28},
    "resnet34": {**_FAST, "lr": 0.05, "epochs": 2, "batch_size": 128, "resize": 28},
    "densenet": {**_FAST, "lr": 0.1, "epochs": 2, "batch_size": 128, "resize": 32, "precision": "bf16"},
}


@dataclass(frozen=True)
class BookReading:
    """The book's own printed final-epoch reading for a network (SPEC.md; one GPU, 10 epochs),
    or, where the book prints none, the reading a fast recipe must reach and where it is from."""

    test_acc: float
    source: str
    loss: float | None = None
    train_acc: float | None = None
    examples_per_sec: float | None = None  # on the book's GPU


_D2L_GPU = "d2l (PyTorch, Chinese v2.0.0), one GPU"
BOOK_READINGS: dict[str, BookReading] = {
    "mlp": BookReading(0.85, "seed 002's target"),
    "tiny_cnn": BookReading(1.0, "seed 003: both toy images classified"),
    "lenet": BookReading(0.779, _D2L_GPU, 0.469, 0.823, 55297),
    "lenet_bn": BookReading(0.708, _D2L_GPU, 0.267, 0.902, 50597),
    "alexnet": BookReading(0.883, _D2L_GPU, 0.331, 0.878, 3942),
    "vgg11": BookReading(0.920, _D2L_GPU, 0.178, 0.935, 2464),
    "vgg13": BookReading(0.847, "seed 001's VGG log (VGG-11, 96 px, 5 epochs)"),
    "vgg16": BookReading(0.847, "seed 001's VGG log (VGG-11, 96 px, 5 epochs)"),
    "vgg19": BookReading(0.847, "seed 001's VGG log (VGG-11, 96 px, 5 epochs)"),
    "nin": BookReading(0.790, _D2L_GPU, 0.563, 0.786, 3088),
    "googlenet": BookReading(0.886, _D2L_GPU, 0.262, 0.900, 3266),
    "resnet18": BookReading(0.893, _D2L_GPU, 0.012, 0.997, 5033),
    "resnet34": BookReading(0.893, "ResNet-18's reading in d2l"),
    "densenet": BookReading(0.885, _D2L_GPU, 0.140, 0.948, 5626),
}

# `classicnets speedrun` (no MODEL) and `train vgg11 --recipe speedrun`: the recipe found by the search
# in benchmarks/results/speedrun_search.json to reach 93% test accuracy in under 3 minutes on 2 CPU
# cores, cold start included (benchmarks/speedrun.py, results in benchmarks/results/speedrun.json).
# The network is VGG-11's first three blocks at half width with BatchNorm (32-64-128 channels,
# 28 -> 3 px) and one linear layer on top; bf16 autocast in channels_last where the CPU has native
# bf16 (the whole run 1.7x faster than in float32 for the same accuracy); mirror images in training
# and at test time, no crops (in 7 epochs the crops cost more accuracy than they bring); 7 epochs
# (8 and 10 were no better by more than the seeds' spread, 6 lost 0.2%).
SPEEDRUN_MODEL = "vgg11"
SPEEDRUN: dict[str, Any] = {
    **_FAST,
    "lr": 0.1,
    "epochs": 7,
    "batch_size": 256,
    "model_args": {"blocks": 3, "width_ratio": 2, "batch_norm": True, "hidden": 0},
    "augment": True,
    "crop_padding": 0,
    "flip_tta": True,
    "precision": "bf16",
    "channels_last": True,
}
_TABLES = {"book": BOOK, "fast": FAST, "speedrun": {SPEEDRUN_MODEL: SPEEDRUN}}


def recipe_config(model: str, recipe: str = "book", **overrides: Any) -> TrainConfig:
    """The TrainConfig of `recipe` for `model`, with `overrides` (None values ignored) on top."""
    from classicnets.models import get_model_config  # PyTorch, only when a recipe is made

    get_model_config(model)  # a clear error for an unknown model name
    if recipe not in _TABLES:
        raise ClassicnetsError(f"unknown recipe {recipe!r}; choose one of: {', '.join(RECIPES)}")
    if model not in _TABLES[recipe]:
        raise ClassicnetsError(
            f"the {recipe} recipe is {SPEEDRUN_MODEL}'s alone: `classicnets train {SPEEDRUN_MODEL} "
            f"--recipe {recipe}`, or --recipe fast for {model}"
        )
    values = dict(_TABLES[recipe][model])
    given_args = dict(overrides.pop("model_args", None) or {})
    if "input_size" in given_args and overrides.get("resize") is None:
        overrides["resize"] = given_args.pop("input_size")  # the user's size replaces the recipe's
    model_args = {**values.pop("model_args", {}), **given_args}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(model=model, recipe=recipe, model_args=model_args, **values).validate()


if not set(BOOK) == set(FAST) == set(BOOK_READINGS) == set(NAMES):
    raise RuntimeError("every registered network needs a book recipe, a fast recipe and a book reading")


# Fields that are `train` options of the data commands (cli.data_cmd), not TrainConfig flags.
_DATA_OPTIONS = ("dataset", "channels", "image_size", "test_fraction", "strict")


def train_command(config: TrainConfig) -> list[str]:
    """The `classicnets train` command line that makes `config`: its recipe, and an option for
    every field that differs from the recipe's value (`--data-dir` aside: where the files lie is
    the machine's, not the run's)."""
    from classicnets.training.config import flags

    base = recipe_config(config.model, config.recipe if config.recipe in RECIPES else "book")
    argv = ["classicnets", "train", config.model, "--recipe", base.recipe]
    for name in (*(f.name for f, _ in flags()), *_DATA_OPTIONS):
        value, default = getattr(config, name), getattr(base, name)
        if value == default:
            continue
        option = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(option if value else "--no-" + option[2:])
        elif value is not None:
            argv += [option, str(value)]
    for key, value in config.model_args.items():
        if base.model_args.get(key) != value:
            argv += ["--arg", f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}"]
    return argv

"""Recipes: the book's (SPEC.md's table, from the seeds) and our fast ones.

A recipe is the set of TrainConfig fields that differ from the defaults for one network.
The fast recipes' measured accuracy and time are in the README's results table, with the
command that measured them (`benchmarks/recipes.py`).
"""

from __future__ import annotations

from typing import Any

from classicnets.errors import ClassicnetsError
from classicnets.models import get_model_config, list_models
from classicnets.training.config import TrainConfig

RECIPES = ("book", "fast")

# d2l's train_ch6 recipes: SGD, Xavier init, cross-entropy, ToTensor() inputs (no normalisation).
_D2L = {"optimizer": "sgd", "init": "xavier", "loss": "cross_entropy", "mean": 0.0, "std": 1.0}

BOOK: dict[str, dict[str, Any]] = {
    # seed 002: Adam lr 3e-3, batch 64, Normalize((0.5,), (0.5,)), LogSoftmax + NLLLoss, dropout 0.25,
    # PyTorch's default init (the seed never re-initialises).
    "mlp": {"optimizer": "adam", "lr": 3e-3, "epochs": 10, "batch_size": 64, "loss": "nll",
            "init": "default", "mean": 0.5, "std": 0.5},
    # seed 003: BCELoss, Adam lr 1e-2, 2,000 epochs over its two 4x4 images, DataLoader batch 1.
    "tiny_cnn": {"dataset": "toy4x4", "optimizer": "adam", "lr": 1e-2, "epochs": 2000, "batch_size": 1,
                 "loss": "bce", "init": "default", "mean": 0.0, "std": 1.0},
    "lenet": {**_D2L, "lr": 0.9, "epochs": 10, "batch_size": 256},
    "lenet_bn": {**_D2L, "lr": 1.0, "epochs": 10, "batch_size": 256},
    "alexnet": {**_D2L, "lr": 0.01, "epochs": 10, "batch_size": 128, "resize": 224},
    # seed 000: VGG-11 narrowed by ratio 4 at 224 px.
    "vgg11": {**_D2L, "lr": 0.05, "epochs": 10, "batch_size": 128, "resize": 224, "model_args": {"width_ratio": 4}},
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

# Fast recipes: fewer pixels where the network allows it (the GAP networks run at 28 px, the
# fixed-classifier ones are rebuilt for a smaller input), momentum SGD or AdamW with a
# one-cycle schedule, label smoothing, normalised inputs, and augmentation where it pays.
_FAST = {"optimizer": "nesterov", "momentum": 0.9, "schedule": "onecycle", "label_smoothing": 0.1,
         "init": "default", "mean": 0.2860, "std": 0.3530, "weight_decay": 5e-4}

FAST: dict[str, dict[str, Any]] = {
    "mlp": {**_FAST, "optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-2, "epochs": 4, "batch_size": 128,
            "loss": "nll", "label_smoothing": 0.0},
    "tiny_cnn": {"dataset": "toy4x4", "optimizer": "adam", "lr": 5e-2, "epochs": 200, "batch_size": 2,
                 "loss": "bce", "init": "default"},
    "lenet": {**_FAST, "lr": 0.1, "epochs": 3, "batch_size": 128, "model_args": {"act_layer": "relu"}},
    "lenet_bn": {**_FAST, "lr": 0.2, "epochs": 3, "batch_size": 128},
    "alexnet": {**_FAST, "lr": 0.02, "epochs": 10, "batch_size": 128, "resize": 67},
    "vgg11": {**_FAST, "lr": 0.05, "epochs": 8, "batch_size": 128, "resize": 32,
              "model_args": {"width_ratio": 4, "batch_norm": True}},
    "vgg13": {**_FAST, "lr": 0.05, "epochs": 8, "batch_size": 128, "resize": 32,
              "model_args": {"width_ratio": 4, "batch_norm": True}},
    "vgg16": {**_FAST, "lr": 0.05, "epochs": 8, "batch_size": 128, "resize": 32,
              "model_args": {"width_ratio": 4, "batch_norm": True}},
    "vgg19": {**_FAST, "lr": 0.05, "epochs": 8, "batch_size": 128, "resize": 32,
              "model_args": {"width_ratio": 4, "batch_norm": True}},
    "nin": {**_FAST, "lr": 0.05, "epochs": 10, "batch_size": 128, "resize": 67},
    # Without BatchNorm the book's GoogLeNet sat at chance for 4 epochs under this recipe at 28 px
    # (measured here); the fast recipe uses the BN variant.
    "googlenet": {**_FAST, "lr": 0.05, "epochs": 8, "batch_size": 128, "resize": 28,
                  "model_args": {"batch_norm": True}},
    "resnet18": {**_FAST, "lr": 0.05, "epochs": 8, "batch_size": 128, "resize": 28, "augment": True},
    "resnet34": {**_FAST, "lr": 0.05, "epochs": 8, "batch_size": 128, "resize": 28, "augment": True},
    "densenet": {**_FAST, "lr": 0.1, "epochs": 8, "batch_size": 128, "resize": 32, "augment": True},
}

_TABLES = {"book": BOOK, "fast": FAST}

# What `classicnets speedrun` trains by default: the most accurate run under 3 minutes measured
# here, LeNet's fast recipe (ReLU, Nesterov, one-cycle) for 20 epochs: 0.9196 in 142 s, cold
# (benchmarks/tta.py, results in benchmarks/results/tta.json). No network of the zoo reached 93%
# in 3 minutes on 2 CPU cores; see the README's benchmark section.
SPEEDRUN_MODEL = "lenet"
SPEEDRUN_EPOCHS = 20


def recipe_config(model: str, recipe: str = "book", **overrides: Any) -> TrainConfig:
    """The TrainConfig of `recipe` for `model`, with `overrides` (None values ignored) on top."""
    get_model_config(model)  # a clear error for an unknown model name
    if recipe not in _TABLES:
        raise ClassicnetsError(f"unknown recipe {recipe!r}; choose one of: {', '.join(RECIPES)}")
    values = dict(_TABLES[recipe][model])
    given_args = dict(overrides.pop("model_args", None) or {})
    if "input_size" in given_args and overrides.get("resize") is None:
        overrides["resize"] = given_args.pop("input_size")  # the user's size replaces the recipe's
    model_args = {**values.pop("model_args", {}), **given_args}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(model=model, recipe=recipe, model_args=model_args, **values).validate()


if not set(BOOK) == set(FAST) == set(list_models()):
    raise RuntimeError("every registered network needs a book and a fast recipe")

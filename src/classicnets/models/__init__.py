"""The model zoo. Importing this package registers every network."""

# isort: off
# The book's order: each module registers its builders as it is imported, and list_models() is
# that order (checked against classicnets.zoo.NAMES below).
from classicnets.models import mlp, tiny_cnn, lenet, alexnet, vgg, nin, googlenet, resnet, densenet  # noqa: F401

# isort: on
from classicnets.models.base import (
    ClassicNet,
    ClassifierSurface,
    init_book_weights,
    init_kaiming_weights,
    top_level_layers,
)
from classicnets.models.layers import BookBatchNorm
from classicnets.models.mlp import FashionNetwork, fashion_network_sequential
from classicnets.models.registry import (
    ModelConfig,
    create_model,
    create_model_for_input,
    create_model_for_spec,
    get_model_config,
    list_models,
    model_arguments,
    smallest_input_side,
)
from classicnets.zoo import NAMES

if tuple(list_models()) != NAMES:
    raise RuntimeError(f"classicnets.zoo.NAMES {NAMES} and the registered networks {list_models()} disagree")

__all__ = [
    "BookBatchNorm",
    "ClassicNet",
    "ClassifierSurface",
    "FashionNetwork",
    "ModelConfig",
    "create_model",
    "create_model_for_input",
    "create_model_for_spec",
    "fashion_network_sequential",
    "get_model_config",
    "init_book_weights",
    "init_kaiming_weights",
    "list_models",
    "model_arguments",
    "smallest_input_side",
    "top_level_layers",
]

"""The model registry: every network is a builder function registered under a name, with a
default configuration that tools read instead of hard-coding per-model facts (timm's idea)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch

from classicnets.errors import ClassicnetsError, InputSizeError, ModelError
from classicnets.inputs import InputSpec, outputs_fit
from classicnets.models.base import ClassifierSurface, smallest_working_size, too_small
from classicnets.models.layers import resolve_activation


@dataclass(frozen=True)
class ModelConfig:
    """Facts about a registered network that its builder does not say itself.

    What a network is fed (the book's resize and normalisation) belongs to its book recipe
    (`training/recipes.py`); its classifier's name to the built network (`get_classifier()`).
    """

    name: str
    builder: Callable[..., ClassifierSurface]
    description: str
    seed: str  # where the definition comes from: a seed number or the book chapter
    # Train in channels_last on the CPU: measured faster for the larger conv networks
    # (benchmarks/channels_last.py); slower or no better for the small ones.
    cpu_channels_last: bool = False


_REGISTRY: dict[str, ModelConfig] = {}
_Builder = TypeVar("_Builder", bound=Callable[..., ClassifierSurface])


def register_model(
    *,
    description: str,
    seed: str,
    cpu_channels_last: bool = False,
) -> Callable[[_Builder], _Builder]:
    """Register a builder under its function name; a duplicate name is a bug and raises."""

    def decorate(builder: _Builder) -> _Builder:
        name = builder.__name__
        if name in _REGISTRY:
            raise RuntimeError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelConfig(
            name=name,
            builder=builder,
            description=description,
            seed=seed,
            cpu_channels_last=cpu_channels_last,
        )
        return builder

    return decorate


def list_models() -> list[str]:
    """Names of every registered network, in registration order (the book's order)."""
    return list(_REGISTRY)


def get_model_config(name: str) -> ModelConfig:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; choose one of: {', '.join(_REGISTRY)}") from None


def model_arguments(name: str) -> dict[str, inspect.Parameter]:
    """The keyword arguments a network's builder takes."""
    return dict(inspect.signature(get_model_config(name).builder).parameters)


def create_model(name: str, **kwargs: object) -> ClassifierSurface:
    """Build the network registered as `name`, with `kwargs` overriding its defaults."""
    accepted = model_arguments(name)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ModelError(f"{name} does not take {', '.join(unknown)}; it takes: {', '.join(accepted)}")
    if "act_layer" in kwargs:
        kwargs["act_layer"] = resolve_activation(kwargs["act_layer"])  # type: ignore[arg-type]
    try:
        return _REGISTRY[name].builder(**kwargs)
    except ClassicnetsError:
        raise
    except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
        # A wrong type or value reached a layer constructor (a negative width is PyTorch's
        # RuntimeError): say which call, not where it broke.
        given = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise ModelError(f"cannot build {name}({given}): {exc}") from None


def create_model_for_input(name: str, side: int, **kwargs: object) -> ClassifierSurface:
    """Build `name` for square inputs of `side` pixels.

    A network whose classifier's width depends on its input (the MLP, LeNet, AlexNet, VGG) is
    built for `side`; any other must accept it. Either way a size that cannot work is an
    `InputSizeError` naming the smallest one that does.
    """
    if "input_size" in kwargs:
        raise ModelError(f"give the input size once, as the side ({side}), not again as input_size")
    if "input_size" in model_arguments(name):
        kwargs["input_size"] = side
    model = create_model(name, **kwargs)
    minimum = getattr(model, "min_input_size", 1)
    if side < minimum:
        raise too_small(name, side, side, minimum)
    return model


def create_model_for_spec(name: str, spec: InputSpec, **kwargs: object) -> ClassifierSurface:
    """Build `name` for a run's input: its side, its channels and (unless the arguments say
    otherwise) one output per class, or the builder's single sigmoid output for two classes."""
    classes = len(spec.class_names)
    kwargs.setdefault("in_channels", spec.channels)
    default = model_arguments(name)["num_classes"].default
    if not outputs_fit(default, classes):
        kwargs.setdefault("num_classes", classes)
    return create_model_for_input(name, spec.resize, **kwargs)


def smallest_input_side(name: str, **kwargs: object) -> int:
    """The smallest square side `name` can be built for and fed (shapes only, on the meta device)."""
    with torch.device("meta"):
        model = create_model(name, **kwargs)
    if getattr(model, "fixed_input_size", None) is None:
        return model.min_input_size

    def works(side: int) -> bool:
        try:
            with torch.device("meta"):
                create_model_for_input(name, side, **kwargs)
        except InputSizeError:
            return False
        return True

    return smallest_working_size(works)

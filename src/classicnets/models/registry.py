"""The model registry: every network is a builder function registered under a name, with a
default configuration that tools read instead of hard-coding per-model facts (timm's idea)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from classicnets.errors import ClassicnetsError, ModelError
from classicnets.models.layers import resolve_activation


@dataclass(frozen=True)
class ModelConfig:
    """Facts about a registered network at its default settings."""

    name: str
    builder: Callable[..., nn.Module]
    description: str
    seed: str  # where the definition comes from: a seed number or the book chapter
    input_size: tuple[int, int, int]  # (C, H, W) the network is built for by default
    book_resize: int  # the side the book resizes Fashion-MNIST to for this network
    book_mean: float  # the book's input normalisation: d2l feeds ToTensor() output (0, 1)
    book_std: float
    classifier: str  # name of the module that produces the logits
    num_classes: int = 10
    # Train in channels_last on the CPU: measured faster for the larger conv networks
    # (benchmarks/channels_last.py); slower or no better for the small ones.
    cpu_channels_last: bool = False


_REGISTRY: dict[str, ModelConfig] = {}


def register_model(
    *,
    description: str,
    seed: str,
    input_size: tuple[int, int, int],
    classifier: str,
    book_resize: int | None = None,
    book_mean: float = 0.0,
    book_std: float = 1.0,
    num_classes: int = 10,
    cpu_channels_last: bool = False,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a builder under its function name; a duplicate name is a bug and raises."""

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = builder.__name__
        if name in _REGISTRY:
            raise RuntimeError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelConfig(
            name=name,
            builder=builder,
            description=description,
            seed=seed,
            input_size=input_size,
            book_resize=book_resize if book_resize is not None else input_size[-1],
            book_mean=book_mean,
            book_std=book_std,
            classifier=classifier,
            num_classes=num_classes,
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
        raise ModelError(
            f"unknown model {name!r}; choose one of: {', '.join(_REGISTRY)}"
        ) from None


def model_arguments(name: str) -> dict[str, inspect.Parameter]:
    """The keyword arguments a network's builder takes."""
    return dict(inspect.signature(get_model_config(name).builder).parameters)


def create_model(name: str, **kwargs: object) -> nn.Module:
    """Build the network registered as `name`, with `kwargs` overriding its defaults."""
    accepted = model_arguments(name)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ModelError(
            f"{name} does not take {', '.join(unknown)}; it takes: {', '.join(accepted)}"
        )
    if "act_layer" in kwargs:
        kwargs["act_layer"] = resolve_activation(kwargs["act_layer"])  # type: ignore[arg-type]
    try:
        return _REGISTRY[name].builder(**kwargs)
    except ClassicnetsError:
        raise
    except (TypeError, ValueError) as exc:
        # A wrong type or value reached a layer constructor: say which call, not where it broke.
        given = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise ModelError(f"cannot build {name}({given}): {exc}") from None

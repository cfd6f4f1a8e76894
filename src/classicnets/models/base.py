"""What every network in the zoo shares: the timm-like surface (`forward_features`,
`forward_head`, `get_classifier`), input checks that name the sizes that work, and the
book's weight initialisation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
from torch import nn
from torch.func import functional_call

from classicnets.errors import InputSizeError

# The largest side the smallest-size search tries; every zoo network fits far below it.
_MAX_SEARCH_SIZE = 4096


def _meta_forward(module: nn.Module, in_channels: int, size: int) -> torch.Size | None:
    """Output shape of `module` on a (1, C, size, size) input, or None if the size is too small.

    Runs on the meta device (shapes only, no arithmetic) with the module's own structure, so
    it costs microseconds per layer whatever the module's real device.
    """
    tensors = {k: torch.empty_like(v, device="meta") for k, v in module.state_dict(keep_vars=True).items()}
    was_training = module.training
    module.eval()  # BatchNorm in training mode rejects a single 1x1 value per channel
    try:
        out = functional_call(module, tensors, (torch.empty(1, in_channels, size, size, device="meta"),))
    except RuntimeError:
        return None
    finally:
        module.train(was_training)
    if any(d < 1 for d in out.shape[2:]):
        return None
    return out.shape


def smallest_working_size(works: Callable[[int], bool]) -> int:
    """The smallest side for which `works(side)` holds, for a monotone `works`.

    Exponential then binary search: a network that takes 1x1 input costs one probe, and no
    probe is ever larger than twice the answer.
    """
    size = 1
    while not works(size):
        size *= 2
        if size > _MAX_SEARCH_SIZE:
            raise ValueError(f"rejects even {_MAX_SEARCH_SIZE}x{_MAX_SEARCH_SIZE} inputs")
    low, high = size // 2 + 1, size  # high works, everything below low fails
    while low < high:
        mid = (low + high) // 2
        if works(mid):
            high = mid
        else:
            low = mid + 1
    return high


def smallest_input_size(module: nn.Module, in_channels: int) -> int:
    """The smallest square side that `module` accepts."""
    return smallest_working_size(lambda side: _meta_forward(module, in_channels, side) is not None)


def too_small(name: str, height: int, width: int, minimum: int) -> InputSizeError:
    """The one error for an input smaller than a network takes, naming the size that works."""
    return InputSizeError(
        f"{name} cannot take {height}x{width} inputs: the smallest size that works is {minimum}x{minimum}"
    )


def features_output_shape(
    name: str, features: nn.Module, in_channels: int, input_size: int
) -> tuple[int, ...]:
    """(C, H, W) that `features` produces at `input_size`, or a clear error naming the minimum."""
    shape = _meta_forward(features, in_channels, input_size)
    if shape is None:
        raise too_small(name, input_size, input_size, smallest_input_size(features, in_channels))
    return tuple(shape[1:])


class ClassifierSurface(nn.Module):
    """The common surface of every zoo network; subclasses supply the two halves.

    `fixed_input_size` is set where the classifier's width depends on the input size (LeNet,
    AlexNet, VGG, the MLP); otherwise any input of at least `min_input_size` works. Both are
    plain numbers fixed when the network is built, so `forward` runs the forward pass and
    nothing else: no probe ever runs the network's modules behind a caller's hooks.
    """

    model_name: str
    in_channels: int
    fixed_input_size: int | None
    min_input_size: int
    classifier_name: str

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_classifier(self) -> nn.Module:
        return self.get_submodule(self.classifier_name)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise `InputSizeError` for an input this network cannot take, saying what works."""
        if x.ndim != 4:
            raise InputSizeError(
                f"{self.model_name} takes a batch of images shaped (N, C, H, W), "
                f"got a {x.ndim}-D tensor of shape {tuple(x.shape)}"
            )
        channels, height, width = x.shape[1:]
        if channels != self.in_channels:
            raise InputSizeError(
                f"{self.model_name} was built for {self.in_channels}-channel input, got "
                f"{channels} channels: convert the images or build it with in_channels={channels}"
            )
        if self.fixed_input_size is not None:
            side = self.fixed_input_size
            if (height, width) != (side, side):
                raise InputSizeError(
                    f"{self.model_name} was built for {side}x{side} inputs (its classifier's width "
                    f"depends on it), got {height}x{width}: resize the input to {side} or build "
                    f"it with input_size={height}"
                )
        elif min(height, width) < self.min_input_size:
            raise too_small(self.model_name, height, width, self.min_input_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.forward_head(self.forward_features(x))


class ClassicNet(ClassifierSurface):
    """A convolutional network as the book writes it: `features`, then `head`.

    Both are `nn.Sequential`s whose children are the book's top-level layers, so walking them
    in order reproduces the book's layer-by-layer shape printout.
    """

    def __init__(
        self,
        name: str,
        features: nn.Sequential,
        head: nn.Sequential,
        *,
        in_channels: int,
        classifier_name: str,
        fixed_input_size: int | None = None,
    ) -> None:
        super().__init__()
        self.model_name = name
        self.in_channels = in_channels
        self.features = features
        self.head = head
        self.classifier_name = classifier_name
        self.fixed_input_size = fixed_input_size
        # Found once, now, while no caller can have hooked these modules yet.
        self.min_input_size = fixed_input_size or smallest_input_size(features, in_channels)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)


def top_level_layers(model: nn.Module) -> Iterable[tuple[str, nn.Module]]:
    """The book's top-level layers of `model`: the children of `features` then of `head`
    for a `ClassicNet`, else the model's own children."""
    if isinstance(model, ClassicNet):
        yield from (("features." + n, m) for n, m in model.features.named_children())
        yield from (("head." + n, m) for n, m in model.head.named_children())
    else:
        yield from model.named_children()


def _initialised_layers(model: nn.Module) -> Iterator[nn.Linear | nn.Conv2d]:
    # seed 000 tests `type(m) == nn.Linear or type(m) == nn.Conv2d`: exact types, not Lazy or
    # other derived modules.
    for module in model.modules():
        if type(module) is nn.Linear or type(module) is nn.Conv2d:
            yield module


def init_book_weights(model: nn.Module) -> nn.Module:
    """The book's initialisation (seed 000 `train_ch6`): Xavier-uniform weights for every
    Linear and Conv2d, biases left at PyTorch's default. Returns `model`."""
    for module in _initialised_layers(model):
        nn.init.xavier_uniform_(module.weight)
    return model


def init_kaiming_weights(model: nn.Module) -> nn.Module:
    """He-normal weights (fan-in, ReLU gain) and zero biases for every Linear and Conv2d.

    For deep ReLU stacks without BatchNorm (NiN's twelve convs): PyTorch's default init shrinks
    the signal about 80-fold through NiN at 67 px and its first conv's gradient to ~1e-5, so
    the fast recipe sat at chance; He's init keeps each layer's output near unit scale
    (`benchmarks/nin_init.py`). Returns `model`.
    """
    for module in _initialised_layers(model):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    return model

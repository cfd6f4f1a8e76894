"""What a network is fed: the data sets it can train on and the typed description of one run's
input (`InputSpec`), built once from the training configuration, written once into every
checkpoint and export, and read back by evaluate, predict, verify, shift and export.

No PyTorch here: the NumPy runtime reads the same description.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from classicnets.errors import ClassicnetsError
from classicnets.validation import Invalid, integer, mapping, number, text

# The book's largest input is 224 px; beyond this a "size" is a typo, and would ask for
# terabytes (AlexNet's classifier grows with the square of the side).
MAX_RESIZE = 2048
# Inputs are scaled to [0, 1] before normalising: a mean or std far outside that scale, or a
# std so small that float32 overflows, is damage, not a choice.
MAX_NORM = 1e3
MIN_STD = 1e-6


@dataclass(frozen=True)
class Dataset:
    """Facts about a data set a run can train on."""

    name: str
    class_names: tuple[str, ...]
    native_size: int  # the images' square side before any resize
    channels: int
    images: bool  # real pictures (evaluate, predict and the translation test apply) or a toy


FASHION_MNIST = Dataset(
    name="fashion-mnist",
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    native_size=28, channels=1, images=True,
)
# Seed 003's two 4x4 images, classified by one sigmoid output.
TOY_4X4 = Dataset(name="toy4x4", class_names=("0", "1"), native_size=4, channels=1, images=False)

DATASETS: dict[str, Dataset] = {d.name: d for d in (FASHION_MNIST, TOY_4X4)}


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ClassicnetsError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}") from None


@dataclass(frozen=True)
class InputSpec:
    """How a run's images were prepared: scaled to [0, 1], normalised by (mean, std), resized
    (bilinear) to `resize` x `resize`. The network was built for exactly this input."""

    dataset: str
    class_names: tuple[str, ...]
    native_size: int
    channels: int
    resize: int  # the side the network sees; `native_size` when the images are not resized
    mean: float
    std: float

    def __post_init__(self) -> None:
        # Every InputSpec is checked where it is made: from a configuration, a checkpoint or an export.
        info = get_dataset(text(self.dataset, "the input's dataset"))
        if self.class_names != info.class_names:
            raise Invalid(f"the input's class names {_few(self.class_names)} are not {info.name}'s {_few(info.class_names)}")
        if integer(self.native_size, "the input's native size", 1, MAX_RESIZE) != info.native_size:
            raise Invalid(f"the input's native size is {self.native_size}, but {info.name}'s images are {info.native_size} px")
        if integer(self.channels, "the input's channels", 1, 4) != info.channels:
            raise Invalid(f"the input has {self.channels} channels, but {info.name}'s images have {info.channels}")
        integer(self.resize, "the input's resize", 1, MAX_RESIZE)
        if not info.images and self.resize != info.native_size:
            raise Invalid(f"the input's resize is {self.resize}, but {info.name} has fixed {info.native_size} px images")
        number(self.mean, "the input's mean", -MAX_NORM, MAX_NORM)
        number(self.std, "the input's std", MIN_STD, MAX_NORM)

    @classmethod
    def create(cls, dataset: str, *, resize: int | None, mean: float, std: float) -> "InputSpec":
        info = get_dataset(dataset)
        return cls(dataset=info.name, class_names=info.class_names, native_size=info.native_size,
                   channels=info.channels, resize=resize or info.native_size, mean=mean, std=std)

    @property
    def images(self) -> bool:
        """True for a data set of real pictures (Fashion-MNIST), False for seed 003's toy."""
        return get_dataset(self.dataset).images

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one input as the network sees it."""
        return (self.channels, self.resize, self.resize)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["class_names"] = list(self.class_names)
        return values

    @classmethod
    def from_dict(cls, values: Any) -> "InputSpec":
        """The InputSpec a checkpoint or an export wrote (`to_dict`), checked field by field."""
        values = mapping(values, "the input description")
        missing = [f for f in ("dataset", "class_names", "native_size", "channels", "resize", "mean", "std")
                   if f not in values]
        if missing:
            raise Invalid(f"the input description lacks {', '.join(missing)}")
        names = values["class_names"]
        if not isinstance(names, list) or len(names) > 1000 or not all(isinstance(n, str) for n in names):
            raise Invalid("the input's class names are not a list of names")
        return cls(dataset=values["dataset"], class_names=tuple(names), native_size=values["native_size"],
                   channels=values["channels"], resize=values["resize"], mean=values["mean"], std=values["std"])


def outputs_fit(outputs: int, classes: int) -> bool:
    """Whether a network with `outputs` outputs classifies `classes` classes: one output per
    class, or one sigmoid output for two (seed 003's toy)."""
    return outputs == classes or (outputs == 1 and classes == 2)


def _few(names: tuple[str, ...]) -> str:
    shown = ", ".join(repr(n)[:20] for n in names[:3])
    return f"({len(names)}: {shown}{', ...' if len(names) > 3 else ''})"

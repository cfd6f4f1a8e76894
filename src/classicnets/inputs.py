"""What a network is fed: the data sets it can train on and the typed description of one run's
input (`InputSpec`), built once from the training configuration, written once into every
checkpoint and export, and read back by evaluate, predict, verify, shift and export.

No PyTorch here: the NumPy runtime reads the same description.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from classicnets.errors import ClassicnetsError


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
    def from_dict(cls, values: dict[str, Any]) -> "InputSpec":
        try:
            return cls(dataset=str(values["dataset"]), class_names=tuple(values["class_names"]),
                       native_size=int(values["native_size"]), channels=int(values["channels"]),
                       resize=int(values["resize"]), mean=float(values["mean"]), std=float(values["std"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ClassicnetsError(f"the input description is incomplete or damaged ({exc!r})") from None

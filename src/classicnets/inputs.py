"""What a network is fed: the data sets it can train on and the typed description of one run's
input (`InputSpec`), built once from the training configuration and its data, written once into
every checkpoint and export, and read back by evaluate, predict, explain, verify, shift and export.

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
MAX_CLASSES = 1000
# A user's own data set is named by where it is: "folder:PATH" (class folders of pictures) or
# "npz:FILE" (arrays); everything else about it is read from the data.
USER_KINDS = ("folder", "npz")
# How a user's own picture becomes one of a data set's images (`numpy_runtime.picture`):
# "object" for the MNIST family (a light object on black, cropped to it and centred), "plain"
# for photographs (decoded, converted to the channels, resized to the side).
PICTURE_STYLES = ("object", "plain")


@dataclass(frozen=True)
class Dataset:
    """Facts about a data set a run can train on: its classes, its images' side and channels,
    and its training split's per-channel pixel statistics on the [0, 1] scale."""

    name: str
    class_names: tuple[str, ...]
    native_size: int  # the images' square side before any resize
    channels: int
    images: bool  # real pictures (evaluate, predict and the translation test apply) or a toy
    mean: tuple[float, ...]
    std: tuple[float, ...]
    picture: str = "plain"  # one of PICTURE_STYLES
    title: str = ""  # how people write its name


def _digits() -> tuple[str, ...]:
    return tuple(str(d) for d in range(10))


FASHION_MNIST = Dataset(
    name="fashion-mnist",
    title="Fashion-MNIST",
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    native_size=28,
    channels=1,
    images=True,
    mean=(0.2860,),
    std=(0.3530,),
    picture="object",
)
MNIST = Dataset(
    name="mnist",
    title="MNIST",
    class_names=_digits(),
    native_size=28,
    channels=1,
    images=True,
    mean=(0.1307,),
    std=(0.3081,),
    picture="object",
)
# Kuzushiji-MNIST: ten cursive hiragana, named as its authors romanise them.
KMNIST = Dataset(
    name="kmnist",
    title="Kuzushiji-MNIST",
    class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    native_size=28,
    channels=1,
    images=True,
    mean=(0.1918,),
    std=(0.3483,),
    picture="object",
)
# The population statistics of the 50,000 training images (not the per-image averages often quoted).
CIFAR10 = Dataset(
    name="cifar10",
    title="CIFAR-10",
    class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    native_size=32,
    channels=3,
    images=True,
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616),
)
# Seed 003's two 4x4 images, classified by one sigmoid output.
TOY_4X4 = Dataset(
    name="toy4x4",
    title="seed 003's 4x4 toy",
    class_names=("0", "1"),
    native_size=4,
    channels=1,
    images=False,
    mean=(0.0,),
    std=(1.0,),
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (FASHION_MNIST, MNIST, KMNIST, CIFAR10, TOY_4X4)}


def user_kind(name: str) -> str | None:
    """ "folder" or "npz" for a user's own data set ("folder:PATH", "npz:FILE"), else None."""
    kind, sep, where = name.partition(":")
    return kind if sep and kind in USER_KINDS and where else None


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ClassicnetsError(
            f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}, "
            "folder:PATH (your pictures, one folder per class) or npz:FILE"
        ) from None


def check_dataset_name(name: str) -> str:
    """`name` if it is a catalog name or a user's data set, else the error listing the choices."""
    if user_kind(name) is None:
        get_dataset(name)
    return name


def per_channel(value: float | tuple[float, ...] | list[float], channels: int) -> tuple[float, ...]:
    """A normalisation given once for every channel, or one per channel, as one per channel."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    if isinstance(value, bool):  # a number to Python, never a normalisation
        raise TypeError(f"a normalisation is a number or one per channel, not {value!r}")
    return (float(value),) * channels


@dataclass(frozen=True)
class InputSpec:
    """How a run's images were prepared: scaled to [0, 1], normalised channel by channel by
    (mean, std), resized (bilinear) to `resize` x `resize`. The network was built for exactly
    this input. A user's own data set also records its fingerprint (so a changed folder is
    noticed) and the fraction of each class held out as the test split (0 when it has its own)."""

    dataset: str
    class_names: tuple[str, ...]
    native_size: int
    channels: int
    resize: int  # the side the network sees; `native_size` when the images are not resized
    mean: tuple[float, ...]
    std: tuple[float, ...]
    fingerprint: str = ""
    test_fraction: float = 0.0

    def __post_init__(self) -> None:
        # Every InputSpec is checked where it is made: from a configuration, a checkpoint or an export.
        name = text(self.dataset, "the input's dataset", 4200)
        integer(self.channels, "the input's channels", 1, 4)
        for key in ("mean", "std"):  # one number: the same for every channel
            value = getattr(self, key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                object.__setattr__(self, key, per_channel(value, self.channels))
        integer(self.native_size, "the input's native size", 1, MAX_RESIZE)
        if user_kind(name) is None:
            info = get_dataset(name)
            if self.class_names != info.class_names:
                raise Invalid(
                    f"the input's class names {_few(self.class_names)} are not {info.name}'s {_few(info.class_names)}"
                )
            if self.native_size != info.native_size:
                raise Invalid(
                    f"the input's native size is {self.native_size}, but {info.name}'s images are {info.native_size} px"
                )
            if self.channels != info.channels:
                raise Invalid(
                    f"the input has {self.channels} channels, but {info.name}'s images have {info.channels}"
                )
            if not info.images and self.resize != info.native_size:
                raise Invalid(
                    f"the input's resize is {self.resize}, but {info.name} has fixed {info.native_size} px images"
                )
        else:
            check_class_names(self.class_names, "the input's class names")
            if self.channels not in (1, 3):
                raise Invalid(
                    f"the input has {self.channels} channels; pictures of your own are grey (1) or colour (3)"
                )
        integer(self.resize, "the input's resize", 1, MAX_RESIZE)
        for values, label, low in ((self.mean, "mean", -MAX_NORM), (self.std, "std", MIN_STD)):
            if not isinstance(values, tuple) or len(values) != self.channels:
                raise Invalid(
                    f"the input's {label} has {len(values) if isinstance(values, tuple) else 'no'} values "
                    f"for {self.channels} channels"
                )
            for value in values:
                number(value, f"the input's {label}", low, MAX_NORM)
        text(self.fingerprint, "the input's fingerprint", 64)
        number(self.test_fraction, "the input's test fraction", 0.0, 0.9)

    @classmethod
    def create(
        cls,
        info: Dataset | str,
        *,
        resize: int | None,
        mean: float | None,
        std: float | None,
        fingerprint: str = "",
        test_fraction: float = 0.0,
    ) -> InputSpec:
        """The input of a run on `info` (a catalog name or a data set's facts) with the given
        normalisation (None: the data set's own)."""
        info = get_dataset(info) if isinstance(info, str) else info
        return cls(
            dataset=info.name,
            class_names=info.class_names,
            native_size=info.native_size,
            channels=info.channels,
            resize=resize or info.native_size,
            mean=info.mean if mean is None else per_channel(mean, info.channels),
            std=info.std if std is None else per_channel(std, info.channels),
            fingerprint=fingerprint,
            test_fraction=test_fraction,
        )

    @property
    def images(self) -> bool:
        """True for a data set of real pictures, False for seed 003's toy."""
        return user_kind(self.dataset) is not None or get_dataset(self.dataset).images

    @property
    def picture(self) -> str:
        """How a user's picture becomes one of this run's images (one of PICTURE_STYLES)."""
        return "plain" if user_kind(self.dataset) else get_dataset(self.dataset).picture

    @property
    def title(self) -> str:
        return self.dataset if user_kind(self.dataset) else get_dataset(self.dataset).title

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one input as the network sees it."""
        return (self.channels, self.resize, self.resize)

    def describe_norm(self) -> str:
        """'minus 0.286, divided by 0.353' (one value per channel when they differ)."""

        def show(values: tuple[float, ...]) -> str:
            return (
                f"{values[0]:g}" if len(set(values)) == 1 else "(" + ", ".join(f"{v:g}" for v in values) + ")"
            )

        return f"minus {show(self.mean)}, divided by {show(self.std)}"

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        for key in ("class_names", "mean", "std"):
            values[key] = list(values[key])
        return values

    @classmethod
    def from_dict(cls, values: Any) -> InputSpec:
        """The InputSpec a checkpoint or an export wrote (`to_dict`), checked field by field.
        Files written before per-channel normalisation hold one number for mean and std."""
        values = mapping(values, "the input description")
        missing = [
            f
            for f in ("dataset", "class_names", "native_size", "channels", "resize", "mean", "std")
            if f not in values
        ]
        if missing:
            raise Invalid(f"the input description lacks {', '.join(missing)}")
        names = values["class_names"]
        if (
            not isinstance(names, list)
            or len(names) > MAX_CLASSES
            or not all(isinstance(n, str) for n in names)
        ):
            raise Invalid("the input's class names are not a list of names")
        channels = integer(values["channels"], "the input's channels", 1, 4)
        norm = {}
        for key in ("mean", "std"):
            value = values[key]
            if isinstance(value, list) and len(value) <= 4:
                norm[key] = tuple(value)
            else:
                norm[key] = per_channel(number(value, f"the input's {key}"), channels)
        return cls(
            dataset=values["dataset"],
            class_names=tuple(names),
            native_size=values["native_size"],
            channels=channels,
            resize=values["resize"],
            mean=norm["mean"],
            std=norm["std"],
            fingerprint=values.get("fingerprint", ""),
            test_fraction=values.get("test_fraction", 0.0),
        )


def check_class_names(names: tuple[str, ...], what: str) -> tuple[str, ...]:
    """2..1000 distinct, non-empty names of at most 100 characters each."""
    if not 2 <= len(names) <= MAX_CLASSES:
        raise Invalid(f"{what}: {len(names)} classes; a classifier needs 2 to {MAX_CLASSES}")
    for name in names:
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise Invalid(f"{what}: {name!r:.40} is not a class name (1 to 100 characters)")
    if len(set(names)) != len(names):
        raise Invalid(f"{what}: the names are not distinct {_few(names)}")
    return names


def outputs_fit(outputs: int, classes: int) -> bool:
    """Whether a network with `outputs` outputs classifies `classes` classes: one output per
    class, or one sigmoid output for two (seed 003's toy)."""
    return outputs == classes or (outputs == 1 and classes == 2)


def _few(names: tuple[str, ...]) -> str:
    shown = ", ".join(repr(n)[:20] for n in names[:3])
    return f"({len(names)}: {shown}{', ...' if len(names) > 3 else ''})"

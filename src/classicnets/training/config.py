"""The configuration of a training run: one dataclass, saved whole in the run's config.json,
so that the run can be repeated or resumed from that file alone."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from classicnets.errors import ClassicnetsError
from classicnets.inputs import MAX_RESIZE, Dataset, InputSpec, get_dataset, outputs_fit, user_kind
from classicnets.training.choices import INITS, LOSSES, OPTIMIZERS, SCHEDULES

if TYPE_CHECKING:
    from classicnets.data.request import DataRequest

# "auto": bf16 autocast on CUDA, float32 elsewhere; "bf16" also on CPUs with native bf16 (training.device)
PRECISIONS = ("auto", "fp32", "bf16")
# No recipe uses more than 1; float32 cannot hold more than 3.4e38 and an update with such a
# rate overflows inside the optimizer, so beyond this a learning rate is a typo.
MAX_LR = 1e6
MAX_SEED = 2**32 - 1  # numpy's and most tools' seed range; (seed, epoch) pairs stay within 64 bits
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "None": (type(None),),
    "dict[str, Any]": (dict,),
}


@dataclass(frozen=True)
class Flag:
    """How a field is offered as a `train` option (`--field-name`), declared beside the field."""

    help: str | None = None
    choices: tuple[str, ...] | None = None
    positive: bool = False  # numbers: only values > 0 parse
    metavar: str | None = None


def option(
    default: Any,
    help: str | None = None,
    *,
    choices: Any = None,
    positive: bool = False,
    metavar: str | None = None,
) -> Any:
    """A field that the `train` command offers as an override of the recipe."""
    flag = Flag(
        help=help, choices=tuple(choices) if choices is not None else None, positive=positive, metavar=metavar
    )
    return field(default=default, metadata={"flag": flag})


def flags() -> list[tuple[dataclasses.Field[Any], Flag]]:
    """The fields `train` offers, in declaration order, each with its option's description."""
    return [(f, f.metadata["flag"]) for f in dataclasses.fields(TrainConfig) if "flag" in f.metadata]


@dataclass
class TrainConfig:
    model: str = "lenet"
    model_args: dict[str, Any] = field(
        default_factory=dict
    )  # builder arguments (JSON values): --arg KEY=VALUE
    recipe: str = "book"  # where the defaults came from: "book", "fast" or "custom"
    # The data set and a folder's options: their flags belong to the data commands (cli.data_cmd).
    dataset: str = (
        "fashion-mnist"  # mnist, kmnist, cifar10, folder:PATH, npz:FILE; "toy4x4": seed 003's (tiny_cnn)
    )
    channels: int | None = None  # folder: 1 (grey) or 3 (colour); None: chosen from the pictures
    image_size: int | None = None  # folder: every picture resized to this side; None: their own square size
    test_fraction: float = (
        0.2  # folder without train/ and test/: the share of each class held out for testing
    )
    strict: bool = False  # folder: an unreadable file is an error, not skipped and listed
    epochs: int = option(10, "epochs to train", positive=True)
    batch_size: int = option(256, "examples per step (under torchrun: the global batch)", positive=True)
    lr: float = option(0.9, "learning rate", positive=True)
    optimizer: str = option(
        "sgd", "the optimizer (momentum and nesterov: SGD with momentum 0.9)", choices=OPTIMIZERS
    )
    momentum: float = 0.9  # for "momentum" and "nesterov"
    weight_decay: float = option(0.0, "L2 weight decay (default 0)")
    schedule: str = option("constant", "learning-rate schedule", choices=SCHEDULES)
    warmup_epochs: float = 0.0  # linear warm-up for "cosine"
    label_smoothing: float = option(0.0, "cross-entropy label smoothing, from 0 to below 1 (default 0)")
    loss: str = "cross_entropy"  # "nll" for networks that output log-probabilities (seed 002)
    init: str = option(
        "xavier",
        "xavier (the book's), PyTorch's default, or kaiming (He-normal, for deep ReLU "
        "stacks without BatchNorm)",
        choices=INITS,
    )
    resize: int | None = option(None, "side in pixels the images are resized to", positive=True)
    mean: float | None = (
        0.0  # input normalisation on the [0, 1] scale, every channel; None: the data set's own
    )
    std: float | None = 1.0  # statistics, channel by channel. d2l feeds ToTensor() output: 0 and 1
    augment: bool = option(
        False, "random horizontal flips and random crops after zero padding by --crop-padding px"
    )
    crop_padding: int = option(
        2,
        "with --augment: the crops' padding (default 2; 0: flips only, as the speedrun recipe)",
        metavar="PX",
    )
    limit: int | None = option(None, "use only the first N training (and test) images", positive=True)
    val_size: int = option(
        0,
        "hold out N training images as a validation set: every epoch also reports val_acc "
        "and val_loss on it (--keep-best and --early-stop watch it)",
    )
    keep_best: bool = option(
        False,
        "with --val-size: also keep the weights of the epoch with the best validation "
        "accuracy, in RUN_DIR/best.safetensors (evaluate, predict, explain, export: --best)",
    )
    early_stop: int = option(
        0,
        "with --val-size: stop after this many epochs without a better validation accuracy (0: never)",
        metavar="PATIENCE",
    )
    min_delta: float = option(
        0.0, "with --early-stop: the least rise of the validation accuracy that counts as better", metavar="D"
    )
    early_stop_from: int = option(
        1,
        "with --early-stop: epochs before the patience starts counting (Keras' start_from_epoch; at least 1)",
        positive=True,
        metavar="EPOCHS",
    )
    seed: int = option(0, "the seed of the weights, the order, the augmentation and the validation split")
    device: str = option(
        "auto", "auto (CUDA, else Apple's GPU, else the CPU), cpu, cuda, cuda:N or mps (default auto)"
    )
    compile: bool = option(False, "torch.compile the model")
    channels_last: bool | None = option(
        None,
        "train in the channels_last memory layout (default: on CUDA; on the "
        "CPU for the networks measured faster in it)",
    )
    precision: str = option(
        "auto",
        "auto: bf16 autocast on CUDA, float32 elsewhere; bf16: also on CPUs with native "
        "bf16 (AVX512-BF16, AMX), float32 where there is none; fp32: float32 everywhere",
        choices=PRECISIONS,
    )
    flip_tta: bool = option(
        False, "test-time flips: classify each test image and its mirror image, average the two"
    )
    eval_batch_size: int | None = None  # None: twice the training batch
    data_dir: str | None = None
    tensorboard: bool = option(False, "also log to RUN_DIR/tensorboard")
    sync_bn: bool = option(
        False, "under torchrun on CUDA: BatchNorm statistics over the global batch (SyncBatchNorm)"
    )
    save_every: float = option(
        300.0,
        "write a checkpoint at least this often within an epoch (default 300); every "
        "epoch's end has one, and Ctrl-C saves one at the current step",
        positive=True,
        metavar="SECONDS",
    )

    def __post_init__(self) -> None:
        # The input size has one owner, `resize`: `--arg input_size=N` is another way to say it.
        side = self.model_args.get("input_size") if isinstance(self.model_args, dict) else None
        if side is not None:
            if self.resize is not None and self.resize != side:
                raise ClassicnetsError(
                    f"--arg input_size={side} and --resize {self.resize} disagree: "
                    "give the input size once, with --resize"
                )
            self.model_args = {k: v for k, v in self.model_args.items() if k != "input_size"}
            self.resize = side

    def data_request(self) -> DataRequest:
        from classicnets.data.request import DataRequest

        return DataRequest(
            self.dataset,
            data_dir=self.data_dir,
            channels=self.channels,
            image_size=self.image_size,
            test_fraction=self.test_fraction,
            strict=self.strict,
        )

    def dataset_info(self) -> Dataset:
        """The data set's facts: the catalog's, or, for a user's own, read from the data."""
        if user_kind(self.dataset) is None:
            return get_dataset(self.dataset)
        from classicnets.data.sources import load_data

        return load_data(self.data_request()).info

    def input_spec(self) -> InputSpec:
        """What this run feeds its network: the one description every later reader gets."""
        if user_kind(self.dataset) is None:
            return InputSpec.create(
                get_dataset(self.dataset), resize=self.resize, mean=self.mean, std=self.std
            )
        from classicnets.data.sources import load_data

        data = load_data(self.data_request())
        return InputSpec.create(
            data.info,
            resize=self.resize,
            mean=self.mean,
            std=self.std,
            fingerprint=data.fingerprint,
            test_fraction=data.test_fraction,
        )

    def validate(self) -> TrainConfig:
        """Check every field; raise one clear error naming the first bad one."""

        def bad(name: str, value: object, expected: str) -> ClassicnetsError:
            return ClassicnetsError(f"--{name.replace('_', '-')} {value!r}: expected {expected}")

        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            allowed = tuple(t for part in str(f.type).split("|") for t in _FIELD_TYPES[part.strip()])
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                raise bad(f.name, value, f"a value of type {f.type}")
            if isinstance(value, float) and not math.isfinite(value):
                raise bad(f.name, value, "a finite number")

        for name, choices in (
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("loss", LOSSES),
            ("init", INITS),
            ("precision", PRECISIONS),
        ):
            if getattr(self, name) not in choices:
                raise bad(name, getattr(self, name), "one of " + ", ".join(choices))
        for name in ("epochs", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise bad(name, getattr(self, name), "a positive integer")
        if not 0 < self.lr <= MAX_LR:
            raise bad("lr", self.lr, f"a positive learning rate of at most {MAX_LR:g}")
        if self.weight_decay < 0 or not 0 <= self.label_smoothing < 1:
            raise ClassicnetsError("weight decay must be >= 0 and label smoothing in [0, 1)")
        if self.resize is not None and not 1 <= self.resize <= MAX_RESIZE:
            raise bad(
                "resize", self.resize, f"a side from 1 to {MAX_RESIZE} pixels (the book's largest is 224)"
            )
        if not 0 <= self.seed <= MAX_SEED:
            raise bad("seed", self.seed, f"an integer from 0 to {MAX_SEED}")
        self.data_request()  # the data set's name and a folder's options, checked by their owner
        info = self.dataset_info()
        native = info.native_size
        if not info.images and self.resize not in (None, native):
            raise bad(
                "resize",
                self.resize,
                f"nothing: {self.model} trains on {self.dataset}'s fixed {native}x{native} images",
            )
        if not 0 <= self.crop_padding <= native:
            raise bad("crop_padding", self.crop_padding, f"a number of pixels from 0 to {native}")
        if self.flip_tta and not info.images:
            raise bad("flip_tta", self.flip_tta, f"False: {self.dataset} has no images to mirror")
        if self.limit is not None and self.limit < 1:
            raise bad("limit", self.limit, "a positive number of examples")
        classes = info.class_names
        wanted = self.model_args.get("num_classes", len(classes))
        if isinstance(wanted, bool) or not isinstance(wanted, int) or not outputs_fit(wanted, len(classes)):
            raise bad(
                "arg",
                f"num_classes={wanted!r}",
                f"nothing, or num_classes={len(classes)}: {self.dataset} "
                f"has {len(classes)} classes, and the network needs one output for each",
            )
        if self.loss == "bce" and len(classes) != 2:
            raise bad(
                "loss",
                self.loss,
                f"cross_entropy: bce gives one sigmoid output, for two classes, and "
                f"{self.dataset} has {len(classes)}",
            )
        if not self.save_every > 0:
            raise bad("save_every", self.save_every, "a positive number of seconds")
        if self.val_size < 0:
            raise bad("val_size", self.val_size, "a number of examples >= 0")
        if self.early_stop < 0 or self.min_delta < 0:
            raise ClassicnetsError("--early-stop and --min-delta must be >= 0")
        if self.early_stop_from < 1:
            raise bad("early_stop_from", self.early_stop_from, "at least 1 epoch of warm-up")
        for name in ("keep_best", "early_stop"):
            if getattr(self, name) and not self.val_size:
                raise ClassicnetsError(
                    f"--{name.replace('_', '-')} watches the validation accuracy: hold out a "
                    "validation set with --val-size N (for example 5000)"
                )
        self.input_spec()  # the mean, std and size, checked by the owner every reader uses
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ClassicnetsError(f"unknown training configuration fields: {', '.join(unknown)}")
        return cls(**values)

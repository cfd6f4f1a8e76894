"""Checkpoints as safetensors files: tensors plus JSON metadata, never pickle, so loading a
checkpoint cannot run code. `model.safetensors` holds the trained weights and what is needed
to rebuild the network; `last.safetensors` adds the optimizer state and the RNG state that
make a resumed run continue exactly where the interrupted one stopped."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file
from torch import nn

from classicnets.errors import ClassicnetsError, ClassicnetsWarning, ModelError
from classicnets.fileio import NotARegularFile, WriteError, atomic_path, open_regular
from classicnets.inputs import InputSpec, outputs_fit
from classicnets.models.base import ClassifierSurface
from classicnets.models.registry import create_model_for_spec, list_models
from classicnets.training.config import PRECISIONS, TrainConfig
from classicnets.training.inference import Inference
from classicnets.training.rundir import BEST, FINAL, LAST
from classicnets.validation import Invalid, integer, mapping, parse_json, text

# 3: the checksum covers the metadata as well as the tensors. 2: the input description is one
# typed entry, "input" (InputSpec), and the builder arguments leave the input size to it.
# Formats 1 and 2 are still read, with a warning that their metadata is unchecked.
FORMAT_VERSION = 3
_META_KEY = "classicnets"
_MAX_HEADER_BYTES = 100 << 20  # safetensors' own limit for its JSON header
_MAX_MODEL_ARGS = 32


class CheckpointError(ClassicnetsError):
    """A checkpoint that is missing, damaged, or not one of ours."""


@dataclass(frozen=True)
class CheckpointMeta:
    """What a checkpoint says about its weights: the network and its arguments, the recipe, what
    it was fed, how it classifies (the precision its test accuracy was measured at, and flips),
    and where in its run it was written. Written and read here only (`to_dict`, `from_dict`)."""

    model: str
    input: InputSpec
    model_args: dict[str, Any] = field(default_factory=dict)
    recipe: str | None = None
    inference: Inference = Inference()
    epoch: int = 0
    step: int = 0
    metrics: dict[str, Any] | None = None  # the metrics row of its epoch
    stopped: str | None = None  # why its run ended before its last epoch (early stopping), if it did
    format: int = FORMAT_VERSION

    @classmethod
    def of(
        cls,
        config: TrainConfig,
        device: torch.device,
        *,
        epoch: int,
        step: int,
        metrics: dict[str, Any] | None,
        stopped: str | None = None,
    ) -> CheckpointMeta:
        """The metadata of a checkpoint of a run of `config` on `device`."""
        return cls(
            model=config.model,
            model_args=config.model_args,
            recipe=config.recipe,
            input=config.input_spec(),
            inference=Inference.of(config, device),
            epoch=epoch,
            step=step,
            metrics=metrics,
            stopped=stopped,
        )

    def to_dict(self) -> dict[str, Any]:
        meta = {
            "model": self.model,
            "model_args": self.model_args,
            "recipe": self.recipe,
            "input": self.input.to_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "metrics": self.metrics,
            "flip_tta": self.inference.flip,
            "precision": self.inference.precision,
            "format": self.format,
        }
        return {**meta, "stopped": self.stopped} if self.stopped else meta

    @classmethod
    def from_dict(cls, meta: dict[str, Any]) -> CheckpointMeta:
        """The typed metadata of a file's verified JSON, its types and bounds checked (`check_meta`)."""
        check_meta(meta)
        stopped = meta.get("stopped")
        return cls(
            model=meta["model"],
            model_args=dict(meta.get("model_args", {})),
            recipe=meta.get("recipe"),
            input=InputSpec.from_dict(meta["input"]),
            inference=Inference(precision=meta.get("precision", "auto"), flip=meta.get("flip_tta", False)),
            epoch=meta.get("epoch", 0),
            step=meta.get("step", 0),
            metrics=meta.get("metrics") if isinstance(meta.get("metrics"), dict) else None,
            stopped=text(stopped, "why the run stopped") if stopped is not None else None,
        )

    @property
    def label(self) -> str:
        """The network and its recipe, for titles: `lenet (book recipe)`."""
        return f"{self.model} ({self.recipe} recipe)" if self.recipe else self.model


@dataclass
class Checkpoint:
    meta: dict[str, Any]  # the file's metadata as written (CheckpointMeta's entries and a resume state's)
    tensors: dict[str, torch.Tensor]

    @property
    def info(self) -> CheckpointMeta:
        return CheckpointMeta.from_dict(self.meta)

    @property
    def input(self) -> InputSpec:
        return InputSpec.from_dict(self.meta["input"])

    def prefixed(self, prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) :]: v for k, v in self.tensors.items() if k.startswith(prefix)}


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def tensors_sha256(tensors: dict[str, torch.Tensor], meta: dict[str, Any] | None = None) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order, then (format 3)
    the metadata as canonical JSON, its own "sha256" entry aside."""
    digest = hashlib.sha256()
    for key in sorted(tensors):
        tensor = tensors[key].detach().contiguous().cpu()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())  # type: ignore[arg-type]  # an ndarray is a buffer
    if meta is not None:
        covered = {k: v for k, v in meta.items() if k != "sha256"}
        digest.update(json.dumps(covered, sort_keys=True).encode())
    return digest.hexdigest()


def save_checkpoint(
    path: Path,
    model: nn.Module,
    info: CheckpointMeta,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    state: dict[str, Any] | None = None,
    extra: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write weights (+ optimizer and RNG state when `optimizer` is given, + a resume `state` and
    its `extra` tensors) atomically, with a checksum of the tensors and the metadata that
    `read_checkpoint` verifies."""
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    meta = {**(state or {}), **info.to_dict()}
    if optimizer is not None:
        optim_tensors, optim_meta = _optimizer_tensors(optimizer)
        tensors.update(optim_tensors)
        tensors["rng.cpu"] = torch.get_rng_state()
        if torch.cuda.is_available():
            tensors["rng.cuda"] = torch.cuda.get_rng_state()
        meta["optimizer"] = optim_meta
    tensors.update({k: v.detach().contiguous().cpu() for k, v in (extra or {}).items()})
    meta["sha256"] = tensors_sha256(tensors, meta)
    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp), metadata={_META_KEY: json.dumps(meta)})
        except SafetensorError as exc:  # safetensors reports a full disk as its own error
            raise WriteError(path, exc) from None


def _read_bytes(path: Path) -> bytes:
    """The whole file, from one open: what is verified is what is loaded, even while a run
    renames a new checkpoint over this one (safetensors would open the path twice)."""
    try:
        fd = open_regular(path)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except NotARegularFile as exc:
        raise CheckpointError(f"{path} is {exc.kind}, not a checkpoint file") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        try:
            return handle.read()
        except OSError as exc:
            raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None


def _raw_metadata(data: bytes, path: Path) -> str | None:
    """Our metadata string from a safetensors file's header (8 bytes of length, then JSON)."""
    length = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if not 0 < length <= min(len(data) - 8, _MAX_HEADER_BYTES):
        raise CheckpointError(
            f"{path} is not a readable safetensors checkpoint (its header length is wrong: "
            "truncated, or another kind of file)"
        )
    try:
        header = mapping(parse_json(data[8 : 8 + length], f"{path}'s header"), f"{path}'s header")
        metadata = mapping(header.get("__metadata__") or {}, f"{path}'s metadata")
    except Invalid as exc:
        raise CheckpointError(str(exc)) from None
    raw = metadata.get(_META_KEY)
    return raw if isinstance(raw, str) else None


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint, with a clear error for anything that is not a valid one: the file is
    read once, its checksum (tensors and metadata) verified, and the metadata checked against
    types and bounds before anything is built from it."""
    path = Path(path)
    data = _read_bytes(path)
    raw_meta = _raw_metadata(data, path)
    try:
        tensors = load_safetensors(data)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({exc})") from None
    del data
    if raw_meta is None:
        raise CheckpointError(f"{path} has no classicnets metadata: it was not written by classicnets")
    try:
        meta = mapping(parse_json(raw_meta, f"{path}'s metadata"), f"{path}'s metadata")
    except Invalid as exc:
        raise CheckpointError(str(exc)) from None
    version = meta.get("format")
    if version in (1, 2):
        # Their checksum, where they have one, covers the tensors only.
        if "sha256" in meta and tensors_sha256(tensors) != meta["sha256"]:
            raise _damaged(path)
        warnings.warn(
            f"{path} was written by an older classicnets (format {version}): its metadata (normalisation, "
            "class names, network arguments) is not covered by a checksum",
            CheckpointWarning,
            stacklevel=2,
        )
        meta = {**(_from_format_1(meta) if version == 1 else meta), "format": FORMAT_VERSION}
    elif version == FORMAT_VERSION:
        if tensors_sha256(tensors, meta) != meta.get("sha256"):
            raise _damaged(path)
    else:
        raise CheckpointError(
            f"{path}: unknown checkpoint format {version!r}: written by a newer classicnets, or "
            "not a checkpoint"
        )
    try:
        check_meta(meta)
    except ClassicnetsError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return Checkpoint(meta=meta, tensors=tensors)


class CheckpointWarning(ClassicnetsWarning):
    """A checkpoint that loads, but with less checking than a current one gets."""


def _damaged(path: Path) -> CheckpointError:
    return CheckpointError(
        f"{path} is damaged: its contents do not match the checksum written with them "
        "(bytes changed on disk or in a copy); use another copy or checkpoint"
    )


def check_meta(meta: dict[str, Any]) -> None:
    """Types and bounds of a checkpoint's metadata, as `train` enforces them for a new run:
    the network is one of ours, its arguments plain values, the input description valid."""
    name = meta.get("model")
    if not isinstance(name, str) or name not in list_models():
        raise Invalid(f"it names the network {name!r}, which is not one of classicnets'")
    args = mapping(meta.get("model_args", {}), "the network's arguments")
    if len(args) > _MAX_MODEL_ARGS:
        raise Invalid(f"the network's arguments are {len(args)} entries, more than any network takes")
    for key, value in args.items():
        values = (
            value if isinstance(value, list) and len(value) <= 16 else [value]
        )  # widths: hidden=[256, 128]
        if not all(isinstance(v, (str, int, float, bool, type(None))) and len(str(v)) <= 100 for v in values):
            raise Invalid(f"the network's argument {key} is {value!r:.40}, not a plain value")
    InputSpec.from_dict(meta.get("input"))
    for key in ("epoch", "step"):
        integer(meta.get(key, 0), key, 0, 2**53)
    if meta.get("recipe") is not None:
        text(meta["recipe"], "the recipe")
    if not isinstance(meta.get("flip_tta", False), bool):
        raise Invalid(f"flip_tta is {meta['flip_tta']!r}, not true or false")
    if meta.get("precision", "auto") not in PRECISIONS:
        raise Invalid(f"precision is {meta['precision']!r}, not one of {', '.join(PRECISIONS)}")
    if meta.get("stopped") is not None:
        text(meta["stopped"], "why the run stopped")


def _from_format_1(meta: dict[str, Any]) -> dict[str, Any]:
    """Format 1 kept the whole training config and a partial input entry side by side."""
    config, old, model_args = (
        dict(value) if isinstance(value, dict) else {}
        for value in (meta.get("config"), meta.get("input"), meta.get("model_args"))
    )
    model_args.pop("input_size", None)
    try:
        spec = InputSpec.create(
            config.get("dataset", "fashion-mnist"),
            resize=old.get("resize"),
            mean=old.get("mean", 0.0),
            std=old.get("std", 1.0),
        )
    except ClassicnetsError:
        return meta
    rest = {
        k: v for k, v in meta.items() if k not in ("config", "class_names", "input", "model_args", "format")
    }
    return {
        **rest,
        "model_args": model_args,
        "recipe": config.get("recipe"),
        "input": spec.to_dict(),
        "format": FORMAT_VERSION,
    }


def build_model(checkpoint: Checkpoint, source: str | Path = "checkpoint") -> ClassifierSurface:
    """Rebuild the network a checkpoint describes, for the input it was trained on, and load
    its weights (strictly). The network is first built on the meta device (shapes, no memory)
    and compared with the file's tensors, so what gets allocated is no larger than the file."""
    meta, spec = checkpoint.meta, checkpoint.input
    try:
        with torch.device("meta"):
            skeleton = create_model_for_spec(meta["model"], spec, **meta.get("model_args", {}))
    except ModelError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    _check_shapes(skeleton, checkpoint, source)
    outputs = _outputs(skeleton, spec)
    if not outputs_fit(outputs, len(spec.class_names)):
        raise CheckpointError(
            f"{source}: the network has {outputs} outputs but the run names "
            f"{len(spec.class_names)} classes: the file is damaged or not ours"
        )
    model = create_model_for_spec(meta["model"], spec, **meta.get("model_args", {}))
    load_weights(model, checkpoint, source)
    return model


def _check_shapes(skeleton: nn.Module, checkpoint: Checkpoint, source: str | Path) -> None:
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in checkpoint.prefixed("model.").items()}
    network = checkpoint.meta["model"]
    for key, shape in expected.items():
        if key not in stored:
            raise CheckpointError(f"{source}: the tensor model.{key} of {network} is missing from the file")
        if stored[key] != shape:
            raise CheckpointError(
                f"{source}: the tensor model.{key} is {list(stored[key])} in the file, but "
                f"{network} as described needs {list(shape)}"
            )
    extra = sorted(set(stored) - set(expected))
    if extra:
        raise CheckpointError(
            f"{source}: the file has the tensor model.{extra[0]}, which {network} does not have"
        )


def _outputs(skeleton: nn.Module, spec: InputSpec) -> int:
    """The number of outputs of the network, from one example on the meta device."""
    skeleton.eval()
    with torch.no_grad():
        out = skeleton(torch.empty(1, *spec.shape, device="meta"))
    return int(out.shape[1])


def load_weights(model: nn.Module, checkpoint: Checkpoint, source: str | Path = "checkpoint") -> None:
    """Load the checkpoint's weights into `model` (strictly, onto the model's device), or a clear
    error when they belong to another network."""
    device = next(iter(model.state_dict().values())).device
    name = getattr(model, "model_name", type(model).__name__)
    try:
        model.load_state_dict(
            {k: v.to(device) for k, v in checkpoint.prefixed("model.").items()}, strict=True
        )
    except RuntimeError as exc:
        first = str(exc).splitlines()[1 if len(str(exc).splitlines()) > 1 else 0].strip()
        raise CheckpointError(
            f"{source}: its weights (from {checkpoint.meta.get('model')}) do not fit {name}: {first}"
        ) from None


def restore_training_state(
    checkpoint: Checkpoint, optimizer: torch.optim.Optimizer, device: torch.device
) -> None:
    """Load the optimizer state and the RNG state saved by `save_checkpoint(..., optimizer=...)`,
    each checked against this run's optimizer before it is loaded."""
    optim_meta = checkpoint.meta.get("optimizer")
    if not isinstance(optim_meta, dict) or "rng.cpu" not in checkpoint.tensors:
        raise CheckpointError("the checkpoint has no optimizer state: resume needs last.safetensors")
    try:
        state = _optimizer_state(checkpoint, optim_meta, optimizer)
        optimizer.load_state_dict({"state": state, "param_groups": optim_meta["param_groups"]})
    except (Invalid, ValueError, KeyError, TypeError, IndexError, AttributeError, RuntimeError) as exc:
        raise CheckpointError(f"the checkpoint's optimizer state does not fit this run ({exc})") from None
    rng = checkpoint.tensors["rng.cpu"]
    if rng.dtype != torch.uint8 or rng.shape != torch.get_rng_state().shape:
        raise CheckpointError(
            f"the checkpoint's random-number state is {rng.dtype} {list(rng.shape)}, not PyTorch's"
        )
    torch.set_rng_state(rng)
    if "rng.cuda" in checkpoint.tensors and device.type == "cuda":
        torch.cuda.set_rng_state(checkpoint.tensors["rng.cuda"], device)


def _same_kind(saved: Any, current: Any) -> bool:
    """Whether a saved optimizer setting has the type of this run's (JSON turns tuples into
    lists, and may write 1.0 as 1)."""
    if isinstance(current, (tuple, list)):
        return isinstance(saved, list) and len(saved) == len(current) and all(map(_same_kind, saved, current))
    if isinstance(current, bool) or current is None:
        return type(saved) is type(current)
    if isinstance(current, (int, float)):
        return isinstance(saved, (int, float)) and not isinstance(saved, bool)
    return type(saved) is type(current)


def _optimizer_state(
    checkpoint: Checkpoint, optim_meta: dict[str, Any], optimizer: torch.optim.Optimizer
) -> dict[int, dict[str, Any]]:
    """The saved per-parameter state, shaped like the parameters it belongs to, with param groups
    that hold the same settings, of the same types, as this run's optimizer."""
    current = optimizer.state_dict()["param_groups"]
    groups = optim_meta.get("param_groups")
    if not isinstance(groups, list) or len(groups) != len(current):
        raise Invalid("its parameter groups differ from this run's")
    for saved, now in zip(groups, current):
        if not isinstance(saved, dict) or set(saved) != set(now) or saved["params"] != now["params"]:
            raise Invalid("its parameter groups differ from this run's")
        for key, value in now.items():
            if key != "params" and not _same_kind(saved[key], value):
                raise Invalid(
                    f"its {key} is {saved[key]!r:.30}, where this run's optimizer has {value!r:.30}"
                )
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state: dict[int, dict[str, Any]] = {}

    def parameter(index: str) -> int:
        return integer(int(index), "a parameter index", 0, len(params) - 1)

    for key, value in checkpoint.prefixed("optim.").items():
        index, name = key.split(".", 1)
        param = params[parameter(index)]
        if name != "step" and value.shape != param.shape:
            raise Invalid(f"its {name} for parameter {index} is {list(value.shape)}, not {list(param.shape)}")
        state.setdefault(parameter(index), {})[name] = value.to(param.device) if name != "step" else value
    for index, values in mapping(optim_meta.get("scalars", {}), "its scalars").items():
        state.setdefault(parameter(index), {}).update(mapping(values, "its scalars"))
    return state


@dataclass
class LoadedRun:
    """A trained network and what is known about how it was trained."""

    run_dir: Path
    model: ClassifierSurface
    info: CheckpointMeta  # how it was trained and how it classifies

    @property
    def input(self) -> InputSpec:
        """What the network was fed, and so what it must be fed now."""
        return self.info.input

    @property
    def class_names(self) -> list[str]:
        return list(self.input.class_names)

    @property
    def label(self) -> str:
        return self.info.label

    def inference(self) -> Inference:
        """How the run classified its test set: at its precision, with test-time flips if it trained with them."""
        return self.info.inference

    def export_meta(self) -> dict[str, Any]:
        """What every export carries besides the network: its name and arguments, its input, and
        whether it classifies with test-time flips (exports compute in float32, whatever the run's
        precision)."""
        return {
            "model": self.info.model,
            "model_args": self.info.model_args,
            "input": self.input.to_dict(),
            "flip_tta": self.info.inference.flip,
        }


def load_run(path: str | Path, best: bool = False) -> LoadedRun:
    """Load a run directory's final model (or its last checkpoint, for an unfinished run), with
    `best` its best validation epoch's (`--keep-best`), or a checkpoint file given directly."""
    path = Path(path)
    if path.is_dir():
        if best:
            candidates = [path / BEST]
            if not candidates[0].is_file():
                raise CheckpointError(
                    f"{path} holds no {BEST}: the run was not trained with --keep-best "
                    "(and --val-size), or has not finished an epoch yet"
                )
        else:
            candidates = [path / FINAL, path / LAST]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise CheckpointError(f"{path} holds no {FINAL} or {LAST}: is it a run directory?")
        run_dir, file = path, found
    elif best:
        raise CheckpointError(f"--best picks {BEST} in a run directory; {path} is a file: give its directory")
    else:
        run_dir, file = path.parent, path
    checkpoint = read_checkpoint(file)
    model = build_model(checkpoint, file)
    model.eval()
    return LoadedRun(run_dir=run_dir, model=model, info=checkpoint.info)

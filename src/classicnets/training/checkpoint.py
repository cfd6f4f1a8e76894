"""Checkpoints as safetensors files: tensors plus JSON metadata, never pickle, so loading a
checkpoint cannot run code. `model.safetensors` holds the trained weights and what is needed
to rebuild the network; `last.safetensors` adds the optimizer state and the RNG state that
make a resumed run continue exactly where the interrupted one stopped."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from classicnets.errors import ClassicnetsError
from classicnets.fileio import WriteError, atomic_path
from classicnets.inputs import InputSpec
from classicnets.models.registry import create_model_for_input
from classicnets.training.inference import Inference

# 2: the input description is one typed entry, "input" (InputSpec), and the builder arguments
# leave the input size to it. Format 1 (a "config" copy beside "input") is read and converted.
FORMAT_VERSION = 2
_META_KEY = "classicnets"


class CheckpointError(ClassicnetsError):
    """A checkpoint that is missing, damaged, or not one of ours."""


@dataclass
class Checkpoint:
    meta: dict[str, Any]  # model, model_args, recipe, input, epoch, step, metrics, ...
    tensors: dict[str, torch.Tensor]

    @property
    def input(self) -> InputSpec:
        return InputSpec.from_dict(self.meta["input"])

    def prefixed(self, prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix):]: v for k, v in self.tensors.items() if k.startswith(prefix)}


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


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for key in sorted(tensors):
        tensor = tensors[key].detach().contiguous().cpu()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def save_checkpoint(
    path: Path,
    model: nn.Module,
    meta: dict[str, Any],
    *,
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write weights (+ optimizer and RNG state when `optimizer` is given, + `extra` tensors)
    atomically, with a checksum of every tensor that `read_checkpoint` verifies."""
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    meta = {**meta, "format": FORMAT_VERSION}
    if optimizer is not None:
        optim_tensors, optim_meta = _optimizer_tensors(optimizer)
        tensors.update(optim_tensors)
        tensors["rng.cpu"] = torch.get_rng_state()
        if torch.cuda.is_available():
            tensors["rng.cuda"] = torch.cuda.get_rng_state()
        meta["optimizer"] = optim_meta
    tensors.update({k: v.detach().contiguous().cpu() for k, v in (extra or {}).items()})
    meta["sha256"] = tensors_sha256(tensors)
    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp), metadata={_META_KEY: json.dumps(meta)})
        except SafetensorError as exc:  # safetensors reports a full disk as its own error
            raise WriteError(path, exc) from None


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint, with a clear error for anything that is not a valid one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw_meta = (handle.metadata() or {}).get(_META_KEY)
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({exc})") from None
    if raw_meta is None:
        raise CheckpointError(f"{path} has no classicnets metadata: it was not written by classicnets")
    try:
        meta = json.loads(raw_meta)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: its metadata is not valid JSON ({exc})") from None
    if isinstance(meta, dict) and meta.get("format") == 1:
        meta = _from_format_1(meta)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: unknown checkpoint format {meta.get('format') if isinstance(meta, dict) else meta!r}")
    if not isinstance(meta.get("model"), str) or not isinstance(meta.get("model_args", {}), dict):
        raise CheckpointError(f"{path}: metadata lacks the model name or its arguments")
    try:
        InputSpec.from_dict(meta.get("input") or {})
    except ClassicnetsError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    # Checkpoints written before checksums existed have none; every later one is verified.
    if "sha256" in meta and tensors_sha256(tensors) != meta["sha256"]:
        raise CheckpointError(f"{path} is damaged: its tensors do not match the checksum written with them "
                              "(bytes changed on disk or in a copy); use another copy or checkpoint")
    return Checkpoint(meta=meta, tensors=tensors)


def _from_format_1(meta: dict[str, Any]) -> dict[str, Any]:
    """Format 1 kept the whole training config and a partial input entry side by side."""
    config, old = meta.get("config") or {}, meta.get("input") or {}
    model_args = dict(meta.get("model_args") or {})
    model_args.pop("input_size", None)
    try:
        spec = InputSpec.create(config.get("dataset", "fashion-mnist"), resize=old.get("resize"),
                                mean=old.get("mean", 0.0), std=old.get("std", 1.0))
    except ClassicnetsError:
        return meta
    rest = {k: v for k, v in meta.items() if k not in ("config", "class_names", "input", "model_args", "format")}
    return {**rest, "model_args": model_args, "recipe": config.get("recipe"), "input": spec.to_dict(),
            "format": FORMAT_VERSION}


def build_model(checkpoint: Checkpoint, source: str | Path = "checkpoint") -> nn.Module:
    """Rebuild the network a checkpoint describes, for the input it was trained on, and load
    its weights (strictly)."""
    model = create_model_for_input(checkpoint.meta["model"], checkpoint.input.resize,
                                   **checkpoint.meta.get("model_args", {}))
    load_weights(model, checkpoint, source)
    return model


def load_weights(model: nn.Module, checkpoint: Checkpoint, source: str | Path = "checkpoint") -> None:
    """Load the checkpoint's weights into `model` (strictly, onto the model's device), or a clear
    error when they belong to another network."""
    device = next(iter(model.state_dict().values())).device
    name = getattr(model, "model_name", type(model).__name__)
    try:
        model.load_state_dict({k: v.to(device) for k, v in checkpoint.prefixed("model.").items()}, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{source}: its weights (from {checkpoint.meta.get('model')}) do not fit {name}: "
                              f"{first}") from None


def restore_training_state(checkpoint: Checkpoint, optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Load the optimizer state and the RNG state saved by `save_checkpoint(..., optimizer=...)`."""
    optim_meta = checkpoint.meta.get("optimizer")
    if optim_meta is None or "rng.cpu" not in checkpoint.tensors:
        raise CheckpointError("the checkpoint has no optimizer state: resume needs last.safetensors")
    state: dict[int, dict[str, Any]] = {}
    for key, value in checkpoint.prefixed("optim.").items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value.to(device) if name != "step" else value
    for index, values in optim_meta["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": optim_meta["param_groups"]})
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"the optimizer state does not fit this run: {exc}") from None
    torch.set_rng_state(checkpoint.tensors["rng.cpu"])
    if "rng.cuda" in checkpoint.tensors and device.type == "cuda":
        torch.cuda.set_rng_state(checkpoint.tensors["rng.cuda"], device)


@dataclass
class LoadedRun:
    """A trained network and what is known about how it was trained."""

    run_dir: Path
    model: nn.Module
    input: InputSpec  # what the network was fed, and so what it must be fed now
    meta: dict[str, Any]  # the checkpoint's metadata: model, model_args, recipe, epoch, metrics, ...

    @property
    def class_names(self) -> list[str]:
        return list(self.input.class_names)

    @property
    def label(self) -> str:
        """The network and its recipe, for titles: `lenet (book recipe)`."""
        recipe = self.meta.get("recipe")
        return f"{self.meta['model']} ({recipe} recipe)" if recipe else str(self.meta["model"])

    def inference(self) -> Inference:
        """How the run classified its test set: with test-time flips if it trained with them."""
        return Inference(flip=bool(self.meta.get("flip_tta", False)))

    def export_meta(self) -> dict[str, Any]:
        """What every export carries besides the network: its name and arguments and its input."""
        return {"model": self.meta["model"], "model_args": self.meta.get("model_args", {}), "input": self.input.to_dict()}


def load_run(path: str | Path) -> LoadedRun:
    """Load a run directory's final model (or its last checkpoint, for an unfinished run),
    or a checkpoint file given directly."""
    path = Path(path)
    if path.is_dir():
        candidates = [path / "model.safetensors", path / "last.safetensors"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise CheckpointError(f"{path} holds no model.safetensors or last.safetensors: is it a run directory?")
        run_dir, file = path, found
    else:
        run_dir, file = path.parent, path
    checkpoint = read_checkpoint(file)
    model = build_model(checkpoint, file)
    model.eval()
    return LoadedRun(run_dir=run_dir, model=model, input=checkpoint.input, meta=checkpoint.meta)

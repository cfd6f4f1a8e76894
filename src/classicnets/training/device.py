"""Where a run computes and in what precision.

CUDA: bf16 autocast, channels_last, the data set resident on the GPU. Apple's GPU (MPS):
float32, the data set resident there, and the operations MPS lacks run on the CPU (PyTorch's
documented switch, PYTORCH_ENABLE_MPS_FALLBACK=1: the command line sets it before PyTorch loads;
from Python, set it before importing torch). CPU: float32 by default, because bf16 matrix products
are hundreds of times slower on CPUs without native bf16 instructions; a run that asks for bf16
(`precision="bf16"`) gets it on CPUs that have them (AVX512-BF16 or AMX), where oneDNN's
channels_last convolutions train most conv networks 1.1-1.7x faster than in float32 (and the
LeNets, whose steps are elementwise work, a little slower: benchmarks/results/precision.json).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sys

import torch

from classicnets.errors import ClassicnetsError


def try_gpu(index: int = 0) -> torch.device:
    """d2l's try_gpu: the index-th GPU if there is one, else the CPU."""
    if torch.cuda.device_count() > index:
        return torch.device(f"cuda:{index}")
    return torch.device("cpu")


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str) -> torch.device:
    """'auto', 'cpu', 'cuda', 'cuda:N' or 'mps' -> a device that exists, or a clear error.
    'auto' is the first of CUDA, Apple's GPU (MPS) and the CPU that this machine has."""
    if name == "auto":
        device = try_gpu()
        return torch.device("mps") if device.type == "cpu" and mps_available() else device
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ClassicnetsError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "mps":
        if not mps_available():
            raise ClassicnetsError(
                "device mps asked for, but this PyTorch has no usable MPS (Apple GPU) backend "
                "here: use --device cpu or auto"
            )
        return device
    if device.type == "cuda":
        count = torch.cuda.device_count()
        index = device.index or 0
        if index >= count:
            raise ClassicnetsError(
                f"device {name} asked for, but this machine has {count} CUDA device(s): use --device cpu or auto"
            )
        return torch.device("cuda", index)
    if device.type != "cpu":
        raise ClassicnetsError(
            f"device type {device.type!r} is not supported: use auto, cpu, cuda, cuda:N or mps"
        )
    return device


@functools.cache
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (oneDNN's check: AVX512-BF16 or AMX)."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(device: torch.device, requested: str) -> str:
    """The precision a run computes in on `device`: "auto" is bf16 autocast on CUDA and float32
    elsewhere; "bf16" is honoured on CUDA and on CPUs with native bf16, float32 elsewhere (MPS,
    older CPUs: emulated bf16 would be many times slower, not faster)."""
    if requested == "fp32":
        return "fp32"
    if device.type == "cuda":
        return "bf16"
    if requested == "bf16" and device.type == "cpu" and cpu_has_bf16():
        return "bf16"
    return "fp32"


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """bf16 autocast where `precision` resolves to bf16 on `device`; nothing otherwise."""
    if resolve_precision(device, precision) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def use_channels_last(device: torch.device, requested: bool | None, cpu_default: bool = False) -> bool:
    """channels_last when asked; by default always on CUDA, and on the CPU where the model's
    registered config says it was measured faster (`ModelConfig.cpu_channels_last`)."""
    if requested is not None:
        return requested
    return device.type == "cuda" or cpu_default


def compiler_missing(device: torch.device) -> str | None:
    """Why `torch.compile` cannot build code for `device` here, or None when it can.

    Its CPU backend compiles generated C++ with $CXX, else g++ (clang++ on macOS), the compiler
    PyTorch's inductor looks for; on CUDA, Triton builds its kernel launchers with a C compiler
    ($CC, else cc, gcc or clang). Without one, compiling fails at the first step, deep inside
    PyTorch: this says so before anything is built or written."""
    if device.type == "cuda":
        names, kind = [os.environ.get("CC") or "cc", "gcc", "clang"], "a C compiler"
    elif device.type == "cpu":
        names, kind = (
            [os.environ.get("CXX") or ("clang++" if sys.platform == "darwin" else "g++")],
            "a C++ compiler",
        )
    else:
        return None
    if any(shutil.which(name) for name in names):
        return None
    return (
        f"--compile on {device.type} needs {kind} (torch.compile builds the code it generates): "
        f"{' or '.join(names)} is not on PATH; install one (Debian: apt-get install g++), set "
        f"{'CC' if device.type == 'cuda' else 'CXX'} to it, or train without --compile"
    )

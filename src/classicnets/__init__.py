"""classicnets: the classic image-classification networks on Fashion-MNIST.

    import classicnets
    result = classicnets.train("lenet", recipe="book")      # the run directory, metrics, model
    run = classicnets.load_run(result.run_dir)
    classicnets.predict(run, ["shirt.jpg"])

The functions are imported on first use, so that the PyTorch-free parts of the package
(`classicnets.numpy_runtime`) can be imported where PyTorch is not installed.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "ClassicnetsError": "classicnets.errors",
    "train": "classicnets.training",
    "resume": "classicnets.training",
    "load_run": "classicnets.training.checkpoint",
    "predict": "classicnets.analysis.predict",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'classicnets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

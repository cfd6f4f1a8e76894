"""classicnets: the classic image-classification networks on Fashion-MNIST.

    import classicnets
    result = classicnets.train("lenet", recipe="book")      # the run directory, metrics, model
    run = classicnets.load_run(result.run_dir)
    classicnets.predict(run, ["shirt.jpg"])
    classicnets.explain(run, ["shirt.jpg"])                  # receptive fields, filters, Grad-CAM, saliency
    classicnets.compare(["runs/"]).runs                      # every run in runs/, side by side

The functions are imported on first use, so that the PyTorch-free parts of the package
(`classicnets.numpy_runtime`) can be imported where PyTorch is not installed.
"""

from __future__ import annotations

from classicnets.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "ClassicnetsError": "errors",
    "train": "trainer",
    "resume": "trainer",
    "lr_find": "trainer",
    "load_run": "training.checkpoint",
    "predict": "analysis.predict",
    "explain": "reports.explain_figures",
    "compare": "analysis.runs",
}

__all__ = ["__version__", *_LAZY]

__getattr__ = lazy_exports(__name__, _LAZY, globals())

"""Fashion-MNIST: finding, verifying, loading and batching it.

The names below are imported on first use, so that the PyTorch-free modules of this package
(catalog, idx) load without PyTorch: the command line's --help reads them."""

from __future__ import annotations

from classicnets.lazy import lazy_exports

_LAZY = {
    "BatchConfig": "batches", "BatchIterator": "batches", "to_model_input": "batches",
    "CLASS_NAMES": "catalog", "NUM_CLASSES": "catalog", "TRAIN_MEAN": "catalog", "TRAIN_STD": "catalog",
    "download_fashion_mnist": "download",
    "DataSource": "fashion_mnist", "FashionMNIST": "fashion_mnist", "Split": "fashion_mnist",
    "load_fashion_mnist": "fashion_mnist", "locate_fashion_mnist": "fashion_mnist", "split_validation": "fashion_mnist",
    "parse_idx": "idx", "read_idx": "idx",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_exports(__name__, _LAZY, globals())

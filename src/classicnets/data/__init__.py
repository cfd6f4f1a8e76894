"""The data sets: finding, verifying, loading and batching them.

The names below are imported on first use, so that the PyTorch-free modules of this package
(catalog, idx) load without PyTorch: the command line's --help reads them."""

from __future__ import annotations

from classicnets.lazy import lazy_exports

_LAZY = {
    "BatchConfig": "batches",
    "BatchIterator": "batches",
    "to_model_input": "batches",
    "Data": "named",
    "DataSource": "named",
    "load_dataset": "named",
    "load_fashion_mnist": "named",
    "locate_dataset": "named",
    "DataRequest": "request",
    "load_data": "sources",
    "Split": "split",
    "split_validation": "split",
    "download_dataset": "download",
    "parse_idx": "idx",
    "read_idx": "idx",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_exports(__name__, _LAZY, globals())

"""Fashion-MNIST: finding, verifying, loading and batching it."""

from classicnets.data.batches import BatchConfig, BatchIterator, to_model_input
from classicnets.data.catalog import CLASS_NAMES, NUM_CLASSES, TRAIN_MEAN, TRAIN_STD
from classicnets.data.download import download_fashion_mnist
from classicnets.data.fashion_mnist import (
    DataSource,
    FashionMNIST,
    Split,
    load_fashion_mnist,
    locate_fashion_mnist,
    split_validation,
)
from classicnets.data.idx import parse_idx, read_idx

__all__ = [
    "CLASS_NAMES", "NUM_CLASSES", "TRAIN_MEAN", "TRAIN_STD",
    "BatchConfig", "BatchIterator", "to_model_input",
    "DataSource", "FashionMNIST", "Split",
    "download_fashion_mnist", "load_fashion_mnist", "locate_fashion_mnist", "split_validation",
    "parse_idx", "read_idx",
]

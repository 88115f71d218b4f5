"""Datasets: a registry of named datasets, their loaders and transforms."""

from . import amat, cifar, digit_patches, digits, idx, patches, photos, sequences, tabular, text, toy  # noqa: F401  (registers)
from .download import DatasetCorruptError, DatasetUnavailableError, cache_dir, fetch
from .registry import SPLITS, DatasetInfo, Split, dataset_names, get_info, load_split
from .transforms import (
    binarize_dynamic,
    binarize_static,
    dequantization_nats,
    dequantize,
    reduce_levels,
)

__all__ = [
    "SPLITS",
    "DatasetCorruptError",
    "DatasetInfo",
    "DatasetUnavailableError",
    "Split",
    "binarize_dynamic",
    "binarize_static",
    "cache_dir",
    "dataset_names",
    "dequantization_nats",
    "dequantize",
    "fetch",
    "get_info",
    "load_split",
    "reduce_levels",
]

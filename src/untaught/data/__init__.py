"""Datasets: a registry of named datasets, their loaders and transforms."""

from . import digits  # noqa: F401  (registers)
from .registry import SPLITS, DatasetInfo, Split, dataset_names, get_info, load_split

__all__ = ["SPLITS", "DatasetInfo", "Split", "dataset_names", "get_info", "load_split"]

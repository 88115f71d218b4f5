"""scikit-learn's 8x8 handwritten digits: 1797 images, values 0..16 (17 levels), fixed split."""

from __future__ import annotations

import numpy as np
import torch

from .registry import DatasetInfo, Split, register

_SIZES = {"train": 1257, "val": 180, "test": 360}


def _load(split: str, root: str | None = None) -> Split:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = np.random.RandomState(0).permutation(len(bunch.target))
    start = {"train": 0, "val": _SIZES["train"], "test": _SIZES["train"] + _SIZES["val"]}[split]
    idx = order[start : start + _SIZES[split]]
    x = torch.from_numpy(bunch.images[idx].astype(np.uint8)).unsqueeze(1)
    y = torch.from_numpy(bunch.target[idx].astype(np.int64))
    return Split(x, y, levels=17)


DIGITS = register(
    DatasetInfo(
        name="digits",
        description="scikit-learn's 8x8 handwritten digits (ships with scikit-learn)",
        shape=(1, 8, 8),
        levels=17,
        sizes=_SIZES,
        loader=_load,
        offline=lambda root: True,
    )
)

"""Tabular continuous data for density estimation, shipped with scikit-learn (offline).

The flow papers' tabular sets (POWER, GAS, HEPMASS, MINIBOONE, BSDS300) are downloads this project's
machines cannot make; the real UCI tables that scikit-learn ships are used instead:

* ``breast-cancer``: UCI Wisconsin Diagnostic Breast Cancer, 569 examples of cell-nucleus
  measurements. The six concavity features are dropped: 13 examples hold exactly 0 in them, a point
  mass that a continuous density could exploit without bound. The other 24 features (all > 0) are
  log-transformed and standardised with the training split's mean and standard deviation, as
  MAF's preprocessing does; labels are the diagnosis (0 malignant, 1 benign). Split fixed by
  seed 0: 369 / 100 / 100.

Values are float32 [N, 24] with ``levels`` None: NLLs are exact continuous ones, in nats of the
standardised log-features (comparable across models on this dataset, not to other datasets).
"""

from __future__ import annotations

import numpy as np
import torch

from .registry import DatasetInfo, Split, register

_SIZES = {"train": 369, "val": 100, "test": 100}


def _breast_cancer(split: str, root: str | None = None) -> Split:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    keep = [j for j, name in enumerate(bunch.feature_names) if "concav" not in name]
    features = np.log(bunch.data[:, keep].astype(np.float64))
    order = np.random.RandomState(0).permutation(len(features))
    bounds = {"train": (0, 369), "val": (369, 469), "test": (469, 569)}
    train = features[order[:369]]
    mean, std = train.mean(0), train.std(0)
    lo, hi = bounds[split]
    idx = order[lo:hi]
    x = torch.from_numpy(((features[idx] - mean) / std).astype(np.float32))
    return Split(x, torch.from_numpy(bunch.target[idx].astype(np.int64)), levels=None)


register(
    DatasetInfo(
        name="breast-cancer",
        description="UCI breast cancer (Wisconsin diagnostic): 24 log-standardised features (ships with scikit-learn)",
        shape=(24,),
        levels=None,
        sizes=_SIZES,
        loader=_breast_cancer,
        offline=lambda root: True,
    )
)

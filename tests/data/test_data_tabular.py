"""The tabular breast-cancer set: fixed, disjoint, standardised on the training split, no point masses."""

from __future__ import annotations

import torch

from untaught.data import get_info, load_split


def test_breast_cancer_splits_are_fixed_standardised_and_disjoint():
    info = get_info("breast-cancer")
    assert info.levels is None and info.shape == (24,) and info.offline(None)
    splits = {s: load_split("breast-cancer", s) for s in ("train", "val", "test")}
    assert {s: len(v.x) for s, v in splits.items()} == info.sizes
    train = splits["train"].x.double()
    torch.testing.assert_close(train.mean(0), torch.zeros(24, dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(train.std(0, unbiased=False), torch.ones(24, dtype=torch.float64), atol=1e-5, rtol=0)
    rows = [tuple(r.tolist()) for v in splits.values() for r in v.x]
    assert len(set(rows)) == 569  # no example in two splits (and none repeated)
    assert torch.equal(load_split("breast-cancer", "test").x, splits["test"].x)
    everything = torch.cat([v.x for v in splits.values()])
    for j in range(24):  # no value holds more than 2% of a feature: no point mass to exploit
        _, counts = everything[:, j].unique(return_counts=True)
        assert int(counts.max()) <= 0.02 * 569, j

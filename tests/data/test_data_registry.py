from __future__ import annotations

import numpy as np
import pytest
import torch

from untaught.data import dataset_names, get_info, load_split

EXPECTED = {
    "mnist": ((1, 28, 28), 256, {"train": 50000, "val": 10000, "test": 10000}),
    "fashion-mnist": ((1, 28, 28), 256, {"train": 50000, "val": 10000, "test": 10000}),
    "binarized-mnist": ((1, 28, 28), 2, {"train": 50000, "val": 10000, "test": 10000}),
    "cifar10": ((3, 32, 32), 256, {"train": 45000, "val": 5000, "test": 10000}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_registry_entries(name):
    shape, levels, sizes = EXPECTED[name]
    info = get_info(name)
    assert name in dataset_names()
    assert (info.shape, info.levels, info.sizes) == (shape, levels, sizes)
    assert info.description


@pytest.mark.parametrize("name", ["mnist", "binarized-mnist", "cifar10"])
def test_not_offline_with_an_empty_cache(name, tmp_path):
    assert not get_info(name).offline(str(tmp_path))


def test_digits_splits_are_fixed_disjoint_and_complete():
    from sklearn.datasets import load_digits

    splits = {s: load_split("digits", s) for s in ("train", "val", "test")}
    assert {s: len(d) for s, d in splits.items()} == get_info("digits").sizes
    again = load_split("digits", "val")
    assert torch.equal(again.x, splits["val"].x) and torch.equal(again.y, splits["val"].y)

    def rows(x: torch.Tensor, y: torch.Tensor) -> list[bytes]:
        table = np.concatenate([x.reshape(len(x), -1).numpy(), y.numpy()[:, None]], axis=1)
        return sorted(r.astype(np.int64).tobytes() for r in table)

    bunch = load_digits()
    full = rows(torch.from_numpy(bunch.images.astype(np.uint8)), torch.from_numpy(bunch.target))
    ours = rows(torch.cat([d.x for d in splits.values()]), torch.cat([d.y for d in splits.values()]))
    assert ours == full  # the three splits partition the 1797 examples

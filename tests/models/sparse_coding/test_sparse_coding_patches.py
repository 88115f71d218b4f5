"""The patch dataset: deterministic, DC removed, one global scale, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from untaught.data import get_info, load_split
from untaught.data.patches import find_folder, folder_patches, sample_patches


def photo_folder(tmp_path, size=(40, 30)):
    rng = np.random.RandomState(0)
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        (tmp_path / split).mkdir()
        for i in range(n):
            pixels = (rng.rand(size[1], size[0]) * 255).astype(np.uint8)
            pixels[:10, :10] = 7  # a flat region: its zero-variance patches must be redrawn
            Image.fromarray(pixels).save(tmp_path / split / f"{i}.png")
    return tmp_path


def test_folder_patches_are_deterministic_centred_and_scaled(tmp_path):
    folder = photo_folder(tmp_path)
    sizes = {"train": 500, "val": 100, "test": 100}
    a, scale = folder_patches(folder, patch=6, sizes=sizes, seed=3)
    b, _ = folder_patches(folder, patch=6, sizes=sizes, seed=3)
    assert a["train"].shape == (500, 1, 6, 6) and a["train"].dtype == torch.float32
    assert torch.equal(a["test"], b["test"])
    flat = a["train"].flatten(1).double()
    assert flat.mean(1).abs().max() < 1e-5  # DC removed from every patch
    assert flat.std(unbiased=False).item() == pytest.approx(1.0, rel=1e-4)  # the global training scale
    assert (flat.var(1) > 0).all()
    c, _ = folder_patches(folder, patch=6, sizes=sizes, seed=4)
    assert not torch.equal(a["train"], c["train"])
    assert 0 < scale < 1


def test_bad_patch_inputs_are_refused(tmp_path):
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="patch size 50 is larger than image 0 of 40x30"):
        sample_patches([np.random.rand(30, 40)], 50, 10, gen)
    with pytest.raises(ValueError, match="zero variance"):
        sample_patches([np.full((30, 40), 0.5)], 4, 10, gen)


def test_bsds500_patches_registered():
    info = get_info("bsds500-patches")
    assert info.shape == (1, 8, 8) and info.levels is None
    assert info.sizes == {"train": 50_000, "val": 10_000, "test": 10_000}
    if find_folder("bsds500") is None:
        pytest.skip("the BSDS500 photographs are not on this machine")
    test = load_split("bsds500-patches", "test")
    assert test.x.shape == (10_000, 1, 8, 8) and test.levels is None
    _, scale = folder_patches(find_folder("bsds500"))
    assert scale == pytest.approx(0.08866, abs=1e-5)  # the constant the docstring states
    assert get_info("bsds500-patches-12").shape == (1, 12, 12)  # any N x N, made from the name

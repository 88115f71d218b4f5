"""2-D toy densities: continuous float32 [N, 2], fixed per split, distinct between splits."""

import pytest
import torch

from untaught.data import get_info, load_split


@pytest.mark.parametrize("name", ["moons", "gaussians", "checkerboard", "spirals", "rings"])
def test_toy_sets_are_fixed_continuous_and_unit_scale(name):
    info = get_info(name)
    assert info.shape == (2,) and info.levels is None
    train, again, test = load_split(name, "train"), load_split(name, "train"), load_split(name, "test")
    assert train.x.dtype == torch.float32 and train.x.shape == (info.sizes["train"], 2)
    assert torch.equal(train.x, again.x) and not torch.equal(train.x[:100], test.x[:100])
    assert train.x.abs().max() < 3.5 and train.x.std() > 0.3


def test_checkerboard_has_mass_only_on_dark_squares():
    x = load_split("checkerboard", "train").x
    cells = (torch.floor(x[:, 0]) + torch.floor(x[:, 1])) % 2
    assert (cells == 0).all()

"""Registry-driven checks: every registered model, on a tiny enumerable space, passes the same tests.

A new model joins by being registered and by adding a tiny config to ``tiny_configs.TINY``.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from tiny_configs import TINY

from untaught.io import load_model, save_model
from untaught.registry import get_model_class, model_names


def tiny(name: str, shape=(1, 2, 3), levels=2):
    assert name in TINY, f"registered model {name!r} has no tiny config in tests/tiny_configs.py"
    torch.manual_seed(0)
    cls = get_model_class(name)
    return cls(cls.Config(shape=shape, levels=levels, **TINY[name])).double()


def space(shape, levels) -> torch.Tensor:
    dims = shape[0] * shape[1] * shape[2]
    grid = torch.tensor(list(itertools.product(range(levels), repeat=dims)), dtype=torch.uint8)
    return grid.view(-1, *shape)


@pytest.mark.parametrize("name", model_names())
def test_registered_model_describes_itself(name):
    cls = get_model_class(name)
    assert cls.name == name and cls.description
    assert cls.capabilities(), f"{name} declares no capability"


@pytest.mark.parametrize("name", model_names())
@pytest.mark.parametrize(("shape", "levels"), [((1, 2, 3), 2), ((1, 1, 4), 3)])
def test_exact_densities_normalise(name, shape, levels):
    model = tiny(name, shape, levels)
    if "log_prob" not in model.capabilities() or model.log_prob_kind != "exact":
        pytest.skip(f"{name} has no exact density")
    total = torch.logsumexp(model.log_prob(space(shape, levels)), 0)
    assert total.item() == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("name", model_names())
def test_samples_lie_in_the_data_space(name):
    model = tiny(name)
    if "sample" not in model.capabilities():
        pytest.skip(f"{name} does not sample")
    x = model.sample(7, generator=torch.Generator().manual_seed(0))
    assert x.shape == (7, 1, 2, 3) and x.dtype == torch.uint8 and int(x.max()) <= 1


@pytest.mark.parametrize("name", model_names())
def test_save_load_round_trip(name, tmp_path):
    model = tiny(name).float()
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    x = space((1, 2, 3), 2)
    if "log_prob" in model.capabilities():
        assert torch.equal(loaded.log_prob(x), model.eval().log_prob(x))
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)

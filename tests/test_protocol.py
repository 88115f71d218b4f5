"""Registry-driven checks: every registered model, built tiny, passes the same tests.

A new model joins by being registered and by adding a tiny config to ``tiny_configs.TINY``.
Discrete models are built for binary 1x2x3 images unless their entry says otherwise, so that
exact densities can be checked to sum to one over the whole space.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from tiny_configs import TINY

from untaught.io import load_model, save_model
from untaught.registry import get_model_class, model_names


def tiny(name: str, **data):
    assert name in TINY, f"registered model {name!r} has no tiny config in tests/tiny_configs.py"
    torch.manual_seed(0)
    cls = get_model_class(name)
    fields = {"shape": (1, 2, 3), "levels": 2, **TINY[name], **data}
    return cls(cls.Config(**fields)).double()


def example_batch(model, n: int = 5) -> torch.Tensor:
    shape, levels = tuple(model.config.shape), model.config.levels
    gen = torch.Generator().manual_seed(0)
    if hasattr(model, "example_data"):  # continuous data with a restricted support (e.g. word counts)
        return model.example_data(n, generator=gen)
    if levels is None:
        return torch.randn(n, *shape, generator=gen, dtype=torch.float64)
    return torch.randint(levels, (n, *shape), generator=gen).to(torch.uint8)


def enumerable(model) -> torch.Tensor | None:
    """Every point of the model's discrete data space, if there are at most 4096."""
    shape, levels = tuple(model.config.shape), model.config.levels
    if levels is None or levels ** math.prod(shape) > 4096:
        return None
    grid = torch.tensor(list(itertools.product(range(levels), repeat=math.prod(shape))), dtype=torch.uint8)
    return grid.view(-1, *shape)


@pytest.mark.parametrize("name", model_names())
def test_registered_model_describes_itself(name):
    cls = get_model_class(name)
    assert cls.name == name and cls.description
    assert cls.capabilities(), f"{name} declares no capability"


@pytest.mark.parametrize("name", model_names())
def test_exact_densities_normalise(name):
    model = tiny(name)
    space = enumerable(model)
    if "log_prob" not in model.capabilities() or model.log_prob_kind != "exact" or space is None:
        pytest.skip(f"{name} has no exact density on an enumerable space")
    total = torch.logsumexp(model.log_prob(space), 0)
    assert total.item() == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("name", model_names())
def test_samples_lie_in_the_data_space(name):
    model = tiny(name)
    if "sample" not in model.capabilities():
        pytest.skip(f"{name} does not sample")
    x = model.sample(7, generator=torch.Generator().manual_seed(0))
    assert tuple(x.shape) == (7, *model.config.shape)
    if model.config.levels is None:
        assert x.is_floating_point() and torch.isfinite(x).all()
    else:
        assert x.dtype == torch.uint8 and int(x.max()) < model.config.levels


@pytest.mark.parametrize("name", model_names())
def test_save_load_round_trip(name, tmp_path):
    model = tiny(name).float().eval()
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    x = example_batch(model)
    x = x.float() if x.is_floating_point() else x
    for method in ("log_prob", "encode"):
        if method in model.capabilities():
            assert torch.equal(getattr(loaded, method)(x), getattr(model, method)(x)), method

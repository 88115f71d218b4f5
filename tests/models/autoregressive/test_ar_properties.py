"""Properties every autoregressive model must have, checked on tiny data for each of them.

- exact normalisation over every image of a tiny space (binary 3x3, 3-level RGB 2x2, ...);
- the dependency structure from Jacobians: conditional d depends on no dimension at or after d in
  generation order (and, for the models that claim it, on every one before d);
- the cached sampler draws exactly the naive sampler's samples for the same generator;
- completion keeps the given part and samples the rest;
- sample frequencies match the probabilities.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from untaught.models.autoregressive.conditionals import generation_order
from untaught.registry import get_model_class, model_names

# name -> small hyperparameters; every model below is tried on every data space in SPACES
MODELS = {
    "fvbn": dict(),
    "nade": dict(hidden=7),
    "pixelcnn": dict(blocks=2, channels=6, head=6, kernel=3),
    "gated-pixelcnn": dict(layers=2, channels=12, head=12, kernel=3),
    "pixelcnn+logistic-mixture": dict(blocks=2, channels=6, head=6, kernel=3, mixtures=2),
    "gated-pixelcnn+logistic-mixture": dict(layers=2, channels=12, head=12, kernel=3, mixtures=2),
    "pixel-transformer": dict(layers=2, dim=8, heads=2),
    "pixel-transformer+random-order": dict(layers=2, dim=8, heads=2, order_seed=3),
    "pixelsnail": dict(blocks=2, residuals=1, channels=8, key=4, value=4, head=8, kernel=3),
    "pixelrnn": dict(layers=2, hidden=8, head=8),
    "pixelrnn+diagonal": dict(layer="diagonal", layers=2, hidden=8, head=8),
    "pixelcnn++": dict(channels=4, resnets=1, scales=2, mixtures=2),
}
# models whose conditional d depends on every earlier dimension (no blind spot)
FULL_FIELD = {
    "fvbn",
    "nade",
    "gated-pixelcnn",
    "gated-pixelcnn+logistic-mixture",
    "pixel-transformer",
    "pixelsnail",
    "pixelcnn++",
    "pixelrnn+diagonal",
}
SPACES = [((1, 3, 3), 2), ((3, 2, 2), 2), ((1, 2, 2), 4), ((2, 1, 3), 3)]


def build(name, shape, levels, **extra):
    torch.manual_seed(0)
    cls = get_model_class(name if name in model_names() else name.split("+")[0])  # "model+variant": other sizes
    try:
        config = cls.Config(shape=shape, levels=levels, **{**MODELS[name], **extra})
    except ValueError as e:
        if "shape must be" in str(e):
            pytest.skip(f"{name} does not model data of shape {shape}")
        raise
    model = cls(config).double()
    with torch.no_grad():  # peaked, non-trivial conditionals (zero-initialised weights become random)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.7)
    return model.eval()


def space(shape, levels):
    grid = torch.tensor(list(itertools.product(range(levels), repeat=math.prod(shape))), dtype=torch.uint8)
    return grid.view(-1, *shape)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(("shape", "levels"), SPACES)
def test_probabilities_sum_to_one(name, shape, levels):
    model = build(name, shape, levels)
    total = torch.logsumexp(model.log_prob(space(shape, levels)), 0)
    assert total.item() == pytest.approx(0.0, abs=1e-9)


def jacobian(model, shape):
    """|d params_d / d h_j| summed over parameters and a few random inputs: [D, D]."""
    d = math.prod(shape)
    total = torch.zeros(d, d, dtype=torch.float64)
    for seed in range(3):
        h = torch.rand(1, *shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        jac = torch.autograd.functional.jacobian(lambda v: model.conditionals(v), h)  # [1, *shape, P, 1, *shape]
        total += jac.reshape(d, -1, d).abs().sum(1)
    return total


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(("shape", "levels"), [((1, 3, 3), 2), ((3, 2, 2), 3)])
def test_conditionals_depend_only_on_earlier_dimensions(name, shape, levels):
    model = build(name, shape, levels)
    jac = jacobian(model, shape)
    pos = model.order()
    before = pos[None, :] < pos[:, None]  # before[d, j]: j comes before d
    assert (jac[~before] == 0).all(), "a conditional depends on its own or a later dimension"
    if name in FULL_FIELD:
        assert (jac[before] > 0).all(), "a conditional ignores an earlier dimension"


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(("shape", "levels"), [((1, 4, 5), 2), ((3, 3, 3), 4)])
def test_cached_sampling_equals_naive_sampling(name, shape, levels):
    model = build(name, shape, levels)
    fast = model.sample(6, generator=torch.Generator().manual_seed(3), fast=True)
    naive = model.sample(6, generator=torch.Generator().manual_seed(3), fast=False)
    assert torch.equal(fast, naive)
    other = model.sample(6, generator=torch.Generator().manual_seed(4), fast=True)
    assert not torch.equal(fast, other), "different seeds should give different samples"


@pytest.mark.parametrize("name", MODELS)
def test_completion_keeps_the_given_rows(name):
    model = build(name, (1, 4, 3), 3)
    given = torch.randint(3, (20, 1, 4, 3), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    keep = (model.order() < 6).view(1, 4, 3)  # the first 6 dimensions in generation order
    for fast in (True, False):
        out = model.sample(20, generator=torch.Generator().manual_seed(1), given=given, known=6, fast=fast)
        assert torch.equal(out[:, keep], given[:, keep])
        assert not torch.equal(out[:, ~keep], given[:, ~keep])
    if "random-order" in name:
        with pytest.raises(ValueError, match="raster order"):
            model.complete(given, rows=2)
    else:
        done = model.complete(given, rows=2, generator=torch.Generator().manual_seed(1))
        assert torch.equal(done, out) and torch.equal(done[:, :, :2], given[:, :, :2])


@pytest.mark.parametrize("name", MODELS)
def test_sample_frequencies_match_probabilities(name):
    shape, levels = (1, 2, 2), 2
    model = build(name, shape, levels)
    probs = model.log_prob(space(shape, levels)).exp()
    n = 20_000
    x = model.sample(n, generator=torch.Generator().manual_seed(0)).view(n, -1).long()
    freq = torch.bincount((x * torch.tensor([8, 4, 2, 1])).sum(1), minlength=16).double() / n
    assert torch.all((freq - probs).abs() <= 5 * (probs * (1 - probs) / n).sqrt() + 1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_temperature_and_arguments(name):
    model = build(name, (1, 3, 3), 3)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)
    cold = model.sample(500, temperature=0.02, generator=torch.Generator().manual_seed(0))
    warm = model.sample(500, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert model.log_prob(cold).mean() >= model.log_prob(warm).mean()  # colder: no less probable samples
    if "mixture" not in name:  # (a mixture's levels can tie closely: no single greedy path)
        flat = cold.view(500, -1)
        assert (flat == flat.mode(0).values).all(1).float().mean() > 0.9
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, temperature=0)
    with pytest.raises(ValueError, match="known must be in"):
        model.sample(2, known=10)
    with pytest.raises(ValueError, match="needs the partly given"):
        model.sample(2, known=3)


@pytest.mark.parametrize("name", MODELS)
def test_loss_is_mean_nll(name):
    model = build(name, (1, 3, 3), 2)
    x = space((1, 3, 3), 2)[::7]
    loss, metrics = model.loss(x)
    assert loss.item() == pytest.approx(-model.log_prob(x).mean().item())
    assert metrics["bpd"].item() == pytest.approx(loss.item() / (9 * math.log(2)))


def test_pixelcnn_has_its_blind_spot():
    """Stacked masked kernels never reach (i - 1, j + 2) from (i, j), however deep the network."""
    model = build("pixelcnn", (1, 5, 5), 2, blocks=4)
    jac = jacobian(model, (1, 5, 5)).view(5, 5, 5, 5)
    assert jac[3, 2, 2, 4] == 0, "the blind spot is missing"
    assert jac[3, 2, 1, 4] > 0 and jac[3, 2, 2, 3] > 0 and jac[3, 2, 3, 1] > 0  # around it: seen


def test_gated_pixelcnn_sees_the_whole_causal_field_of_a_larger_image():
    model = build("gated-pixelcnn", (1, 6, 6), 2, layers=4)
    jac = jacobian(model, (1, 6, 6))
    pos = generation_order((1, 6, 6))
    before = pos[None, :] < pos[:, None]
    assert (jac[~before] == 0).all() and (jac[before] > 0).all()


def test_diagonal_bilstm_sees_the_whole_causal_field_in_one_layer():
    """Left-to-right: the rectangle up and left; right-to-left, one row down: the rows above, to the right."""
    model = build("pixelrnn+diagonal", (1, 6, 5), 2, layers=1)
    jac = jacobian(model, (1, 6, 5))
    pos = generation_order((1, 6, 5))
    before = pos[None, :] < pos[:, None]
    assert (jac[~before] == 0).all() and (jac[before] > 0).all()


def test_row_lstm_sees_a_triangle_above():
    """One Row LSTM layer, k = 3: (i, j) sees row i - r up to column j + r - 1, nothing further right."""
    model = build("pixelrnn", (1, 5, 5), 2, layers=1)
    jac = jacobian(model, (1, 5, 5)).view(5, 5, 5, 5)
    assert jac[3, 1, 2, 1] > 0 and jac[3, 1, 1, 2] > 0 and jac[3, 1, 0, 3] > 0 and jac[3, 1, 3, 0] > 0
    assert jac[3, 1, 2, 2] == 0 and jac[3, 1, 1, 3] == 0 and jac[3, 1, 0, 4] == 0

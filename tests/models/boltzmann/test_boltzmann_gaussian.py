"""Gaussian-Bernoulli RBM: free energy and log Z against brute force and quadrature, AIS against exact,
Gibbs samples against the exact mixture's moments, training on a 2-D density through the engine."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import untaught
from untaught.models.boltzmann import GaussianRBM, GaussianRBMConfig, ais_gaussian_log_partition


def grbm(d: int = 2, h: int = 3, std: float = 0.7, sigma: float = 1.0, seed: int = 0, **kw) -> GaussianRBM:
    torch.manual_seed(seed)
    model = GaussianRBM(GaussianRBMConfig(shape=(d,), hidden=h, init_std=std, sigma=sigma, **kw)).double()
    with torch.no_grad():
        model.visible_bias.normal_(0, 0.5)
        model.hidden_bias.normal_(0, 0.5)
    return model


def hidden_states(h: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=h)), dtype=torch.float64)


def test_free_energy_sums_out_the_hidden_units():
    model = grbm(sigma=0.8)
    v = torch.randn(5, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    hs = hidden_states(3)
    energies = torch.stack([model.energy(v, hs[k].expand(5, 3)) for k in range(8)], 1)
    torch.testing.assert_close(model.free_energy(v), -torch.logsumexp(-energies, 1))


@pytest.mark.parametrize("sigma", [1.0, 0.6])
def test_exact_log_z_matches_quadrature_and_the_density_integrates_to_one(sigma):
    model = grbm(sigma=sigma)
    axis = torch.linspace(-12, 12, 1201, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)
    cell = float(axis[1] - axis[0]) ** 2
    log_z_quad = float(torch.logsumexp(-model.free_energy(grid), 0)) + math.log(cell)
    assert model.log_partition("exact").log_z == pytest.approx(log_z_quad, abs=1e-6)
    assert model.log_prob_kind == "exact"
    mass = float(model.log_prob(grid.float().double()).exp().sum()) * cell
    assert mass == pytest.approx(1.0, abs=1e-6)


def test_ais_lies_within_its_spread_of_the_exact_log_z():
    model = grbm(d=5, h=10, std=0.6, seed=2)
    exact = model.log_partition("exact").log_z
    est = ais_gaussian_log_partition(
        model.weight, model.visible_bias, model.hidden_bias, model.sigma, chains=200, betas=500,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert est.low <= exact <= est.high, str(est)
    assert est.high - est.low < 0.5


def test_gibbs_samples_have_the_exact_mixture_moments():
    model = grbm(d=2, h=3, std=0.8, sigma=0.7, sample_steps=50)
    hs = hidden_states(3)
    wh = hs @ model.weight.detach().T
    logits = hs @ model.hidden_bias.detach() + wh @ (model.visible_bias.detach() / model.sigma) + 0.5 * (wh**2).sum(1)
    p = torch.softmax(logits, 0)
    means = model.visible_bias.detach() + model.sigma * wh  # E[v | h]
    mean = p @ means
    cov = torch.diag(model.sigma**2) + (means - mean).T @ ((means - mean) * p[:, None])
    x = model.sample(20_000, generator=torch.Generator().manual_seed(0))
    assert x.dtype == torch.float64 and x.shape == (20_000, 2)
    torch.testing.assert_close(x.mean(0), mean, rtol=0, atol=0.03)
    torch.testing.assert_close(torch.cov(x.T), cov, rtol=0, atol=0.05)


def test_learns_a_two_dimensional_density_through_the_engine(tmp_path):
    torch.manual_seed(0)
    # eight modes of standard deviation 0.1 on a circle: a visible σ of 0.3 lets the mixture resolve them
    model = GaussianRBM(GaussianRBMConfig(shape=(2,), hidden=12, chains=100, sigma=0.3))
    run = untaught.train(model, "gaussians", out=tmp_path / "run", epochs=3, batch_size=100,
                         progress=False, threads=1, samples=0, select="last")  # fmt: skip
    test = untaught.data.load_split("gaussians", "test").x.double()
    centred = test - test.mean(0)
    cov = centred.T @ centred / len(test)
    gaussian_nll = float(0.5 * (centred @ torch.linalg.inv(cov) * centred).sum(1).mean()
                         + 0.5 * torch.logdet(2 * math.pi * cov))  # fmt: skip
    assert run.metrics["test_nll_kind"] == "exact"
    assert run.metrics["test_nll_nats"] < gaussian_nll - 0.5  # the 2^12-component mixture beats one Gaussian


def test_bad_data_kind_is_named():
    with pytest.raises(ValueError, match="the Gaussian RBM models continuous data: levels must be None"):
        GaussianRBMConfig(levels=17)
    with pytest.raises(ValueError, match="sigma must be a positive number; got 0"):
        GaussianRBMConfig(sigma=0)

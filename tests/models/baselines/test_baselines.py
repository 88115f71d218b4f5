"""Classical baselines: histograms and Gaussians integrate to 1, they are the MLE, EM never decreases
the likelihood, and all of them train through the engine (the epoch reaches ``update``)."""

from __future__ import annotations

import inspect
import itertools
import json
import math

import pytest
import torch

import untaught
from untaught.data import load_split
from untaught.models.baselines import (
    Gaussian,
    GaussianConfig,
    GaussianMixture,
    GaussianMixtureConfig,
    Histogram,
    HistogramConfig,
    PixelHistogram,
    PixelHistogramConfig,
)
from untaught.models.baselines.histogram import scott_bin_width

QUIET = dict(progress=False, threads=1, samples=0)


def two_blobs(n: int = 600, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(n // 2, 2, generator=gen, dtype=torch.float64) * torch.tensor([0.3, 0.6]) + torch.tensor([1.0, 0])
    b = torch.randn(n - n // 2, 2, generator=gen, dtype=torch.float64) * 0.4 - torch.tensor([1.0, 0.5])
    return torch.cat([a, b])


def fit(model, x: torch.Tensor, epochs: int, batch: int = 100) -> list[float]:
    """Feed ``x`` to ``update`` epoch by epoch as the engine does; returns each epoch's mean metric."""
    values = []
    for epoch in range(epochs):
        schedule = {"epoch": epoch} if "epoch" in inspect.signature(model.update).parameters else {}
        gen = torch.Generator().manual_seed(0)
        metrics = [model.update(b, step=0, generator=gen, **schedule) for b in x.split(batch)]
        values.append(sum(m.get("loglik", 0.0) for m in metrics) / len(metrics))
    return values


def integral_2d(model, low: float, high: float, n: int = 400) -> float:
    axis = torch.linspace(low, high, n, dtype=torch.float64)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    p = model.log_prob(torch.stack([xx.flatten(), yy.flatten()], 1)).exp().view(n, n)
    step = float(axis[1] - axis[0])
    return float(p.sum() * step * step)  # Riemann sum: exact for a histogram up to the cells it cuts


# -- independent pixels ---------------------------------------------------------------------------
def test_pixel_histogram_is_the_smoothed_frequency_of_each_level_and_normalises():
    model = PixelHistogram(PixelHistogramConfig(shape=(1, 2, 2), levels=3, alpha=0.5)).double()
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(3, (50, 1, 2, 2), generator=gen).to(torch.uint8)
    for epoch in range(3):  # repeated epochs of the same data leave the estimate unchanged
        for b in x.split(16):
            model.update(b, epoch=epoch)
    freq = torch.stack([(x.flatten(1) == v).sum(0) for v in range(3)], 1).double()
    expected = (freq + 0.5) / (50 + 1.5)
    assert torch.allclose(model.log_probs().exp(), expected)
    space = torch.tensor(list(itertools.product(range(3), repeat=4)), dtype=torch.uint8).view(-1, 1, 2, 2)
    assert torch.logsumexp(model.log_prob(space), 0).item() == pytest.approx(0.0, abs=1e-12)
    samples = model.sample(20000, generator=torch.Generator().manual_seed(1))
    observed = torch.stack([(samples.flatten(1) == v).double().mean(0) for v in range(3)], 1)
    assert (observed - expected).abs().max() < 0.02


def test_pixel_histogram_trains_through_the_engine_on_digits(tmp_path):
    model = PixelHistogram(PixelHistogramConfig(shape=(1, 8, 8), levels=17))
    run = untaught.train(model, "digits", epochs=2, out=tmp_path / "run", **QUIET)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test_nll_kind"] == "exact"
    # far better than uniform (64 log 17 = 181 nats), far worse than MADE's 88
    assert 64 * math.log(17) - 60 > metrics["test_nll_nats"] > 100
    assert len(load_split("digits", "train")) == 1257
    drop = 1257 - 1257 % 64  # the engine drops the last partial batch
    assert run.model.counts.sum().item() == pytest.approx(2 * drop * 64)


def test_pixel_histogram_refuses_continuous_data():
    with pytest.raises(ValueError, match="levels must be >= 2"):
        PixelHistogramConfig(shape=(2,), levels=None)


# -- binned histograms ----------------------------------------------------------------------------
def test_histogram_places_its_grid_by_scotts_rule_and_integrates_to_one():
    x = two_blobs()
    model = Histogram(HistogramConfig(shape=(2,), max_bins=64, support_sd=4.0)).double()
    fit(model, x, epochs=2)
    sd = x.std(0, unbiased=False)
    expected_bins = (8 * sd / scott_bin_width(sd, len(x))).ceil()
    assert torch.equal(model.bins, expected_bins)
    low, high = float(model.low.min()) - 0.5, float((model.low + model.bins * model.width).max()) + 0.5
    assert integral_2d(model, low, high, n=800) == pytest.approx(1.0, abs=0.02)
    # exact: bin masses times bin volumes sum to one
    assert model.log_prob_table().exp().sum().item() == pytest.approx(1.0, abs=1e-12)


def test_one_dimensional_histogram_matches_counting_by_hand():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 1, generator=gen, dtype=torch.float64)
    model = Histogram(HistogramConfig(shape=(1,), bins=20, alpha=0.0, support_sd=3.0)).double()
    fit(model, x, epochs=3)
    edges = model.low + torch.arange(21, dtype=torch.float64) * model.width
    by_hand = torch.histogram(x.squeeze(1), bins=edges.squeeze(1) if edges.dim() > 1 else edges).hist
    inside = (x.squeeze(1) >= edges[0]) & (x.squeeze(1) < edges[-1])
    density = by_hand / inside.sum() / model.width
    centres = (edges[:-1] + edges[1:]).unsqueeze(1) / 2
    assert torch.allclose(model.log_prob(centres).exp(), density)
    grid = torch.linspace(-5, 5, 20001, dtype=torch.float64).unsqueeze(1)
    assert float(torch.trapezoid(model.log_prob(grid).exp(), dx=1e-3 / 2)) == pytest.approx(1.0, abs=2e-3)


def test_histogram_is_zero_outside_its_grid_and_samples_inside():
    model = Histogram(HistogramConfig(shape=(2,), max_bins=16, support_sd=3.0)).double()
    fit(model, two_blobs(), epochs=2)
    far = torch.tensor([[100.0, 0.0]], dtype=torch.float64)
    assert model.log_prob(far).item() == -math.inf
    s = model.sample(500, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(model.log_prob(s)).all()


# -- Gaussians -----------------------------------------------------------------------------------
def test_gaussian_is_the_maximum_likelihood_fit_and_integrates_to_one():
    x = two_blobs()
    model = Gaussian(GaussianConfig(shape=(2,), ridge=0.0)).double()
    fit(model, x, epochs=2)  # repeated passes do not change the MLE
    mean, cov = model.mean_and_cov()
    assert torch.allclose(mean, x.mean(0)) and torch.allclose(cov, torch.cov(x.T, correction=0))
    reference = torch.distributions.MultivariateNormal(x.mean(0), torch.cov(x.T, correction=0))
    assert torch.allclose(model.log_prob(x), reference.log_prob(x))
    assert integral_2d(model, -6, 6) == pytest.approx(1.0, abs=1e-4)
    # any other mean or covariance has a lower likelihood
    worse = torch.distributions.MultivariateNormal(x.mean(0) + 0.05, torch.cov(x.T, correction=0) * 1.1)
    assert model.log_prob(x).sum() > worse.log_prob(x).sum()


def test_gmm_em_never_decreases_the_likelihood_and_beats_one_gaussian():
    x = two_blobs()
    for seed in range(3):
        model = GaussianMixture(GaussianMixtureConfig(shape=(2,), components=3, ridge=0.0)).double()
        lls = []
        for epoch in range(25):
            for b in x.split(100):
                model.update(b, generator=torch.Generator().manual_seed(seed), epoch=epoch)
            lls.append(model.log_prob(x).mean().item())
        assert all(b >= a - 1e-10 for a, b in itertools.pairwise(lls)), lls
    single = Gaussian(GaussianConfig(shape=(2,), ridge=0.0)).double()
    fit(single, x, epochs=1)
    assert lls[-1] > single.log_prob(x).mean().item() + 0.1
    assert integral_2d(model, -6, 6) == pytest.approx(1.0, abs=1e-3)


def test_gmm_one_epoch_through_batches_equals_one_full_batch_em_step():
    x = two_blobs()
    a = GaussianMixture(GaussianMixtureConfig(shape=(2,), components=2)).double()
    b = GaussianMixture(GaussianMixtureConfig(shape=(2,), components=2)).double()
    for model, batch in ((a, 600), (b, 50)):
        model.update(x[:600], generator=torch.Generator().manual_seed(0), epoch=0)  # same initialisation
        for part in x.split(batch):
            model.update(part, epoch=1)
    assert torch.allclose(a.means, b.means) and torch.allclose(a.covs, b.covs)
    assert torch.allclose(a.log_weights, b.log_weights)


def test_gmm_trains_through_the_engine_with_one_em_step_per_epoch(tmp_path):
    model = GaussianMixture(GaussianMixtureConfig(shape=(2,), components=8))
    untaught.train(model, "gaussians", epochs=4, batch_size=5000, out=tmp_path / "run", **QUIET)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert model.epoch.item() == 3
    one = Gaussian(GaussianConfig(shape=(2,)))
    untaught.train(one, "gaussians", epochs=1, batch_size=5000, out=tmp_path / "one", **QUIET)
    single = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert metrics["test_nll_nats"] < single["test_nll_nats"] - 0.3
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["command"] and config["created"]  # the leaderboard shows them


@pytest.mark.parametrize(
    "make",
    [
        lambda: GaussianConfig(shape=(1, 2, 2), levels=2),
        lambda: GaussianMixtureConfig(shape=(2,), components=0),
        lambda: HistogramConfig(shape=(3,)),
    ],
)
def test_bad_configurations_are_refused_with_the_argument_named(make):
    with pytest.raises(ValueError, match=r"shape|components"):
        make()

"""VAE and IWAE on an enumerable toy: the bounds lie below the exact log-likelihood (computed by
quadrature over a 1-D latent), L_1 is the ELBO, L_k does not fall as k grows; likelihoods normalise;
bad input gives specific errors."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch

import untaught
from untaught.cli import main
from untaught.models.latent import IWAE, VAE, ConvVAE, ConvVAEConfig, IWAEConfig, VAEConfig, likelihoods


def toy_vae(seed: int = 0, **kw) -> VAE:
    torch.manual_seed(seed)
    return VAE(VAEConfig(shape=(1, 2, 2), levels=2, latent=1, hidden=(6,), **kw)).double()


def all_images() -> torch.Tensor:
    return torch.tensor(list(itertools.product((0, 1), repeat=4)), dtype=torch.uint8).view(16, 1, 2, 2)


def exact_log_prob(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """log p(x) = log ∫ p(x|z) N(z; 0, 1) dz by the trapezoid rule on [-10, 10] (1-D latent)."""
    z = torch.linspace(-10, 10, 20001, dtype=torch.float64).unsqueeze(1)
    params = model.decoder_params(z)  # [Z, C, H, W, 1]
    log_px = likelihoods.log_prob("bernoulli", params.unsqueeze(1), x, 2)  # [Z, B]
    log_joint = log_px - 0.5 * (z.pow(2) + math.log(2 * math.pi))
    w = torch.full((len(z), 1), 20 / 20000, dtype=torch.float64)
    w[0] = w[-1] = 10 / 20000
    return torch.logsumexp(log_joint + w.log(), 0)


def mean_bound(model: VAE, x: torch.Tensor, k: int, repeats: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
    """E[L_k] per image estimated from ``repeats`` independent draws (batched as repeated images),
    and the standard error of that estimate."""
    gen = torch.Generator().manual_seed(k)
    with torch.no_grad():
        values = model.iwae_bound(x.repeat(repeats, 1, 1, 1), k, gen).view(repeats, len(x))
    return values.mean(0), values.std(0) / math.sqrt(repeats)


def test_probabilities_of_the_toy_sum_to_one_so_the_exact_reference_is_right():
    model = toy_vae()
    assert torch.logsumexp(exact_log_prob(model, all_images()), 0).item() == pytest.approx(0.0, abs=1e-6)


def test_bounds_lie_below_the_exact_log_likelihood_and_tighten_with_k():
    x = all_images()
    for seed in range(3):
        model = toy_vae(seed)
        exact = exact_log_prob(model, x)
        bounds = [mean_bound(model, x, k) for k in (1, 2, 5, 20, 100)]
        for mean, se in bounds:  # below log p(x), up to 4 standard errors of the Monte-Carlo mean
            assert (mean <= exact + 4 * se).all()
        for (m1, s1), (m2, s2) in itertools.pairwise(bounds):
            assert (m2 >= m1 - 4 * (s1**2 + s2**2).sqrt()).all()
            assert m2.mean() >= m1.mean()  # averaged over the images too
        assert (bounds[-1][0] - bounds[0][0]).mean() > 0.02  # the untrained posterior is poor: k matters
        tight, se = mean_bound(model, x, 3000, repeats=8)
        assert ((tight - exact).abs() < 4 * se + 2e-3).all()


def test_l1_is_the_elbo_and_the_iwae_loss_at_k1_is_the_elbo_loss_in_expectation():
    x = all_images()
    model = toy_vae(1)
    # the ELBO in closed form: E_q log p(x|z) by quadrature against q, minus the analytic KL
    mu, log_var, _ = model.posterior(x)
    z = torch.linspace(-12, 12, 24001, dtype=torch.float64).view(-1, 1, 1)
    q = torch.distributions.Normal(mu.squeeze(1), (0.5 * log_var.squeeze(1)).exp())
    log_px = likelihoods.log_prob("bernoulli", model.decoder_params(z.view(-1, 1)).unsqueeze(1), x, 2)
    expected = torch.trapezoid(q.log_prob(z.squeeze(2)).exp() * log_px, dx=1e-3, dim=0)
    kl = 0.5 * (mu.pow(2) + log_var.exp() - 1 - log_var).sum(1)
    elbo = expected - kl
    mean, se = mean_bound(model, x, 1, repeats=20000)
    assert ((mean - elbo).abs() < 4 * se).all()
    elbo_model = toy_vae(1, objective="elbo", k=1)
    iwae_model = toy_vae(1, objective="iwae", k=1)
    big = x.repeat(4000, 1, 1, 1)
    a = elbo_model.loss(big, generator=torch.Generator().manual_seed(0))[0]
    b = iwae_model.loss(big, generator=torch.Generator().manual_seed(0))[0]
    assert a.item() == pytest.approx(b.item(), abs=0.02)
    assert a.item() == pytest.approx(-elbo.mean().item(), abs=0.02)


def test_chunking_over_samples_does_not_change_the_bound():
    x = all_images()
    wide = toy_vae(2, eval_rows=10_000)
    narrow = VAE(VAEConfig(shape=(1, 2, 2), levels=2, latent=1, hidden=(6,), eval_rows=1)).double()
    narrow.load_state_dict(wide.state_dict())
    # one image at a time: the same normal draws, one chunk of 12 samples against 12 chunks of one
    a = torch.cat([wide.iwae_bound(x[i : i + 1], 12, torch.Generator().manual_seed(i)) for i in range(16)])
    b = torch.cat([narrow.iwae_bound(x[i : i + 1], 12, torch.Generator().manual_seed(i)) for i in range(16)])
    assert torch.allclose(a, b, atol=1e-12)


@pytest.mark.parametrize("kind,levels", [("categorical", 5), ("logistic", 5), ("logistic", 256)])
def test_decoder_likelihoods_normalise_over_the_levels(kind, levels):
    gen = torch.Generator().manual_seed(0)
    p = likelihoods.params_per_pixel(kind, levels)
    params = torch.randn(1, 1, 1, 1, p, generator=gen, dtype=torch.float64) * 2
    values = torch.arange(levels, dtype=torch.uint8).view(levels, 1, 1, 1)
    total = torch.logsumexp(likelihoods.log_prob(kind, params.expand(levels, -1, -1, -1, -1), values, levels), 0)
    assert total.item() == pytest.approx(0.0, abs=1e-6)
    draws = likelihoods.sample(kind, params.expand(20000, -1, -1, -1, -1), levels, gen).flatten().long()
    freq = torch.bincount(draws, minlength=levels).double() / 20000
    probs = likelihoods.log_prob(kind, params.expand(levels, -1, -1, -1, -1), values, levels).exp()
    assert (freq - probs).abs().max() < 0.015


def test_iwae_training_beats_its_initial_bound_and_records_a_lower_bound(tmp_path):
    torch.manual_seed(0)
    model = IWAE(IWAEConfig(shape=(1, 8, 8), levels=17, latent=4, hidden=(32,), k=3, likelihood="categorical"))
    run = untaught.train(model, "digits", epochs=3, out=tmp_path / "run", progress=False, threads=1, samples=4)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test_nll_kind"] == "lower bound"
    assert metrics["test_nll_nats"] < 64 * math.log(17) - 20
    # untaught eval --iwae-k tightens it and records it for the leaderboard
    assert main(["eval", str(run.path), "--iwae-k", "50", "--threads", "1"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    (record,) = metrics["evaluations"]
    assert record["method"] == "iwae_k=50" and record["nll_kind"] == "lower bound"
    assert record["nll_nats"] < metrics["test_nll_nats"]
    assert main(["eval", str(run.path), "--iwae-k", "0"]) == 2
    assert main(["eval", str(run.path), "--ensemble", "3"]) == 2


def test_conv_vae_models_8_bit_images_with_the_discretised_logistic():
    torch.manual_seed(0)
    model = ConvVAE(ConvVAEConfig(shape=(1, 8, 8), levels=256, latent=3, channels=(4, 8))).double()
    assert model.kind == "logistic"
    x = torch.randint(256, (3, 1, 8, 8), dtype=torch.uint8)
    loss, _ = model.loss(x, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters())
    assert model.decode(model.encode(x)).shape == (3, 1, 8, 8)


@torch.no_grad()
def test_conv_decoder_has_a_bias_per_pixel_and_parameter():
    model = ConvVAE(ConvVAEConfig(shape=(1, 8, 8), levels=256, latent=3, channels=(4, 8))).double()
    bias = model.decoder[-1].bias
    assert bias.shape == (model.params_per_pixel, 8, 8)  # logistic mixture: P parameters per pixel
    for p in model.decoder.parameters():
        p.zero_()
    bias.copy_(torch.randn(bias.shape, dtype=bias.dtype))
    out = model.decoder_params(torch.randn(2, 3, dtype=torch.float64))  # [N, C, H, W, P]
    assert torch.equal(out[0], out[1]) and torch.equal(out[0, 0], bias.permute(1, 2, 0))
    plain = ConvVAE(ConvVAEConfig(shape=(1, 8, 8), levels=2, latent=3, channels=(4, 8), pixel_bias=False))
    assert sum(p.numel() for p in plain.parameters()) + 64 == sum(
        p.numel() for p in ConvVAE(ConvVAEConfig(shape=(1, 8, 8), levels=2, latent=3, channels=(4, 8))).parameters()
    )


def test_bad_input_is_refused_with_the_argument_named():
    with pytest.raises(ValueError, match="'bernoulli' models binary data, but the data have 256 levels"):
        VAEConfig(shape=(1, 28, 28), levels=256, likelihood="bernoulli")
    with pytest.raises(ValueError, match="binary data take 'bernoulli'"):
        VAEConfig(levels=2, likelihood="logistic")
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        IWAEConfig(k=0)
    with pytest.raises(ValueError, match="iwae_k must be"):
        VAEConfig(iwae_k=0)
    model = toy_vae()
    with pytest.raises(ValueError, match=r"k \(importance samples\) must be >= 1"):
        model.iwae_bound(all_images(), 0)
    with pytest.raises(ValueError, match="binary data"):
        model.log_prob(all_images() * 3)


def test_the_bernoulli_fast_path_equals_the_generic_likelihood():
    torch.manual_seed(0)
    model = VAE(VAEConfig(shape=(1, 4, 5), levels=2, latent=3, hidden=(7, 6))).double()
    x = torch.randint(2, (4, 1, 4, 5), dtype=torch.uint8)
    z = torch.randn(3, 4, 3, dtype=torch.float64)
    params = model.decoder_params(z.flatten(0, 1)).view(3, 4, 1, 4, 5, 1)
    assert torch.allclose(model.log_px(z, x), likelihoods.log_prob("bernoulli", params, x, 2), atol=1e-12)

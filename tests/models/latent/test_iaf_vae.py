"""IAF-VAE: the posterior flow inverts and its log|det| is the brute-force Jacobian's; every IAF
step is autoregressive; log q(z|x) is the change of variables from eps; on an enumerable toy with a
2-D latent (exact log p(x) by quadrature) ELBO <= L_k <= log p(x) with L_k -> log p(x); training
improves the bound; bad config values are named."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
from torch.func import jacrev

import untaught
from untaught.cli import main
from untaught.models.flows.autoregressive import MaskedAutoregressive
from untaught.models.latent import IAFVAE, VAE, IAFVAEConfig, VAEConfig, likelihoods


def toy(seed: int = 0, scale: float = 0.2, **kw) -> IAFVAE:
    """An IAF-VAE over binary 2x2 images with a 2-D latent, float64, its flow moved away from the
    identity it starts as (the MADE output layers start at zero)."""
    torch.manual_seed(seed)
    fields = dict(shape=(1, 2, 2), levels=2, latent=2, hidden=(8,), flow_hidden=(6,), flow_context=3) | kw
    model = IAFVAE(IAFVAEConfig(**fields)).double()
    with torch.no_grad():
        for p in model.posterior_flow.parameters():
            p.add_(scale * torch.randn_like(p))
    return model


def all_images() -> torch.Tensor:
    return torch.tensor(list(itertools.product((0, 1), repeat=4)), dtype=torch.uint8).view(16, 1, 2, 2)


def test_the_posterior_flow_inverts_and_its_log_determinant_is_the_brute_force_jacobians():
    model = toy(flow_steps=3)
    gen = torch.Generator().manual_seed(1)
    z0 = torch.randn(6, 2, generator=gen, dtype=torch.float64)
    h = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    z, ladj = model.posterior_flow.inverse(z0, h)  # the sampling direction z_0 -> z
    back, ladj_back = model.posterior_flow(z, h)
    assert torch.allclose(back, z0, atol=1e-10) and torch.allclose(ladj_back, -ladj, atol=1e-10)
    assert not torch.allclose(z, z0, atol=1e-3)  # the flow does something
    for n in range(6):
        jac = jacrev(lambda u, n=n: model.posterior_flow.inverse(u[None], h[n : n + 1])[0][0])(z0[n])
        assert torch.linalg.slogdet(jac).logabsdet.item() == pytest.approx(ladj[n].item(), abs=1e-10)
    # the encoder's context h steers the flow
    assert not torch.allclose(model.posterior_flow.inverse(z0, h + 1.0)[0], z, atol=1e-3)


def test_every_iaf_step_is_autoregressive_and_the_reversals_mix_the_order():
    model = toy(latent=4, flow_hidden=(12, 12), flow_steps=2, scale=0.4)
    gen = torch.Generator().manual_seed(2)
    points = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    h = torch.randn(1, 3, generator=gen, dtype=torch.float64)
    steps = [m for m in model.posterior_flow.modules() if isinstance(m, MaskedAutoregressive)]
    assert len(steps) == 2
    off_diagonal = ~torch.eye(4, dtype=torch.bool)
    for step in steps:
        # one IAF step's sampling pass is the MADE layer's forward: output d reads the inputs before d
        later_or_self = step.order[None, :] >= step.order[:, None]  # [output, input]
        reach = torch.zeros(4, 4, dtype=torch.float64)
        for u in points:
            jac = jacrev(lambda v, step=step: step(v[None], h)[0][0])(u)
            assert (jac[later_or_self & off_diagonal] == 0).all()
            assert torch.allclose(jac.diagonal(), torch.exp(-step.params(u[None], h)[1][0]), atol=1e-12)
            reach = reach + jac.abs()
        assert (reach[~later_or_self] > 1e-6).all()  # and does read every one of them
    # two steps with a reversal between them: z depends on every z_0 coordinate
    whole = sum(jacrev(lambda v: model.posterior_flow.inverse(v[None], h)[0][0])(u).abs() for u in points)
    assert (whole > 1e-6).all()


def test_log_q_is_log_n_eps_minus_the_log_determinant_of_eps_to_z():
    model = toy()
    mu, log_var, h = model.posterior(all_images()[:5])
    eps = torch.randn(3, 5, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    z, log_qz = model.reparameterize(mu, log_var, h, eps)
    for i, b in itertools.product(range(3), range(5)):

        def draw(e, b=b):
            return model.reparameterize(mu[b : b + 1], log_var[b : b + 1], h[b : b + 1], e.view(1, 1, 2))[0].view(2)

        log_det = torch.linalg.slogdet(jacrev(draw)(eps[i, b])).logabsdet
        log_n = -0.5 * (eps[i, b].pow(2).sum() + 2 * math.log(2 * math.pi))
        assert log_qz[i, b].item() == pytest.approx((log_n - log_det).item(), abs=1e-10)
        assert torch.allclose(draw(eps[i, b]), z[i, b], atol=1e-12)


def exact_log_prob(model: IAFVAE, x: torch.Tensor) -> torch.Tensor:
    """log p(x) = log ∫ p(x|z) N(z; 0, I) dz over the 2-D latent: a Riemann sum on [-8, 8]^2 with
    spacing 0.04 (the integrand is smooth and negligible beyond the box)."""
    axis = torch.linspace(-8, 8, 401, dtype=torch.float64)
    z = torch.cartesian_prod(axis, axis)  # [Z, 2]
    log_px = likelihoods.log_prob("bernoulli", model.decoder_params(z).unsqueeze(1), x, 2)  # [Z, B]
    log_joint = log_px - 0.5 * (z.pow(2).sum(1, keepdim=True) + 2 * math.log(2 * math.pi))
    return torch.logsumexp(log_joint, 0) + 2 * math.log(16 / 400)


def mean_bound(model: IAFVAE, x: torch.Tensor, k: int, repeats: int) -> tuple[torch.Tensor, torch.Tensor]:
    """E[L_k] per image from ``repeats`` independent draws, and its standard error."""
    with torch.no_grad():
        values = model.iwae_bound(x.repeat(repeats, 1, 1, 1), k, torch.Generator().manual_seed(k))
    values = values.view(repeats, len(x))
    return values.mean(0), values.std(0) / math.sqrt(repeats)


def test_elbo_below_iwae_below_the_exact_log_likelihood_and_iwae_approaches_it():
    x = all_images()
    model = toy(seed=1)
    exact = exact_log_prob(model, x)
    assert torch.logsumexp(exact, 0).item() == pytest.approx(0.0, abs=1e-6)  # the reference normalises
    # the ELBO: E_q[log p(x|z) + log p(z) - log q(z|x)] = E[L_1], here from 20,000 draws per image
    elbo, elbo_se = mean_bound(model, x, 1, repeats=20000)
    bounds = [mean_bound(model, x, k, repeats=1000) for k in (2, 10, 100)]
    previous, previous_se = elbo, elbo_se
    for mean, se in bounds:
        assert (mean <= exact + 4 * se).all()
        assert (mean >= previous - 4 * (se**2 + previous_se**2).sqrt()).all()
        previous, previous_se = mean, se
    assert (bounds[-1][0] - elbo).mean() > 0.05  # the posterior is imperfect: k matters
    assert (exact - elbo).min() > 0  # the ELBO is strictly below log p(x)
    tight, se = mean_bound(model, x, 5000, repeats=4)
    assert ((tight - exact).abs() < 4 * se + 2e-3).all()


def test_training_improves_the_bound_and_eval_records_the_iwae_bound(tmp_path):
    torch.manual_seed(0)
    config = IAFVAEConfig(
        shape=(1, 8, 8), levels=17, latent=4, hidden=(32,), flow_hidden=(16,), flow_context=4, iwae_k=5
    )
    model = IAFVAE(config)
    x = untaught.data.load_split("digits", "test").x
    before = model.log_prob(x).mean().item()
    run = untaught.train(model, "digits", epochs=3, out=tmp_path / "run", progress=False, threads=1, samples=4)
    after = run.model.log_prob(x).mean().item()
    assert after > before + 20  # nats per image
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test_nll_kind"] == "lower bound"
    assert main(["eval", str(run.path), "--iwae-k", "40", "--threads", "1"]) == 0
    (record,) = json.loads((tmp_path / "run" / "metrics.json").read_text())["evaluations"]
    assert record["method"] == "iwae_k=40" and record["nll_kind"] == "lower bound"
    assert record["nll_nats"] < metrics["test_nll_nats"]


def test_the_conv_network_feeds_the_flow_and_gradients_reach_every_step():
    torch.manual_seed(0)
    model = IAFVAE(IAFVAEConfig(shape=(1, 8, 8), levels=17, latent=3, network="conv", channels=(4,), flow_hidden=(8,)))
    loss, metrics = model.loss(torch.randint(17, (4, 1, 8, 8), dtype=torch.uint8), generator=torch.Generator())
    loss.backward()
    steps = [m for m in model.posterior_flow.modules() if isinstance(m, MaskedAutoregressive)]
    assert all(s.out.weight.grad.abs().sum() > 0 and s.context.weight.grad is not None for s in steps)
    assert torch.isfinite(metrics["kl"])


def test_a_plain_vae_has_no_flow_and_encodes_its_posterior_mean():
    torch.manual_seed(0)
    model = VAE(VAEConfig(shape=(1, 2, 2), levels=2, latent=2, hidden=(8,)))
    assert model.posterior_flow is None and not any("flow" in k for k in model.state_dict())
    assert torch.equal(model.encode(all_images()), model.posterior(all_images())[0])


def test_bad_flow_settings_are_refused_with_the_argument_named():
    with pytest.raises(ValueError, match="flow_steps must be an integer >= 0"):
        VAEConfig(flow_steps=-1)
    with pytest.raises(ValueError, match="flow_context must be 0 when flow_steps is 0"):
        VAEConfig(flow_context=4)
    with pytest.raises(ValueError, match="flow_hidden must be one or more positive layer sizes; got \\(\\)"):
        VAEConfig(flow_steps=1, flow_hidden=())
    with pytest.raises(ValueError, match="flow_steps must be >= 1 for iaf-vae"):
        IAFVAEConfig(flow_steps=0)
    with pytest.raises(ValueError, match="flow_context must be an integer >= 0; got -1"):
        IAFVAEConfig(flow_context=-1)

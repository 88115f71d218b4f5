"""Binary RBM: energies and free energy against enumeration, exact and AIS log Z, CD statistics against
their analytic expectations, Gibbs samples against exact probabilities, training through the engine."""

from __future__ import annotations

import copy
import itertools
import math

import pytest
import torch
from engine_runs import assert_same_state, whole_and_resumed

from untaught.models.boltzmann import RBM, RBMConfig, ais_log_partition, beta_schedule, exact_log_partition

QUIET = dict(progress=False, threads=1, samples=4)


def states(n: int) -> torch.Tensor:
    """All 2^n binary vectors, float64 [2^n, n]."""
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=torch.float64)


def tiny_rbm(d: int = 5, h: int = 4, std: float = 0.8, seed: int = 0, **kw) -> RBM:
    torch.manual_seed(seed)
    model = RBM(RBMConfig(shape=(1, 1, d), hidden=h, init_std=std, **kw)).double()
    with torch.no_grad():
        model.visible_bias.normal_(0, 0.5)
        model.hidden_bias.normal_(0, 0.5)
    return model


def joint(model: RBM) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every (v, h) pair with its exact log-probability: v [N, D], h [N, H], log p [N]."""
    d, h = model.config.dims, model.config.hidden
    pairs = torch.tensor(list(itertools.product((0.0, 1.0), repeat=d + h)), dtype=torch.float64)
    v, hid = pairs[:, :d], pairs[:, d:]
    log_unnorm = -model.energy(v, hid)
    return v, hid, log_unnorm - torch.logsumexp(log_unnorm, 0)


def test_free_energy_is_the_marginalised_energy():
    model = tiny_rbm()
    v, hs = states(5), states(4)
    brute = -torch.logsumexp(-model.energy(v.repeat_interleave(16, 0), hs.repeat(32, 1)).view(32, 16), 1)
    torch.testing.assert_close(model.free_energy(v), brute, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("d", "h"), [(5, 4), (3, 7)])  # enumerates the hidden layer, then the visible one
def test_exact_log_partition_and_normalisation(d, h):
    model = tiny_rbm(d, h)
    v, hid, _ = joint(model)
    brute = torch.logsumexp(-model.energy(v, hid), 0).detach()
    assert model.log_partition("exact").log_z == pytest.approx(brute.item(), abs=1e-10)
    assert model.log_prob_kind == "exact"
    x = states(d).to(torch.uint8).view(-1, 1, 1, d)
    assert float(torch.logsumexp(model.log_prob(x), 0)) == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("base", ["uniform", "data"])
def test_ais_log_z_lies_within_its_reported_spread_of_the_exact_value(base):
    model = tiny_rbm(d=14, h=10, std=1.0)
    exact = exact_log_partition(model.weight, model.visible_bias, model.hidden_bias)
    base_bias = None if base == "uniform" else model.visible_bias.detach() * 0.5
    gen = torch.Generator().manual_seed(1)
    est = ais_log_partition(
        model.weight, model.visible_bias, model.hidden_bias, base_bias=base_bias, chains=200, betas=500, generator=gen
    )
    assert est.low <= exact <= est.high, str(est)
    assert est.stderr < 0.05 and est.high - est.low < 0.5  # the spread is informative, not vacuous
    assert est.chains == 200 and est.betas == 500 and est.method == "ais"


def test_ais_with_more_temperatures_gets_closer():
    model = tiny_rbm(d=14, h=10, std=1.5, seed=3)
    exact = exact_log_partition(model.weight, model.visible_bias, model.hidden_bias)
    errors = []
    for betas in (10, 3000):
        est = ais_log_partition(
            model.weight, model.visible_bias, model.hidden_bias, chains=100, betas=betas,
            generator=torch.Generator().manual_seed(0),
        )  # fmt: skip
        errors.append(abs(est.log_z - exact))
    assert errors[1] < errors[0] and errors[1] < 0.05


def test_beta_schedule_is_monotone_from_zero_to_one():
    b = beta_schedule(1000)
    assert len(b) == 1001 and b[0] == 0 and b[-1] == 1 and bool((b.diff() > 0).all())
    assert int((b < 0.9).sum()) == pytest.approx(1000 * 4500 / 14500, abs=2)
    with pytest.raises(ValueError, match="at least 3 temperatures; got 2"):
        beta_schedule(2)


def test_likelihood_gradient_is_the_difference_of_data_and_model_expectations():
    """Autograd of the exact mean log-likelihood equals ⟨v hᵀ⟩_data - ⟨v hᵀ⟩_model computed by enumeration."""
    model = tiny_rbm()
    data = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 1, 0, 1], [1, 1, 1, 0, 0]], dtype=torch.float64)
    log_z = torch.logsumexp(-model.free_energy(states(5)), 0)
    (-model.free_energy(data) - log_z).mean().backward()
    v, hid, log_p = joint(model)
    p = log_p.exp()
    ph = model.hidden_probs(data)
    with torch.no_grad():
        expected = data.T @ ph / 3 - (v * p[:, None]).T @ hid
        torch.testing.assert_close(model.weight.grad, expected)
        torch.testing.assert_close(model.hidden_bias.grad, ph.mean(0) - p @ hid)
        torch.testing.assert_close(model.visible_bias.grad, data.mean(0) - p @ v)


def test_cd1_statistics_match_their_analytic_expectation():
    """The mean CD-1 estimate over many draws equals its expectation under the Gibbs kernel, by enumeration."""
    model = tiny_rbm(d=4, h=3, persistent=False, k=1)
    data = torch.tensor([[1, 0, 1, 1], [0, 1, 1, 0]], dtype=torch.float64)
    # E[neg] = Σ_h p(h|v) Σ_v' p(v'|h) v' p(h'=1|v')ᵀ, averaged over the data
    vs, hs = states(4), states(3)
    ph = model.hidden_probs(data)  # [2, 3]
    p_h = torch.prod(torch.where(hs[None] == 1, ph[:, None], 1 - ph[:, None]), -1)  # [2, 8]
    pv = model.visible_probs(hs)  # [8, 4]
    p_v = torch.prod(torch.where(vs[None] == 1, pv[:, None], 1 - pv[:, None]), -1)  # [8, 16]
    p_neg = (p_h @ p_v).mean(0)  # [16]: the distribution of v' after one step, averaged over the data
    neg_w = (vs * p_neg[:, None]).T @ model.hidden_probs(vs)
    expected_w = data.T @ ph / 2 - neg_w
    gen = torch.Generator().manual_seed(0)
    reps = 4000
    estimate = model.statistics(data.repeat(reps, 1), gen).grads["weight"].detach()
    # each of the 2 * reps rows is an independent CD-1 draw: the mean is within 5 standard errors
    torch.testing.assert_close(estimate, expected_w, rtol=0, atol=5 * 0.5 / math.sqrt(2 * reps))
    assert estimate.sub(expected_w).abs().max() > 0  # the estimate is stochastic, not the formula


def test_persistent_chains_estimate_the_model_expectation():
    model = tiny_rbm(d=4, h=3, chains=20_000, k=1)
    v, hid, log_p = joint(model)
    model_w = (v * log_p.exp()[:, None]).T @ hid
    data = torch.zeros(1, 4, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    for _ in range(30):  # burn in: the chains advance at every call
        model.statistics(data, gen)
    grads, neg, _, _ = model.statistics(data, gen)
    assert neg.shape == (20_000, 4) and torch.equal(model.chain, neg)
    torch.testing.assert_close(-grads["weight"], model_w, rtol=0, atol=0.02)


def test_gibbs_samples_follow_the_model():
    model = tiny_rbm(d=4, h=3, sample_steps=30)
    x = model.sample(20_000, generator=torch.Generator().manual_seed(0)).view(-1, 4)
    codes = (x.long() * torch.tensor([8, 4, 2, 1])).sum(1)
    freq = torch.bincount(codes, minlength=16).double() / len(codes)
    exact = model.log_prob(states(4).to(torch.uint8).view(-1, 1, 1, 4)).exp()
    assert float((freq - exact).abs().sum()) / 2 < 0.02  # total variation distance


def test_cached_log_z_follows_the_weights():
    model = tiny_rbm(d=24, h=24, std=0.3, log_z="ais", ais_betas=200, ais_chains=50)
    assert model.log_prob_kind == "estimate"
    x = torch.randint(0, 2, (3, 1, 1, 24), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    first = model.log_prob(x)
    torch.testing.assert_close(model.log_prob(x), first)  # cached: the same estimate
    with torch.no_grad():
        model.hidden_bias.add_(1.0)  # an in-place change must invalidate the cache
    assert not torch.allclose(model.log_prob(x), first)


def test_update_moves_towards_the_data_and_keeps_state_in_buffers():
    model = tiny_rbm(d=6, h=5, std=0.1, chains=100, learning_rate=0.1, momentum_warmup=0)
    data = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], dtype=torch.uint8).repeat(8, 1).view(-1, 1, 1, 6)
    assert float(model.log_prob(data[:2]).exp().sum()) < 0.1
    gen = torch.Generator().manual_seed(0)
    for step in range(300):
        metrics = model.update(data, step=step, generator=gen, reduce=lambda t: t)
    assert set(metrics) == {"free_energy_gap"}  # step 299: no reconstruction error
    assert set(model.update(data, step=300, generator=gen, reduce=lambda t: t)) == {"recon", "free_energy_gap"}
    mass = model.log_prob(data[:2]).exp()
    assert float(mass.sum()) > 0.9 and float(mass.min()) > 0.3  # the two patterns hold the mass, both of them
    buffers = dict(model.named_buffers())
    assert {"chain", "chain_ready", "velocity_weight", "data_mean"} <= set(buffers)
    torch.testing.assert_close(model.data_mean, torch.full((6,), 0.5, dtype=torch.float64))


def test_sparsity_target_pulls_hidden_activity_down():
    data = torch.randint(0, 2, (32, 1, 1, 8), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    activity = {}
    for target in (None, 0.05):
        model = tiny_rbm(d=8, h=6, std=0.1, sparsity_target=target, sparsity_cost=1.0)
        gen = torch.Generator().manual_seed(0)
        for step in range(200):
            model.update(data, step=step, generator=gen, reduce=lambda t: t)
        activity[target] = float(model.encode(data).mean())
    assert activity[0.05] < 0.5 * activity[None]


def test_two_ranks_with_an_averaging_reduce_take_the_single_process_step():
    """DDP in miniature: ranks holding halves of a batch, whose ``reduce`` averages their statistics,
    end with the weights of one process that saw the whole batch (PCD chains are the same on every rank)."""
    full = torch.randint(0, 2, (8, 1, 1, 6), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    one, rank0, rank1 = (tiny_rbm(d=6, h=4, chains=5) for _ in range(3))

    def step(model, x, reduce):
        model.update(x, step=0, generator=torch.Generator().manual_seed(7), reduce=reduce)

    def sent(model, x):
        box = []
        step(copy.deepcopy(model), x, lambda t: box.append(t) or t)
        return box[0]

    step(one, full, lambda t: t)
    s0, s1 = sent(rank0, full[0::2]), sent(rank1, full[1::2])
    step(rank0, full[0::2], lambda t: (t + s1) / 2)
    step(rank1, full[1::2], lambda t: (s0 + t) / 2)
    for name, p in one.state_dict().items():
        assert torch.equal(rank0.state_dict()[name], rank1.state_dict()[name]), name
        torch.testing.assert_close(rank0.state_dict()[name], p, rtol=0, atol=1e-12, msg=name)
    assert not torch.equal(rank0.weight, tiny_rbm(d=6, h=4, chains=5).weight)  # a step was taken


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match=r"levels must be 2 \(train with --binarize\); got 17"):
        RBMConfig(shape=(1, 8, 8), levels=17)
    with pytest.raises(ValueError, match=r"hidden must be an integer >= 1; got 0"):
        RBMConfig(hidden=0)
    with pytest.raises(ValueError, match="must hold binary data"):
        tiny_rbm().log_prob(torch.full((1, 1, 1, 5), 2, dtype=torch.uint8))


def test_trains_through_the_engine_and_resumes_exactly(tmp_path):
    def model():
        torch.manual_seed(0)
        return RBM(RBMConfig(shape=(1, 8, 8), hidden=12, chains=32))

    opts = dict(binarize="static", batch_size=50, **QUIET)
    whole, resumed = whole_and_resumed(tmp_path, model, "digits", epochs=3, first=1, select="last", **opts)
    assert whole.metrics["test_nll_kind"] == "exact"
    assert whole.metrics["test_nll_nats"] < 64 * math.log(2) - 10  # far better than the uniform model
    assert_same_state(whole.model, resumed.model)  # weights, velocities and the persistent chains
    assert bool(whole.model.chain_ready)

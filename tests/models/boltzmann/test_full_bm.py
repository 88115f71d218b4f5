"""Fully connected Boltzmann machine: exact log Z and posteriors against brute force over the joint
states, the RBM as its special case, sequential Gibbs sampling against the exact distribution (and
parallel updates failing the same test), the learning rule against the exact gradient, training."""

from __future__ import annotations

import copy

import pytest
import torch
from engine_runs import assert_same_state, whole_and_resumed
from scipy import stats

from untaught.models.boltzmann import RBM, RBMConfig, exact_log_partition
from untaught.models.boltzmann.full import FullBM, FullBMConfig, binary_states
from untaught.models.boltzmann.units import bernoulli

QUIET = dict(progress=False, threads=1, samples=4)


def tiny(d: int = 3, h: int = 2, std: float = 1.0, seed: int = 0, **kw) -> FullBM:
    torch.manual_seed(seed)
    model = FullBM(FullBMConfig(shape=(1, 1, d), hidden=h, init_std=std, **kw)).double()
    with torch.no_grad():
        model.bias.normal_(0, 0.5)
    return model


def joint_log_probs(model: FullBM) -> torch.Tensor:
    """log p(s) of every joint state (order of binary_states(N)) from the energy alone, [2^N]."""
    neg_energy = -model.energy(binary_states(model.units))
    return neg_energy - torch.logsumexp(neg_energy, 0)


def codes(s: torch.Tensor) -> torch.Tensor:
    """Binary rows [B, n] -> their index in binary_states(n) (first unit most significant)."""
    n = s.shape[1]
    return (s.long() * 2 ** torch.arange(n - 1, -1, -1)).sum(1)


def chi_square(samples: torch.Tensor, p: torch.Tensor) -> tuple[float, float]:
    """Pearson's statistic of the states' counts against probabilities p, and its p-value."""
    counts = torch.bincount(codes(samples), minlength=len(p)).double()
    expected = len(samples) * p
    statistic = float(((counts - expected) ** 2 / expected).sum())
    return statistic, float(stats.chi2.sf(statistic, len(p) - 1))


@pytest.mark.parametrize(("d", "h"), [(3, 2), (4, 3), (5, 0)])
def test_log_z_and_marginals_equal_brute_force_over_joint_states(d, h):
    model = tiny(d, h)
    everything = binary_states(d + h)
    neg_energy = -model.energy(everything)
    assert model.log_partition() == pytest.approx(float(torch.logsumexp(neg_energy, 0).detach()), abs=1e-10)
    # log Σ_h exp(-E(v, h)) for every v: group the joint states by their visible part
    by_visible = torch.logsumexp(neg_energy.view(2**d, 2**h), 1)
    torch.testing.assert_close(model.unnormalised_log_prob(binary_states(d)), by_visible)
    x = binary_states(d).to(torch.uint8).view(-1, 1, 1, d)
    assert float(torch.logsumexp(model.log_prob(x), 0)) == pytest.approx(0.0, abs=1e-10)  # normalised


def test_without_lateral_weights_it_is_the_rbm():
    d, h = 5, 4
    model = tiny(d, h)
    with torch.no_grad():
        model.weight[:d, :d] = 0
        model.weight[d:, d:] = 0
    rbm = RBM(RBMConfig(shape=(1, 1, d), hidden=h)).double()
    with torch.no_grad():
        rbm.weight.copy_(model.weight[:d, d:])
        rbm.visible_bias.copy_(model.bias[:d])
        rbm.hidden_bias.copy_(model.bias[d:])
    assert model.log_partition() == pytest.approx(exact_log_partition(rbm.weight, rbm.visible_bias, rbm.hidden_bias))
    x = binary_states(d).to(torch.uint8).view(-1, 1, 1, d)
    torch.testing.assert_close(model.log_prob(x), rbm.log_prob(x))
    torch.testing.assert_close(model.encode(x), rbm.encode(x))  # the factorial posterior, recovered by enumeration


def test_posterior_and_encode_are_exact():
    d, h = 3, 3
    model = tiny(d, h)
    log_joint = joint_log_probs(model).view(2**d, 2**h)
    exact = log_joint - torch.logsumexp(log_joint, 1, keepdim=True)
    torch.testing.assert_close(model.posterior(binary_states(d)), exact)
    marginals = exact.exp() @ binary_states(h)
    torch.testing.assert_close(model.encode(binary_states(d).to(torch.uint8).view(-1, 1, 1, d)), marginals)


def test_sequential_gibbs_matches_the_exact_joint_and_parallel_updates_do_not():
    model = tiny(3, 2)
    exact = joint_log_probs(model).exp().detach()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        start = bernoulli(torch.full((20_000, 5), 0.5, dtype=torch.float64), gen)
        sequential = model.gibbs(start, 30, gen)
        parallel = start
        for _ in range(30):  # every unit at once from its conditional: the RBM's block update, wrong here
            parallel = bernoulli(model.conditionals(parallel), gen)
    statistic, p_value = chi_square(sequential, exact)
    assert p_value > 1e-3, (statistic, p_value)  # 31 degrees of freedom
    statistic, p_value = chi_square(parallel, exact)
    assert p_value < 1e-12, (statistic, p_value)  # the same test has the power to reject a wrong sampler


def test_samples_follow_the_exact_visible_distribution():
    model = tiny(4, 2, sample_steps=30)
    x = model.sample(20_000, generator=torch.Generator().manual_seed(1)).view(-1, 4)
    exact = model.log_prob(binary_states(4).to(torch.uint8).view(-1, 1, 1, 4)).exp()
    freq = torch.bincount(codes(x), minlength=16).double() / len(x)
    assert float((freq - exact).abs().sum()) / 2 < 0.02  # total variation
    statistic, p_value = chi_square(x, exact)
    assert p_value > 1e-3, (statistic, p_value)


def test_clamped_gibbs_samples_the_exact_posterior():
    d, h = 2, 4
    model = tiny(d, h)
    v = torch.tensor([[1.0, 0.0]], dtype=torch.float64).expand(20_000, d)
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        start = torch.cat([v, bernoulli(torch.full((20_000, h), 0.5, dtype=torch.float64), gen)], 1)
        s = model.gibbs(start, 30, gen, clamp=d)
    assert torch.equal(s[:, :d], v)  # the visibles stay clamped
    statistic, p_value = chi_square(s[:, d:], model.posterior(v[:1])[0].exp().detach())
    assert p_value > 1e-3, (statistic, p_value)


def test_learning_rule_estimates_the_exact_log_likelihood_gradient():
    d, h = 3, 2
    model = tiny(d, h, std=0.7, chains=20_000, k=30, positive_sweeps=20)
    data = torch.tensor([[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=torch.float64).repeat(5_000, 1)
    # exact: ∂/∂w_ij of mean log p(v) (w_ij = w_ji one parameter) is ⟨s_i s_j⟩_data - ⟨s_i s_j⟩_model
    log_z = torch.logsumexp(-model.energy(binary_states(d + h)), 0)
    (model.unnormalised_log_prob(data[:4]).mean() - log_z).backward()
    weight_grad, bias_grad = model.weight.grad, model.bias.grad
    with torch.no_grad():
        grads = model.statistics(data, torch.Generator().manual_seed(3))
    off_diagonal = ~torch.eye(d + h, dtype=torch.bool)
    exact = (weight_grad + weight_grad.T)[off_diagonal]
    assert float(exact.abs().max()) > 0.3  # the tolerance below is small against the gradient
    torch.testing.assert_close(grads["weight"][off_diagonal], exact, atol=0.015, rtol=0)
    torch.testing.assert_close(grads["bias"], bias_grad, atol=0.015, rtol=0)
    assert torch.equal(grads["weight"].diagonal(), torch.zeros(d + h, dtype=torch.float64))


def test_training_raises_the_training_log_likelihood_and_keeps_the_weights_symmetric():
    model = tiny(6, 3, std=0.01, learning_rate=0.1, chains=100)
    patterns = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0]], dtype=torch.uint8)
    data = patterns.repeat(10, 1).view(-1, 1, 1, 6)
    before = float(model.log_prob(data).mean())
    gen = torch.Generator().manual_seed(0)
    for step in range(300):
        metrics = model.update(data, step=step, generator=gen, reduce=lambda t: t)
    after = float(model.log_prob(data).mean())
    assert before == pytest.approx(6 * -0.6931, abs=0.1)  # near uniform at the start
    assert after > before + 2.0, (before, after)  # the optimum, log(1/3), is 3.06 nats above uniform
    assert set(metrics) == {"stat_gap"}
    torch.testing.assert_close(model.weight, model.weight.T, rtol=0, atol=0)
    assert torch.equal(model.weight.diagonal(), torch.zeros(9, dtype=torch.float64))
    assert bool(model.chain_ready) and model.chain.shape == (100, 9)


def test_two_ranks_with_an_averaging_reduce_stay_identical():
    """DDP in miniature: ranks with different halves (even of different sizes) of a batch keep the same
    weights and persistent chains, because the chains advance before the data-dependent sampling."""
    full = torch.randint(0, 2, (9, 1, 1, 4), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    rank0, rank1 = tiny(4, 2, chains=6), tiny(4, 2, chains=6)

    def step(model, x, reduce):
        model.update(x, step=0, generator=torch.Generator().manual_seed(7), reduce=reduce)

    def sent(model, x):
        box = []
        step(copy.deepcopy(model), x, lambda t: box.append(t) or t)
        return box[0]

    s0, s1 = sent(rank0, full[:5]), sent(rank1, full[5:])
    step(rank0, full[:5], lambda t: (t + s1) / 2)
    step(rank1, full[5:], lambda t: (s0 + t) / 2)
    for name, value in rank0.state_dict().items():
        assert torch.equal(value, rank1.state_dict()[name]), name
    assert not torch.equal(rank0.weight, tiny(4, 2, chains=6).weight)  # a step was taken


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match=r"levels must be 2 \(train with --binarize\); got 17"):
        FullBMConfig(shape=(1, 2, 2), levels=17)
    with pytest.raises(ValueError, match=r"hidden must be an integer >= 0; got -1"):
        FullBMConfig(hidden=-1)
    with pytest.raises(ValueError, match=r"visible \+ hidden units must be at most 24 .* got 16 \+ 9 = 25"):
        FullBMConfig(shape=(1, 4, 4), hidden=9)
    with pytest.raises(ValueError, match=r"positive_sweeps must be an integer >= 1; got 0"):
        FullBMConfig(positive_sweeps=0)
    with pytest.raises(ValueError, match="must hold binary data"):
        tiny().log_prob(torch.full((1, 1, 1, 3), 2, dtype=torch.uint8))


def test_trains_through_the_engine_and_resumes_exactly(tmp_path):
    def model():
        torch.manual_seed(0)
        return FullBM(FullBMConfig(shape=(1, 4, 4), hidden=2, chains=20, k=2, positive_sweeps=2))

    opts = dict(batch_size=500, **QUIET)
    whole, resumed = whole_and_resumed(tmp_path, model, "digit-patches", epochs=2, first=1, select="last", **opts)
    assert whole.metrics["test_nll_kind"] == "exact"
    assert whole.metrics["test_nll_nats"] < 16 * 0.6931 - 1.5  # far better than the uniform model
    assert_same_state(whole.model, resumed.model)  # weights, velocities and the persistent chains

"""The shared likelihoods: the discretized logistic mixture sums to one over its levels (also at
extreme parameters), its log_prob agrees with its level table, and CDF-inversion sampling follows
the probabilities for every likelihood."""

from __future__ import annotations

import pytest
import torch

from untaught.distributions import discrete, logistic_mixture


@pytest.mark.parametrize("levels", [2, 5, 256])
def test_logistic_mixture_sums_to_one_over_its_levels(levels):
    gen = torch.Generator().manual_seed(0)
    params = torch.randn(50, 3 * 4, generator=gen, dtype=torch.float64) * 3
    table = logistic_mixture.level_log_probs(params, levels)  # [50, levels]
    assert torch.allclose(torch.logsumexp(table, -1), torch.zeros(50, dtype=torch.float64), atol=1e-10)
    x = torch.randint(levels, (50,), generator=gen)
    direct = logistic_mixture.log_prob(params, x, levels)
    assert torch.allclose(direct, table.gather(1, x[:, None]).squeeze(1), atol=1e-12)


def test_logistic_mixture_is_finite_at_extreme_parameters():
    levels = 256
    params = torch.tensor([[0.0, 0.9, -7.0], [0.0, -1.05, -30.0], [0.0, 5.0, 4.0]], dtype=torch.float64)
    table = logistic_mixture.level_log_probs(params, levels)
    assert torch.isfinite(table).all()
    assert torch.allclose(torch.logsumexp(table, -1), torch.zeros(3, dtype=torch.float64), atol=1e-10)
    assert table[1, 0] > -1e-6  # a sharp logistic below -1: all mass on level 0
    with pytest.raises(ValueError, match="3 K values"):
        logistic_mixture.level_log_probs(torch.zeros(2, 4), levels)


@pytest.mark.parametrize(
    ("name", "levels", "size"),
    [("bernoulli", 2, 1), ("categorical", 5, 5), ("logistic-mixture", 6, 6)],
)
def test_cdf_inversion_sampling_follows_the_probabilities(name, levels, size):
    gen = torch.Generator().manual_seed(1)
    params = torch.randn(size, generator=gen, dtype=torch.float64)
    n = 40_000
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    lik = logistic_mixture if name == "logistic-mixture" else discrete
    if lik is discrete:
        probs = discrete.probabilities(params, levels)
    else:
        probs = logistic_mixture.level_log_probs(params, levels).exp()
    x = lik.sample(params.expand(n, -1), u, levels)
    freq = torch.bincount(x, minlength=levels).double() / n
    assert torch.all((freq - probs).abs() <= 5 * (probs * (1 - probs) / n).sqrt() + 1e-4)

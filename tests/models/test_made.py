"""MADE: exact normalisation, autoregressive structure of every mask, sampling frequencies."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from untaught.models import MADE, MADEConfig


def all_inputs(dims: int, levels: int) -> torch.Tensor:
    grid = torch.tensor(list(itertools.product(range(levels), repeat=dims)), dtype=torch.uint8)
    return grid.view(-1, 1, 1, dims)


def made(dims=10, levels=2, **kw) -> MADE:
    torch.manual_seed(0)
    return MADE(MADEConfig(shape=(1, 1, dims), levels=levels, **kw)).double()


@pytest.mark.parametrize("order", ["natural", "random"])
@pytest.mark.parametrize(
    ("dims", "levels", "kw"),
    [
        (10, 2, {}),
        (10, 2, dict(hidden=(32, 32, 32), direct=False)),
        (5, 3, {}),
        (8, 2, dict(num_masks=4, order_agnostic=True, ensemble=4)),
    ],
)
def test_probabilities_sum_to_one(order, dims, levels, kw):
    model = made(dims, levels, order=order, hidden=kw.pop("hidden", (20,)), **kw)
    total = torch.logsumexp(model.log_prob(all_inputs(dims, levels)), 0)
    assert total.item() == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("levels", [2, 4])
def test_every_mask_is_autoregressive(levels):
    """d logits[d] / d input[j] is zero unless j comes strictly before d in that mask's ordering."""
    model = made(7, levels, hidden=(24, 24), num_masks=5, order_agnostic=True)
    k = model.outputs_per_dim
    h0 = torch.rand(1, 7, dtype=torch.float64)
    orders = set()
    for index in range(5):
        jac = torch.func.jacrev(lambda h, i=index: model(h, i))(h0)[0, :, 0, :]  # [D*K, D]
        jac = jac.view(7, k, 7).abs().sum(1)  # [D, D]
        order = model.ordering(index)
        orders.add(tuple(order.tolist()))
        allowed = order[None, :] < order[:, None]  # allowed[d, j]: j before d
        assert (jac[~allowed] == 0).all(), f"mask {index} leaks"
        # the network does use the allowed inputs (no dead masks): the last dimension sees something
        assert jac[allowed].abs().sum() > 0
    assert len(orders) > 1, "order-agnostic masks should have different orderings"


def test_sample_frequencies_match_probabilities():
    model = made(4, 2, hidden=(16,), num_masks=2, order_agnostic=True, ensemble=2)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)  # a peaked, non-uniform distribution
    space = all_inputs(4, 2)
    probs = model.log_prob(space).exp()
    n = 40_000
    samples = model.sample(n, generator=torch.Generator().manual_seed(1)).view(n, 4).long()
    codes = (samples * torch.tensor([8, 4, 2, 1])).sum(1)
    freq = torch.bincount(codes, minlength=16).double() / n
    # every cell within 5 standard errors of its probability
    assert torch.all((freq - probs).abs() <= 5 * (probs * (1 - probs) / n).sqrt() + 1e-4)


def test_temperature_sharpens():
    model = made(6, 3, hidden=(16,))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(5.0)  # separate the logits so that the greedy path is unique
    gen = torch.Generator().manual_seed(0)
    cold = model.sample(2000, temperature=0.05, generator=gen).view(2000, -1)
    # at very low temperature (almost) every sample is the same mode
    assert (cold == cold.mode(0).values).all(1).float().mean() > 0.9


def test_loss_is_mean_nll_and_reports_bits_per_dim():
    model = made(10, 2)
    x = all_inputs(10, 2)[:50]
    loss, metrics = model.loss(x)
    assert loss.item() == pytest.approx(-model.log_prob(x).mean().item())
    assert metrics["bpd"].item() == pytest.approx(loss.item() / (10 * math.log(2)))


def test_bad_input_is_named():
    model = made(10, 2)
    with pytest.raises(ValueError, match=r"shape \(B, 1, 1, 10\).*got \(3, 10\)"):
        model.log_prob(torch.zeros(3, 10, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"binary data \(0 or 1\); got values in \[0, 5\]"):
        model.log_prob(torch.tensor([0, 5] * 5, dtype=torch.uint8).view(1, 1, 1, 10))
    with pytest.raises(TypeError, match="integer levels"):
        model.log_prob(torch.rand(2, 1, 1, 10))
    with pytest.raises(ValueError, match="hidden must be"):
        MADEConfig(hidden=())
    with pytest.raises(ValueError, match="temperature"):
        model.sample(3, temperature=0)

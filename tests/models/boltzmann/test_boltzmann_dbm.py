"""Deep Boltzmann machines with two and three hidden layers: log Z against brute force, AIS against
exact, the mean-field bound below the exact log-likelihood, Gibbs samples against exact probabilities,
phases of training, engine and resume."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from engine_runs import assert_same_state, whole_and_resumed

from untaught.models.boltzmann.dbm import DBM, DBMConfig

DEPTHS = pytest.mark.parametrize("hidden", [(3, 2), (3, 2, 3)], ids=["2 layers", "3 layers"])


def states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=torch.float64)


def tiny_dbm(d: int = 4, h: tuple[int, ...] = (3, 2), std: float = 1.0, seed: int = 0, **kw) -> DBM:
    torch.manual_seed(seed)
    model = DBM(DBMConfig(shape=(1, 1, d), hidden=h, init_std=std, **kw)).double()
    with torch.no_grad():
        for i in range(len(h) + 1):
            model.bias(i).normal_(0, 0.5)
    return model


@torch.no_grad()
def exact_log_p(model: DBM, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(v) by summing the energy over every joint hidden state, and the brute-force log Z."""
    sizes = model.config.hidden
    hs = states(sum(sizes)).split(list(sizes), 1)  # every joint state of all hidden layers

    def log_marginal(x):
        return torch.stack([torch.logsumexp(-model.energy(row.expand(len(hs[0]), -1), *hs), 0) for row in x])

    log_z = torch.logsumexp(log_marginal(states(model.config.dims)), 0)
    return log_marginal(v) - log_z, log_z


@DEPTHS
def test_exact_log_z_sums_out_one_parity(hidden):
    model = tiny_dbm(h=hidden)
    _, brute = exact_log_p(model, states(4)[:1])
    assert model.log_partition("exact").log_z == pytest.approx(float(brute), abs=1e-10)


def test_exact_log_z_enumerates_the_smaller_parity():
    # 3 layers with a wide visible layer: the odd layers (h¹, h³: 5 units) are enumerated, v and h² summed out
    model = tiny_dbm(d=10, h=(3, 2, 2), std=0.5, seed=2)
    assert model._parity_units() == (12, 5)
    _, brute = exact_log_p(model, states(10)[:1])
    assert model.log_partition("exact").log_z == pytest.approx(float(brute), abs=1e-9)


@pytest.mark.parametrize("hidden", [(10, 6), (6, 5, 4)], ids=["2 layers", "3 layers"])
def test_ais_lies_within_its_spread_of_the_exact_log_z(hidden):
    model = tiny_dbm(d=12, h=hidden, std=0.8, seed=1)
    exact = model.log_partition("exact").log_z
    est = model.log_partition("ais", chains=200, betas=1000, generator=torch.Generator().manual_seed(0))
    assert est.low <= exact <= est.high, str(est)
    assert est.high - est.low < 0.5


@DEPTHS
def test_mean_field_bound_is_below_the_exact_log_likelihood(hidden):
    model = tiny_dbm(h=hidden, mean_field_steps=30)
    v = states(4)
    exact, _ = exact_log_p(model, v)
    bound = model.log_prob(v.to(torch.uint8).view(-1, 1, 1, 4))
    assert model.log_prob_kind == "lower bound"
    assert bool((bound <= exact + 1e-9).all())
    assert float((exact - bound).max()) < 1.5  # and not vacuous


@DEPTHS
def test_gibbs_samples_follow_the_model(hidden):
    model = tiny_dbm(d=3, h=hidden, sample_steps=30)
    x = model.sample(20_000, generator=torch.Generator().manual_seed(0)).view(-1, 3)
    freq = torch.bincount((x.long() * torch.tensor([4, 2, 1])).sum(1), minlength=8).double() / len(x)
    exact, _ = exact_log_p(model, states(3))
    assert float((freq - exact.exp()).abs().sum()) / 2 < 0.02


def test_phases_change_only_their_own_weights():
    model = tiny_dbm(d=6, h=(4, 3, 2), pretrain_epochs=2, chains=8)
    x = torch.randint(0, 2, (16, 6), generator=torch.Generator().manual_seed(0)).double()
    every = {"w1", "w2", "w3", "b", "c1", "c2", "c3"}
    expected = {0: {"w1", "b", "c1"}, 2: {"w2", "c2"}, 4: {"w3", "c3"}, 6: every}
    for epoch, changed in expected.items():
        before = {n: p.clone() for n, p in model.named_parameters()}
        buffers = {n: b.clone() for n, b in model.named_buffers() if n.startswith("pretrain_bias")}
        model.step_visible(x, generator=torch.Generator().manual_seed(epoch), epoch=epoch)
        moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
        moved |= {n for n, b in buffers.items() if not torch.equal(getattr(model, n), b)}
        # each RBM above the first has its own visible bias, used in its phase only
        own = {2: {"pretrain_bias2"}, 4: {"pretrain_bias3"}}.get(epoch, set())
        assert moved == changed | own, (epoch, moved)
    assert [model.phase(e) for e in range(7)] == ["layer 1"] * 2 + ["layer 2"] * 2 + ["layer 3"] * 2 + ["joint"]
    assert bool(model.chain_ready) and int(model.joint_steps) == 1
    assert set(dict(model.named_buffers())) >= {"chain_v", "chain_h2"}  # the even layers persist


def test_joint_chains_start_at_the_data(monkeypatch):
    model = tiny_dbm(d=6, h=(4, 3, 2), pretrain_epochs=0, chains=5, std=0.1)
    x = torch.randint(0, 2, (3, 6), generator=torch.Generator().manual_seed(0)).double()
    model.start_chains(x, torch.Generator().manual_seed(1))
    assert torch.equal(model.chain_v, x[[0, 1, 2, 0, 1]]) and bool(model.chain_ready)
    assert model.chain_h2.shape == (5, 3) and set(model.chain_h2.unique().tolist()) <= {0.0, 1.0}
    # the first joint step starts them so, from its own minibatch, and no later step does
    fresh = tiny_dbm(d=6, h=(4, 3, 2), pretrain_epochs=0, chains=5, std=0.1)
    calls = []
    monkeypatch.setattr(fresh, "start_chains", lambda v, g: (calls.append(v.clone()), DBM.start_chains(fresh, v, g)))
    for seed in range(3):
        fresh.step_visible(x, generator=torch.Generator().manual_seed(seed), epoch=0)
    assert len(calls) == 1 and torch.equal(calls[0], x) and int(fresh.joint_steps) == 3


@torch.no_grad()
def test_joint_model_statistics_match_the_exact_expectations():
    # the negative phase of one joint update, from chains started at a single data row, after
    # ``gibbs_steps`` sweeps: E_model[v h¹ᵀ] and E_model[h¹ h²ᵀ] (Rao-Blackwellised) by enumeration
    model = tiny_dbm(d=5, h=(4, 3), std=0.8, pretrain_epochs=0, chains=20_000, gibbs_steps=30)
    x = torch.ones(1, 5, dtype=torch.float64)  # one row: every chain starts in the same state
    grads, _ = model._joint_statistics(x, torch.Generator().manual_seed(0))
    mu = [x, *model.mean_field(x)]
    v, h1, h2 = (s for s in states(12).split([5, 4, 3], 1))
    p = torch.softmax(-model.energy(v, h1, h2), 0)
    for name, (a, b), (ea, eb) in [("w1", (0, 1), (v, h1)), ("w2", (1, 2), (h1, h2))]:
        model_term = mu[a].T @ mu[b] - grads[name]
        exact = (ea * p[:, None]).T @ eb
        assert torch.allclose(model_term, exact, atol=0.015), name
    # one sweep from the data is not enough for these weights: the chains are still near x
    one = tiny_dbm(d=5, h=(4, 3), std=0.8, pretrain_epochs=0, chains=20_000, gibbs_steps=1)
    grads, _ = one._joint_statistics(x, torch.Generator().manual_seed(0))
    assert not torch.allclose(mu[0].T @ mu[1] - grads["w1"], (v * p[:, None]).T @ h1, atol=0.015)


@torch.no_grad()
def test_composition_averages_the_two_rbms_log_odds(monkeypatch):
    model = tiny_dbm(d=6, h=(4, 3, 2), pretrain_epochs=1, chains=5)
    for i in (2, 3):
        getattr(model, f"pretrain_bias{i}").normal_(0, 1.0)
    g = torch.Generator().manual_seed(0)
    v, h1, h2, h3 = (torch.randint(0, 2, (7, n), generator=g).double() for n in (6, 4, 3, 2))
    below = [2 * v @ model.w1 + model.c1, 2 * h1 @ model.w2 + model.c2]  # the lower RBMs' hidden log-odds
    above = [
        2 * h2 @ model.w2.T + model.pretrain_bias2,
        2 * h3 @ model.w3.T + model.pretrain_bias3,
    ]  # the upper's visible
    top = model.c3.clone()
    model.compose()
    xs = [v, h1, h2, h3]
    for i in (1, 2):
        assert torch.allclose(model.layer_input(i, xs), (below[i - 1] + above[i - 1]) / 2)
    assert torch.equal(model.c3, top)  # the top layer belongs to one RBM only
    # the first joint update composes, later ones do not; without pretraining nothing is composed
    fresh = tiny_dbm(d=6, h=(4, 3, 2), pretrain_epochs=1, chains=5)
    calls = []
    monkeypatch.setattr(fresh, "compose", lambda: calls.append(1))
    for epoch in (0, 1, 2, 3, 3):
        fresh.step_visible(v, generator=torch.Generator().manual_seed(epoch), epoch=epoch)
    assert calls == [1]
    joint_only = tiny_dbm(d=6, h=(4, 3, 2), pretrain_epochs=0, chains=5)
    monkeypatch.setattr(joint_only, "compose", lambda: calls.append(2))
    joint_only.step_visible(v, generator=g, epoch=0)
    assert calls == [1]


@torch.no_grad()
def test_pretraining_doubles_the_weights_as_the_paper_says():
    """Bottom RBM: p(h¹|v) with 2W¹, p(v|h¹) with W¹; middle: 2W² both ways; top: p(h³|h²) with W³."""
    model = tiny_dbm(d=5, h=(4, 3, 2), std=0.5)
    v = torch.randint(0, 2, (7, 5), generator=torch.Generator().manual_seed(1)).double()
    xs = model.bottom_up(v)
    assert torch.allclose(xs[1], torch.sigmoid(2 * v @ model.w1 + model.c1))
    assert torch.allclose(xs[2], torch.sigmoid(2 * xs[1] @ model.w2 + model.c2))
    assert torch.allclose(xs[3], torch.sigmoid(xs[2] @ model.w3 + model.c3))
    # the middle RBM's gradient at a zero learning step: its reconstruction uses 2W² top-down
    _, recon = model._pretrain_statistics(2, v, torch.Generator().manual_seed(0))
    ph = torch.sigmoid(2 * xs[1] @ model.w2 + model.c2)
    expected = ((xs[1] - torch.sigmoid(2 * ph @ model.w2.T + model.pretrain_bias2)) ** 2).mean()
    assert float(recon) == pytest.approx(float(expected))


@DEPTHS
def test_trains_through_the_engine_and_resumes_exactly(tmp_path, hidden):
    sizes = {2: (16, 8), 3: (10, 8, 6)}[len(hidden)]  # the odd layers small enough for an exact log Z

    def model():
        torch.manual_seed(0)
        return DBM(DBMConfig(shape=(1, 8, 8), hidden=sizes, pretrain_epochs=1, chains=50, mean_field_steps=5))

    epochs = len(hidden) + 3  # interrupted after the first joint epoch: composition and chains must not restart
    opts = dict(binarize="static", batch_size=50, progress=False, threads=1, samples=4, select="last")
    whole, resumed = whole_and_resumed(tmp_path, model, "digits", epochs=epochs, first=epochs - 2, **opts)
    assert whole.metrics["test_nll_kind"] == "lower bound"
    assert whole.metrics["test_nll_nats"] < 64 * math.log(2) - 10  # a bound far better than the uniform model
    assert_same_state(whole.model, resumed.model)


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match=r"hidden must be two or more positive layer sizes, .*; got \(5,\)"):
        DBMConfig(hidden=(5,))
    with pytest.raises(ValueError, match="levels must be 2"):
        DBMConfig(shape=(1, 8, 8), levels=17)
    with pytest.raises(ValueError, match="energy takes 4 layers"):
        tiny_dbm(h=(3, 2, 3)).energy(torch.zeros(1, 4), torch.zeros(1, 3))

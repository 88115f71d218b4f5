"""Deep Boltzmann machine: log Z against brute force, AIS against exact, the mean-field bound below the
exact log-likelihood, Gibbs samples against exact probabilities, phases of training, engine and resume."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import untaught
from untaught.models.boltzmann.dbm import DBM, DBMConfig
from untaught.training import resume


def states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=torch.float64)


def tiny_dbm(d: int = 4, h: tuple[int, int] = (3, 2), std: float = 1.0, seed: int = 0, **kw) -> DBM:
    torch.manual_seed(seed)
    model = DBM(DBMConfig(shape=(1, 1, d), hidden=h, init_std=std, **kw)).double()
    with torch.no_grad():
        for p in (model.b, model.c1, model.c2):
            p.normal_(0, 0.5)
    return model


def exact_log_p(model: DBM, v: torch.Tensor) -> torch.Tensor:
    """log p(v) by summing every (h¹, h²) and dividing by the brute-force Z."""
    h1s, h2s = states(model.config.hidden[0]), states(model.config.hidden[1])
    pairs = torch.cartesian_prod(torch.arange(len(h1s)), torch.arange(len(h2s)))
    h1, h2 = h1s[pairs[:, 0]], h2s[pairs[:, 1]]

    def log_marginal(x):
        return torch.stack([torch.logsumexp(-model.energy(row.expand(len(h1), -1), h1, h2), 0) for row in x])

    log_z = torch.logsumexp(log_marginal(states(model.config.dims)), 0)
    return log_marginal(v) - log_z, log_z


def test_exact_log_z_sums_out_the_odd_layers():
    model = tiny_dbm()
    _, brute = exact_log_p(model, states(4)[:1])
    assert model.log_partition("exact").log_z == pytest.approx(float(brute), abs=1e-10)


def test_ais_lies_within_its_spread_of_the_exact_log_z():
    model = tiny_dbm(d=12, h=(10, 6), std=0.8, seed=1)
    exact = model.log_partition("exact").log_z
    est = model.log_partition("ais", chains=200, betas=1000, generator=torch.Generator().manual_seed(0))
    assert est.low <= exact <= est.high, str(est)
    assert est.high - est.low < 0.5


def test_mean_field_bound_is_below_the_exact_log_likelihood():
    model = tiny_dbm(mean_field_steps=30)
    v = states(4)
    exact, _ = exact_log_p(model, v)
    bound = model.log_prob(v.to(torch.uint8).view(-1, 1, 1, 4))
    assert model.log_prob_kind == "lower bound"
    assert bool((bound <= exact + 1e-9).all())
    assert float((exact - bound).max()) < 1.0  # and not vacuous


def test_gibbs_samples_follow_the_model():
    model = tiny_dbm(d=3, h=(2, 2), sample_steps=30)
    x = model.sample(20_000, generator=torch.Generator().manual_seed(0)).view(-1, 3)
    freq = torch.bincount((x.long() * torch.tensor([4, 2, 1])).sum(1), minlength=8).double() / len(x)
    exact, _ = exact_log_p(model, states(3))
    assert float((freq - exact.exp()).abs().sum()) / 2 < 0.02


def test_phases_change_only_their_own_weights():
    model = tiny_dbm(d=6, h=(4, 3), pretrain_epochs=2, chains=8)
    x = torch.randint(0, 2, (16, 6), generator=torch.Generator().manual_seed(0)).double()
    expected = {0: {"w1", "b", "c1"}, 2: {"w2", "c2"}, 4: {"w1", "w2", "b", "c1", "c2"}}
    for epoch, changed in expected.items():
        before = {n: p.clone() for n, p in model.named_parameters()}
        model.step_visible(x, generator=torch.Generator().manual_seed(epoch), epoch=epoch)
        moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
        assert moved == changed, (epoch, moved)
    assert [model.phase(e) for e in (0, 1, 2, 3, 4)] == ["layer 1", "layer 1", "layer 2", "layer 2", "joint"]
    assert bool(model.chain_ready) and int(model.joint_steps) == 1


def test_trains_through_the_engine_and_resumes_exactly(tmp_path):
    def model():
        torch.manual_seed(0)
        return DBM(DBMConfig(shape=(1, 8, 8), hidden=(16, 8), pretrain_epochs=1, chains=50, mean_field_steps=5))

    opts = dict(binarize="static", batch_size=50, progress=False, threads=1, samples=4, select="last")
    whole = untaught.train(model(), "digits", out=tmp_path / "whole", epochs=4, **opts)
    assert whole.metrics["test_nll_kind"] == "lower bound"
    assert whole.metrics["test_nll_nats"] < 64 * math.log(2) - 10  # a bound far better than the uniform model
    untaught.train(model(), "digits", out=tmp_path / "parts", epochs=2, **opts)
    resumed = resume(tmp_path / "parts", epochs=4, progress=False)
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match=r"hidden must be two positive layer sizes, e.g. 500,1000; got \(5,\)"):
        DBMConfig(hidden=(5,))
    with pytest.raises(ValueError, match="levels must be 2"):
        DBMConfig(shape=(1, 8, 8), levels=17)

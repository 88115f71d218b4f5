"""Helmholtz machine: the exact likelihood by enumeration (normalised, matching ancestral samples), the
importance-sampling estimate converging to it, the surrogate losses' gradients equal to the wake-sleep
and reweighted wake-sleep updates, training through the engine."""

from __future__ import annotations

import math

import pytest
import torch

import untaught
from untaught.models.boltzmann.full import binary_states
from untaught.models.latent.helmholtz import HelmholtzConfig, HelmholtzMachine

QUIET = dict(progress=False, threads=1, samples=4)


def tiny(hidden=(3, 2), d: int = 4, scale: float = 2.0, seed: int = 0, **kw) -> HelmholtzMachine:
    """A small machine with weights scaled up, so that posteriors are far from the recognition net's."""
    torch.manual_seed(seed)
    model = HelmholtzMachine(HelmholtzConfig(shape=(1, 1, d), hidden=hidden, **kw)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(scale).add_(0.3 * torch.randn_like(p))
    return model


def every_image(d: int) -> torch.Tensor:
    return binary_states(d).to(torch.uint8).view(-1, 1, 1, d)


@pytest.mark.parametrize("hidden", [(3,), (3, 2), (2, 2, 2)])
def test_exact_likelihood_normalises_and_matches_ancestral_samples(hidden):
    model = tiny(hidden)
    exact = model.exact_log_prob(every_image(4))
    assert float(torch.logsumexp(exact, 0)) == pytest.approx(0.0, abs=1e-10)
    x = model.sample(40_000, generator=torch.Generator().manual_seed(0)).view(-1, 4)
    freq = torch.bincount((x.long() * torch.tensor([8, 4, 2, 1])).sum(1), minlength=16).double() / len(x)
    assert float((freq - exact.exp()).abs().sum()) / 2 < 0.015  # total variation
    assert float(exact.exp().max() - exact.exp().min()) > 0.05  # far from uniform: the test can fail


def test_importance_sampling_estimate_converges_to_the_exact_likelihood():
    model = tiny((3, 2), scale=1.5)
    x = every_image(4)
    exact = model.exact_log_prob(x)

    def estimate(k: int, repeats: int) -> torch.Tensor:
        """[repeats, 16] estimates with k samples each."""
        gen = torch.Generator().manual_seed(k)
        with torch.no_grad():
            return torch.stack([model.iwae_bound(x, k, gen) for _ in range(repeats)])

    gaps = {k: float((exact - estimate(k, 100).mean(0)).mean()) for k in (1, 10, 100)}
    assert gaps[1] > 0.3  # the proposal is poor: one sample is far below, so the test has power
    assert gaps[1] > gaps[10] > gaps[100] > -0.01  # below in expectation, closing as k grows
    model.config.iwae_k = 200_000
    torch.testing.assert_close(model.log_prob(x), exact, atol=0.025, rtol=0)  # 20x below the one-sample gap
    assert model.log_prob_kind == "estimate"


def test_rws_surrogate_gradients_are_the_reweighted_wake_sleep_updates():
    x = torch.randint(0, 2, (6, 1, 1, 4), generator=torch.Generator().manual_seed(1)).to(torch.uint8)
    model = tiny((3, 2), k=4, q_update="both")
    loss, metrics = model.loss(x, generator=torch.Generator().manual_seed(5))
    loss.backward()
    got = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()

    # the same samples by hand: the k-sample estimate's gradient for the generative net, the
    # normalised weights times ∇ log q (wake) and the dreams' ∇ log q (sleep), averaged, for the recognition net
    gen = torch.Generator().manual_seed(5)
    t = model.log_weights(x, 4, gen)
    dreams = model.dream(len(x), gen)
    log_w = t["log_px"] + t["log_pz"] - t["log_qz"]
    estimate = torch.logsumexp(log_w, 0) - math.log(4)
    omega = torch.softmax(log_w.detach(), 0)
    wake_q = -(omega * t["log_qz"]).sum(0).mean()
    sleep_q = -model.recognition_log_prob(dreams).mean()
    generative = [p for n, p in model.named_parameters() if not n.startswith("recognition")]
    recognition = [p for n, p in model.named_parameters() if n.startswith("recognition")]
    for p, g in zip(generative, torch.autograd.grad(-estimate.mean(), generative, retain_graph=True), strict=True):
        p.grad = g
    for p, g in zip(recognition, torch.autograd.grad((wake_q + sleep_q) / 2, recognition), strict=True):
        p.grad = g
    for name, p in model.named_parameters():
        torch.testing.assert_close(got[name], p.grad, msg=name)
        assert float(p.grad.abs().max()) > 1e-3, name  # every parameter gets an update
    assert float(loss.detach()) == pytest.approx(-float(estimate.mean().detach()))  # the logged value is the estimate
    assert 1.0 <= float(metrics["ess"]) <= 4.0


@pytest.mark.parametrize("q_update", ["wake", "sleep"])
def test_rws_recognition_update_follows_q_update(q_update):
    x = torch.randint(0, 2, (6, 1, 1, 4), generator=torch.Generator().manual_seed(1)).to(torch.uint8)
    model = tiny((3,), k=4, q_update=q_update)
    model.loss(x, generator=torch.Generator().manual_seed(5))[0].backward()
    got = model.recognition[0].weight.grad.clone()
    gen = torch.Generator().manual_seed(5)
    t = model.log_weights(x, 4, gen)
    if q_update == "wake":
        omega = torch.softmax((t["log_px"] + t["log_pz"] - t["log_qz"]).detach(), 0)
        target = -(omega * t["log_qz"]).sum(0).mean()
    else:
        target = -model.recognition_log_prob(model.dream(len(x), gen)).mean()
    torch.testing.assert_close(got, torch.autograd.grad(target, model.recognition[0].weight)[0])


def test_wake_sleep_trains_each_net_in_its_own_phase():
    x = torch.randint(0, 2, (6, 1, 1, 4), generator=torch.Generator().manual_seed(1)).to(torch.uint8)
    model = tiny((3, 2), k=1, algorithm="wake-sleep")
    loss, metrics = model.loss(x, generator=torch.Generator().manual_seed(5))
    loss.backward()
    gen = torch.Generator().manual_seed(5)
    t = model.log_weights(x, 1, gen)
    dreams = model.dream(len(x), gen)
    wake = -(t["log_px"] + t["log_pz"]).mean()  # generative net only: the samples are constants
    sleep = -model.recognition_log_prob(dreams).mean()  # recognition net only
    for name, p in model.named_parameters():
        target = sleep if name.startswith("recognition") else wake
        torch.testing.assert_close(p.grad, torch.autograd.grad(target, p, retain_graph=True)[0], msg=name)
    assert float(loss.detach()) == pytest.approx(-float((t["log_px"] + t["log_pz"] - t["log_qz"]).mean().detach()))
    assert float(metrics["sleep_nll"]) == pytest.approx(float(sleep.detach()))


@pytest.mark.parametrize(("algorithm", "k"), [("rws", 5), ("wake-sleep", 1)])
def test_training_through_the_engine_improves_the_estimate(tmp_path, algorithm, k):
    def model():
        torch.manual_seed(0)
        return HelmholtzMachine(HelmholtzConfig(shape=(1, 8, 8), hidden=(32,), algorithm=algorithm, k=k, iwae_k=50))

    test = untaught.data.load_split("digits", "test")
    x = untaught.data.binarize_static(test.x, 17)
    before = float(model().log_prob(x).mean())
    options = dict(binarize="static", epochs=12, batch_size=50, lr=3e-3, select="last", **QUIET)
    run = untaught.train(model(), "digits", out=tmp_path / algorithm, **options)
    after = -run.metrics["test_nll_nats"]
    assert run.metrics["test_nll_kind"] == "estimate"
    assert before < -64 * math.log(2) + 5  # about uniform at the start (64 pixels, 44.4 nats)
    assert after > before + 15, (before, after)


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match=r"levels must be 2 \(train with --binarize\); got 17"):
        HelmholtzConfig(shape=(1, 8, 8), levels=17)
    with pytest.raises(ValueError, match=r"hidden must be one or more positive layer sizes; got \(\)"):
        HelmholtzConfig(hidden=())
    with pytest.raises(ValueError, match=r"algorithm must be 'rws' or 'wake-sleep'; got 'ws'"):
        HelmholtzConfig(algorithm="ws")
    with pytest.raises(ValueError, match=r"q_update must be 'sleep' or 'both' .* with algorithm 'wake-sleep'"):
        HelmholtzConfig(algorithm="wake-sleep", q_update="wake")
    with pytest.raises(ValueError, match="at most 2\\^20"):
        tiny((16, 8)).exact_log_prob(every_image(4))
    with pytest.raises(ValueError, match="must hold binary data"):
        tiny().log_prob(torch.full((1, 1, 1, 4), 2, dtype=torch.uint8))

"""Predictive sparse decomposition: the encoder learns to predict the codes, and warm-starts FISTA."""

from __future__ import annotations

import functools

import pytest
import torch

from untaught.models.sparse_coding import fista
from untaught.models.sparse_coding.psd import PSD, PSDConfig


def sparse_data(n=600, k=12, dim=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    atoms = torch.randn(k, dim, generator=gen, dtype=torch.float64)
    atoms = atoms / atoms.norm(dim=1, keepdim=True)
    mask = torch.rand(n, k, generator=gen, dtype=torch.float64) < 0.15
    z = (1 + torch.rand(n, k, generator=gen, dtype=torch.float64) * 2) * mask
    return z @ atoms + 0.02 * torch.randn(n, dim, generator=gen, dtype=torch.float64)


@functools.cache
def trained(epochs=60):
    torch.manual_seed(0)
    m = PSD(PSDConfig(shape=(16,), atoms=12, lam=0.1, alpha=0.5, encoder_lr=0.05, nonneg=True)).double()
    x = sparse_data()
    errors = []
    for _ in range(epochs):
        for batch in x.split(50):
            errors.append(m.step_signals(batch)["prediction_error"])
    return m, x, errors


def test_prediction_error_falls_and_atoms_stay_unit_norm():
    m, x, errors = trained()
    assert sum(errors[-10:]) / 10 < 0.5 * sum(errors[:10]) / 10
    assert torch.allclose(m.dictionary.norm(dim=1), torch.ones(12, dtype=torch.float64), atol=1e-12)
    _loss, metrics = m.loss(x)
    assert float(metrics["prediction_error"]) < errors[0]


def test_encoder_warm_start_cuts_fista_iterations():
    m, x, _ = trained()
    f = m.encode(x)
    cold = fista(x, m.dictionary, 0.1, tol=1e-8, stop="kkt", check_every=1, nonneg=True, max_iter=20_000)
    warm = fista(x, m.dictionary, 0.1, tol=1e-8, stop="kkt", check_every=1, nonneg=True, max_iter=20_000, init=f)
    assert cold.converged.all() and warm.converged.all()
    assert torch.allclose(cold.codes, warm.codes, atol=1e-6)
    # the encoder (2.7 % relative squared error here) saves about 12 % of the iterations at this tolerance
    assert warm.iterations.double().mean() < 0.95 * cold.iterations.double().mean()


def test_psd_configuration_errors():
    with pytest.raises(ValueError, match="alpha"):
        PSDConfig(alpha=0.0)
    with pytest.raises(ValueError, match="algorithm"):
        PSDConfig(algorithm="batch")


@pytest.mark.parametrize("encoder", ["tanh", "shrink"])
@pytest.mark.parametrize("nonneg", [False, True])
def test_encoder_step_follows_the_gradient_of_the_prediction_loss(encoder, nonneg):
    """The hand-written encoder gradients equal autograd's of mean α‖z* − F(x)‖² (z* held fixed)."""
    torch.manual_seed(0)
    config = PSDConfig(
        shape=(16,), atoms=12, lam=0.1, alpha=0.7, encoder=encoder, nonneg=nonneg, encoder_lr=1e-3,
        encoder_momentum=0.0, tol=1e-10, stop="gap",
    )  # fmt: skip
    m = PSD(config).double()
    x = sparse_data(n=40)
    m.step_signals(x)  # initialise the dictionary from the data
    names = ("encoder_weight", "encoder_bias", "encoder_gain")
    params = {n: getattr(m, n).detach().clone().requires_grad_(True) for n in names}
    with torch.no_grad():
        z = m.optimal_codes(x, m.predict(x)).codes
    pre = x @ params["encoder_weight"].T
    if encoder == "tanh":
        h = torch.tanh(pre + params["encoder_bias"])
    elif nonneg:
        h = (pre - params["encoder_bias"]).clamp_min(0)
    else:
        h = torch.sign(pre) * (pre.abs() - params["encoder_bias"]).clamp_min(0)
    loss = 0.7 * (z - params["encoder_gain"] * h).pow(2).sum(1).mean()
    grads = torch.autograd.grad(loss, [params[n] for n in names])
    m.step_signals(x)
    for name, grad in zip(names, grads, strict=True):
        expected = params[name].detach() - 1e-3 * grad
        if name == "encoder_bias" and encoder == "shrink":
            expected = expected.clamp_min(0)
        assert torch.allclose(getattr(m, name), expected, atol=1e-10), name
    if encoder == "shrink":
        assert (m.encode(x) == 0).any()  # soft thresholding: exact zeros


def test_shrink_encoder_configuration():
    with pytest.raises(ValueError, match="encoder"):
        PSDConfig(encoder="relu")

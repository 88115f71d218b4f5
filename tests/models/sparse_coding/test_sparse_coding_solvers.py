"""ISTA / FISTA: lasso optimality (KKT), agreement with scikit-learn's Lasso, stopping rules, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import Lasso

from untaught.models.sparse_coding.solvers import fista, ista, kkt_residual, lasso_objective


def problem(b=6, k=30, n=20, seed=0):
    gen = torch.Generator().manual_seed(seed)
    d = torch.randn(k, n, generator=gen, dtype=torch.float64)
    d = d / d.norm(dim=1, keepdim=True)
    return torch.randn(b, n, generator=gen, dtype=torch.float64), d


@pytest.mark.parametrize("nonneg", [False, True])
def test_fista_satisfies_the_lasso_kkt_conditions(nonneg):
    x, d = problem()
    lam = 0.3
    result = fista(x, d, lam, tol=1e-12, stop="gap", max_iter=100_000, nonneg=nonneg)
    z = result.codes
    assert result.converged.all()
    assert (z != 0).any() and (z == 0).any()  # the test exercises both conditions
    corr = (x - z @ d) @ d.T  # D_k rᵀ
    active = z != 0
    sign = torch.sign(z)
    # non-zero codes: D_k rᵀ = λ sign(z_k); zero codes: |D_k rᵀ| ≤ λ (D_k rᵀ ≤ λ when non-negative)
    assert torch.allclose(corr[active], lam * sign[active], atol=1e-8)
    bound = corr[~active] if nonneg else corr[~active].abs()
    assert (bound <= lam + 1e-8).all()
    if nonneg:
        assert (z >= 0).all()
    assert float(kkt_residual(z, -corr, lam, nonneg).max()) < 1e-8


def test_fista_matches_scikit_learn_lasso():
    x, d = problem(b=4)
    lam = 0.2
    z = fista(x, d, lam, tol=1e-13, stop="gap", max_iter=100_000).codes
    n = x.shape[1]
    for i in range(len(x)):
        # scikit-learn's Lasso minimises (1/2n)‖y − Xw‖² + α‖w‖₁: α = λ/n gives the same minimiser
        ref = Lasso(alpha=lam / n, fit_intercept=False, tol=1e-14, max_iter=1_000_000).fit(d.T.numpy(), x[i].numpy())
        np.testing.assert_allclose(z[i].numpy(), ref.coef_, atol=1e-7)


def test_ista_reaches_the_same_solution_more_slowly():
    x, d = problem()
    f = fista(x, d, 0.3, tol=1e-10, stop="kkt", max_iter=200_000)
    i = ista(x, d, 0.3, tol=1e-10, stop="kkt", max_iter=200_000)
    assert f.converged.all() and i.converged.all()
    assert torch.allclose(f.codes, i.codes, atol=1e-8)
    assert i.iterations.sum() > f.iterations.sum()


@pytest.mark.parametrize("stop", ["objective", "kkt", "gap"])
def test_stopping_rules_bound_the_objective_error(stop):
    x, d = problem(b=20, k=40, n=16, seed=1)
    exact = lasso_objective(x, fista(x, d, 0.5, tol=1e-13, stop="gap", max_iter=100_000).codes, d, 0.5)
    loose = fista(x, d, 0.5, tol=1e-3, stop=stop, check_every=5)
    tight = fista(x, d, 0.5, tol=1e-8, stop=stop, check_every=5)
    err = [((lasso_objective(x, r.codes, d, 0.5) - exact) / exact).max() for r in (loose, tight)]
    assert err[1] <= err[0] + 1e-15 and err[1] < 1e-6
    assert tight.iterations.sum() > loose.iterations.sum()
    if stop == "gap":  # the duality gap certifies the relative error
        assert err[0] <= 1e-3


def test_warm_start_at_the_solution_stops_at_once_and_float32_agrees():
    x, d = problem(b=8)
    exact = fista(x, d, 0.3, tol=1e-12, stop="gap", max_iter=100_000)
    warm = fista(x, d, 0.3, init=exact.codes, tol=1e-9, stop="gap", check_every=1)
    assert int(warm.iterations.max()) == 1
    single = fista(x.float(), d.float(), 0.3, tol=1e-5, stop="gap")
    assert single.codes.dtype == torch.float32
    assert torch.allclose(single.codes.double(), exact.codes, atol=1e-3)


def test_bad_input_is_refused_with_a_named_error():
    x, d = problem()
    with pytest.raises(ValueError, match="lam"):
        fista(x, d, 0.0)
    with pytest.raises(ValueError, match="finite"):
        fista(x.clone().fill_(float("nan")), d, 0.1)
    with pytest.raises(ValueError, match="dictionary must be"):
        fista(x, d[:, :5], 0.1)
    with pytest.raises(ValueError, match="stop"):
        fista(x, d, 0.1, stop="never")
    with pytest.raises(ValueError, match="init"):
        fista(x, d, 0.1, init=torch.zeros(2, 2, dtype=torch.float64))

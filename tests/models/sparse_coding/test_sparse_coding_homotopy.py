"""The homotopy solver (exact lasso path) and the block-coordinate dictionary sweep."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.linear_model import Lasso

from untaught.models.sparse_coding.dictionary import block_coordinate_sweep, dictionary_step
from untaught.models.sparse_coding.homotopy import homotopy
from untaught.models.sparse_coding.solvers import fista, lasso_objective


def problem(b=40, k=30, n=20, seed=0):
    gen = torch.Generator().manual_seed(seed)
    d = torch.randn(k, n, generator=gen, dtype=torch.float64)
    d = d / d.norm(dim=1, keepdim=True)
    return 2 * torch.randn(b, n, generator=gen, dtype=torch.float64), d


PATHS = pytest.mark.parametrize("lockstep", [False, True], ids=["rows", "lockstep"])


@PATHS
@pytest.mark.parametrize("nonneg", [False, True])
@pytest.mark.parametrize("shape", [(30, 20), (12, 40), (100, 16)])
def test_homotopy_satisfies_kkt_without_fista(nonneg, shape, lockstep):
    x, d = problem(k=shape[0], n=shape[1])
    lam = 0.3
    # max_iter=1: FISTA could not repair a wrong path, so the KKT conditions come from the path itself
    result = homotopy(x, d, lam, nonneg=nonneg, tol=1e-9, stop="kkt", max_iter=1, lockstep=lockstep)
    z = result.codes
    assert result.converged.all()
    corr = (x - z @ d) @ d.T
    active = z != 0
    assert (z != 0).any() and (z == 0).any()
    assert torch.allclose(corr[active], lam * torch.sign(z[active]), atol=1e-9)
    bound = corr[~active] if nonneg else corr[~active].abs()
    assert (bound <= lam + 1e-9).all()
    if nonneg:
        assert (z >= 0).all()
    # about one path piece per non-zero code (plus the atoms that left again)
    assert (result.iterations >= active.sum(1)).all()


@PATHS
def test_homotopy_matches_scikit_learn_lasso(lockstep):
    x, d = problem(b=5)
    lam = 0.2
    z = homotopy(x, d, lam, tol=1e-12, lockstep=lockstep).codes
    n = x.shape[1]
    for i in range(len(x)):
        ref = Lasso(alpha=lam / n, fit_intercept=False, tol=1e-14, max_iter=1_000_000).fit(d.T.numpy(), x[i].numpy())
        np.testing.assert_allclose(z[i].numpy(), ref.coef_, atol=1e-7)


@PATHS
def test_homotopy_float32_meets_the_certified_tolerance(lockstep):
    x, d = problem(b=200, k=100, n=64, seed=1)
    exact = lasso_objective(x, fista(x, d, 0.5, tol=1e-12, stop="gap", max_iter=100_000).codes, d, 0.5)
    r = homotopy(x.float(), d.float(), 0.5, tol=1e-4, lockstep=lockstep)
    assert r.codes.dtype == torch.float32 and r.converged.all()
    error = (lasso_objective(x, r.codes.double(), d, 0.5) - exact) / exact
    assert float(error.max()) <= 1e-4


@PATHS
def test_homotopy_degenerate_inputs(lockstep):
    x, d = problem(b=10, k=6, n=8)
    x[0] = 0  # z = 0 at once
    twins = torch.cat([d, d[:2]])  # duplicated atoms: a singular active set, finished by FISTA
    for dictionary in (d, twins):
        r = homotopy(x, dictionary, 0.1, tol=1e-10, max_iter=100_000, lockstep=lockstep)
        assert r.converged.all() and (r.codes[0] == 0).all()
        ref = fista(x, dictionary, 0.1, tol=1e-12, stop="gap", max_iter=100_000).codes
        assert torch.allclose(lasso_objective(x, r.codes, dictionary, 0.1), lasso_objective(x, ref, dictionary, 0.1))
    # the path is cut: FISTA finishes
    capped = homotopy(x, d, 0.01, max_steps=2, tol=1e-10, max_iter=100_000, lockstep=lockstep)
    assert capped.converged.all() and (capped.iterations > 2).any()
    with pytest.raises(ValueError, match="max_steps"):
        homotopy(x, d, 0.1, max_steps=0)
    with pytest.raises(ValueError, match="lam"):
        homotopy(x, d, -1.0)


@pytest.mark.parametrize("nonneg", [False, True])
def test_compiled_rows_follow_the_lockstep_path(nonneg):
    """The CPU kernel and the batched tensor path take the same pieces (joins and leaves) per row
    and reach the same codes; the problem has atoms that leave the active set again."""
    x, d = problem(b=300, k=60, n=24, seed=3)
    lam = 0.05
    rows = homotopy(x, d, lam, nonneg=nonneg, tol=1e-9, stop="kkt", max_iter=1)
    lockstep = homotopy(x, d, lam, nonneg=nonneg, tol=1e-9, stop="kkt", max_iter=1, lockstep=True)
    assert rows.converged.all() and lockstep.converged.all()
    assert torch.equal(rows.iterations, lockstep.iterations)
    assert (rows.iterations > (rows.codes != 0).sum(1)).any()  # some rows had a leave
    torch.testing.assert_close(rows.codes, lockstep.codes, atol=1e-9, rtol=0)


def sequential_sweep(d, a, b):
    """Mairal et al. (2009), Algorithm 2, one pass, atom by atom."""
    d = d.clone()
    for j in range(len(d)):
        if a[j, j] <= 1e-10 * a.diagonal().max():
            continue
        u = (b[j] - a[j] @ d) / a[j, j] + d[j]
        d[j] = u / max(float(u.norm()), 1.0)
    return d


def test_block_coordinate_sweep_is_the_sequential_update():
    gen = torch.Generator().manual_seed(0)
    k, n = 40, 16
    z = torch.randn(500, k, generator=gen, dtype=torch.float64) * (torch.rand(500, k, generator=gen) < 0.2)
    z[:, 7] = 0  # an unused atom is kept as it is
    x = torch.randn(500, n, generator=gen, dtype=torch.float64)
    a, b = z.T @ z, z.T @ x
    d = torch.randn(k, n, generator=gen, dtype=torch.float64)
    d = d / d.norm(dim=1, keepdim=True)
    swept = block_coordinate_sweep(d, a, b)
    assert torch.allclose(swept, sequential_sweep(d, a, b), atol=1e-12)
    assert torch.equal(swept[7], d[7])
    assert (swept.norm(dim=1) <= 1 + 1e-12).all()

    def surrogate(dd):
        return float(0.5 * (dd.T @ a @ dd).trace() - (b * dd).sum())

    values = [surrogate(d)]
    for _ in range(5):
        d = dictionary_step(d, a, b, steps=1)
        values.append(surrogate(d))
    assert all(after <= before + 1e-9 for before, after in itertools.pairwise(values))

"""Batched lasso solvers for sparse coding: ISTA and FISTA with a precomputed Gram matrix.

Every row ``x_b`` of a batch ``x`` [B, N] is coded over a dictionary ``D`` [K, N] (one atom per
row) by minimising the lasso objective

    F(z_b) = ½‖x_b − z_b D‖² + λ‖z_b‖₁            (optionally subject to z_b ≥ 0).

The smooth part's gradient is ``z G − c`` with ``G = D Dᵀ`` [K, K] and ``c = x Dᵀ`` [B, K], both
computed once per batch, so one iteration costs one [B, K] x [K, K] product whatever N is. ISTA
is the proximal gradient method with step 1/L (L = the largest eigenvalue of G); FISTA (Beck &
Teboulle 2009) adds Nesterov's momentum, here with the gradient-based adaptive restart of
O'Donoghue & Candès (2015) per row, which keeps FISTA's rate and removes its oscillations.

Stopping is decided per row every ``check_every`` iterations and converged rows leave the batch,
so a few slow rows do not keep the whole batch iterating. Three criteria:

* ``"objective"``: the relative decrease of F since the previous check is at most ``tol``;
* ``"kkt"``: the optimality (KKT) residual, the largest violation of
  ``D_k rᵀ = λ sign(z_k)`` for ``z_k ≠ 0`` and ``|D_k rᵀ| ≤ λ`` for ``z_k = 0`` (r = x − zD),
  divided by λ, is at most ``tol``;
* ``"gap"``: the duality gap, divided by F, is at most ``tol``; since F(z) − F(z*) ≤ gap this
  certifies that F is within a relative ``tol`` of the exact lasso optimum.

References:
    Beck, Teboulle. A fast iterative shrinkage-thresholding algorithm for linear inverse problems.
    SIAM J. Imaging Sciences 2009.
    Daubechies, Defrise, De Mol. An iterative thresholding algorithm for linear inverse problems
    with a sparsity constraint. Comm. Pure Appl. Math. 2004 (ISTA).
    O'Donoghue, Candès. Adaptive restart for accelerated gradient schemes. Found. Comput. Math. 2015.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch

Stop = Literal["objective", "kkt", "gap"]
STOPS = ("objective", "kkt", "gap")


class LassoResult(NamedTuple):
    """What a solver returns: ``codes`` [B, K]; ``iterations`` [B] (int64) made for each row;
    ``converged`` [B] (bool) whether the row met the stopping rule within ``max_iter``."""

    codes: torch.Tensor
    iterations: torch.Tensor
    converged: torch.Tensor


def check_problem(
    x: torch.Tensor, dictionary: torch.Tensor, lam: float, stop: str, gram: torch.Tensor | None
) -> torch.Tensor:
    """Validate a lasso problem: x [B, N] finite floats, dictionary [K, N] of the same dtype, λ > 0,
    ``stop`` one of :data:`STOPS`, ``gram`` None or [K, K]. Returns the Gram matrix D Dᵀ [K, K]
    (``gram`` if given)."""
    if not isinstance(x, torch.Tensor) or not isinstance(dictionary, torch.Tensor):
        raise TypeError(
            f"x and dictionary must be torch.Tensors; got {type(x).__name__} and {type(dictionary).__name__}"
        )
    if x.dim() != 2:
        raise ValueError(f"x must be a batch of signals [B, N]; got shape {tuple(x.shape)}")
    if dictionary.dim() != 2 or dictionary.shape[1] != x.shape[1]:
        raise ValueError(
            f"dictionary must be [K, N] with N = {x.shape[1]} (the signals' length); got shape "
            f"{tuple(dictionary.shape)}"
        )
    if not x.is_floating_point() or x.dtype != dictionary.dtype:
        raise TypeError(f"x and dictionary must share one floating dtype; got {x.dtype} and {dictionary.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError("x must be finite; it holds NaN or infinite values")
    if not torch.isfinite(dictionary).all():
        raise ValueError("dictionary must be finite; it holds NaN or infinite values")
    if not lam > 0:
        raise ValueError(f"lam (λ, the L1 weight) must be positive; got {lam!r}")
    if stop not in STOPS:
        raise ValueError(f"stop must be one of {STOPS}; got {stop!r}")
    k = dictionary.shape[0]
    if gram is None:
        return dictionary @ dictionary.T
    if tuple(gram.shape) != (k, k):
        raise ValueError(f"gram must be [K, K] = [{k}, {k}] (D Dᵀ); got shape {tuple(gram.shape)}")
    return gram


def lasso_objective(x: torch.Tensor, codes: torch.Tensor, dictionary: torch.Tensor, lam: float) -> torch.Tensor:
    """F(z) = ½‖x − zD‖² + λ‖z‖₁ for every row: x [B, N], codes [B, K], dictionary [K, N] -> [B]."""
    return 0.5 * (x - codes @ dictionary).pow(2).sum(1) + lam * codes.abs().sum(1)


def lipschitz(gram: torch.Tensor) -> float:
    """L = the largest eigenvalue of the Gram matrix [K, K] (the gradient's Lipschitz constant)."""
    return float(torch.linalg.eigvalsh(gram.double())[-1])


def shrink(v: torch.Tensor, threshold: float | torch.Tensor, nonneg: bool = False) -> torch.Tensor:
    """The proximal operator of ``threshold·‖·‖₁`` (soft thresholding), or of it plus the
    indicator of z ≥ 0 when ``nonneg``."""
    if nonneg:
        return (v - threshold).clamp_min(0)
    return v - v.clamp(-threshold, threshold)  # a tensor threshold broadcasts as well


def kkt_residual(codes: torch.Tensor, grad: torch.Tensor, lam: float, nonneg: bool = False) -> torch.Tensor:
    """Largest violation of the lasso optimality conditions per row, in units of λ: [B].

    ``grad`` = z G − c = −(x − zD) Dᵀ is the smooth part's gradient. For z_k ≠ 0 the condition is
    ``grad_k = −λ sign(z_k)``; for z_k = 0 it is ``|grad_k| ≤ λ`` (``grad_k ≥ −λ`` when non-negative).
    """
    active = codes != 0
    on = (grad + lam * torch.sign(codes)).abs()
    off = (-grad - lam).clamp_min(0) if nonneg else (grad.abs() - lam).clamp_min(0)
    return torch.where(active, on, off).amax(1) / lam


def _measures(
    z: torch.Tensor, c: torch.Tensor, gram: torch.Tensor, xx: torch.Tensor, lam: float, nonneg: bool, stop: Stop
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Objective of every row [B] and what ``stop`` compares to its tolerance: the KKT residual
    ('kkt'), the duality gap ('gap') or nothing ('objective'), from the precomputed products only."""
    zg = z @ gram
    zc = (z * c).sum(1)
    rr = (xx - 2 * zc + (z * zg).sum(1)).clamp_min(0)  # ‖x − zD‖²
    objective = 0.5 * rr + lam * z.abs().sum(1)
    if stop == "objective":
        return objective, None
    grad = zg - c
    if stop == "kkt":
        return objective, kkt_residual(z, grad, lam, nonneg)
    # dual point ν = s·r with s chosen so that ‖D νᵀ‖∞ ≤ λ (D rᵀ = −grad); dual value ⟨x,ν⟩ − ½‖ν‖²
    corr = (-grad).amax(1) if nonneg else grad.abs().amax(1)
    s = (lam / corr.clamp_min(torch.finfo(z.dtype).tiny)).clamp(max=1.0)
    dual = s * (xx - zc) - 0.5 * s * s * rr
    return objective, objective - dual


def fista(
    x: torch.Tensor,
    dictionary: torch.Tensor,
    lam: float,
    *,
    gram: torch.Tensor | None = None,
    lipschitz_constant: float | None = None,
    init: torch.Tensor | None = None,
    max_iter: int = 1000,
    tol: float = 1e-4,
    stop: Stop = "objective",
    check_every: int = 10,
    nonneg: bool = False,
    accelerated: bool = True,
    restart: bool = True,
) -> LassoResult:
    """Solve the lasso for every row of ``x`` by FISTA (or ISTA with ``accelerated=False``).

    Args:
        x: signals [B, N], float32 or float64 (finite).
        dictionary: atoms [K, N] (one per row), same dtype and device as ``x``.
        lam: λ > 0, the weight of ‖z‖₁ (in the units of ½‖x‖²).
        gram: D Dᵀ [K, K] if already computed (e.g. reused over many batches).
        lipschitz_constant: the largest eigenvalue of the Gram matrix, if already known.
        init: warm start [B, K] (e.g. a previous solution or an encoder's prediction); zeros if None.
        max_iter: iteration cap per row.
        tol: tolerance of the stopping rule ``stop`` ('objective', 'kkt' or 'gap'; see the module).
        check_every: iterations between two stopping checks (each costs one more [B,K]x[K,K] product).
        nonneg: constrain the codes to z ≥ 0.
        accelerated: FISTA's momentum (True) or plain ISTA (False).
        restart: restart the momentum of a row when it points uphill (O'Donoghue & Candès 2015).

    Returns:
        :class:`LassoResult` with codes [B, K] in the dtype of ``x``.
    """
    gram = check_problem(x, dictionary, lam, stop, gram)
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise ValueError(f"max_iter must be an integer >= 1; got {max_iter!r}")
    if not (isinstance(check_every, int) and check_every >= 1):
        raise ValueError(f"check_every must be an integer >= 1; got {check_every!r}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0; got {tol!r}")
    k = dictionary.shape[0]
    lip = lipschitz_constant if lipschitz_constant is not None else lipschitz(gram)
    b = x.shape[0]
    out = torch.zeros(b, k, dtype=x.dtype, device=x.device)
    iterations = torch.full((b,), max_iter, dtype=torch.int64, device=x.device)
    converged = torch.zeros(b, dtype=torch.bool, device=x.device)
    if b == 0 or lip <= 0:  # an all-zero dictionary: z = 0 is optimal
        converged[:] = True
        iterations[:] = 0
        return LassoResult(out, iterations, converged)
    if init is not None:
        if tuple(init.shape) != (b, k):
            raise ValueError(f"init must be [B, K] = [{b}, {k}]; got shape {tuple(init.shape)}")
        z = init.to(x.dtype).clone()
        z = z.clamp_min(0) if nonneg else z
    else:
        z = torch.zeros(b, k, dtype=x.dtype, device=x.device)

    step, thr = 1.0 / lip, lam / lip
    c = x @ dictionary.T
    # one gradient step is y − (yG − c)/L = y M + c/L with M = I − G/L: a single fused product
    m = torch.eye(k, dtype=x.dtype, device=x.device) - step * gram
    sc = step * c
    xx = x.pow(2).sum(1)
    rows = torch.arange(b, device=x.device)  # which original rows are still iterating
    # the momentum sequence t: per row with restarts, else one number shared by every row
    y, t = z.clone(), torch.ones(b, 1, dtype=x.dtype, device=x.device) if restart else 1.0
    previous = _measures(z, c, gram, xx, lam, nonneg, stop)[0] if stop == "objective" else None
    done = 0
    while done < max_iter:
        for _ in range(min(check_every, max_iter - done)):
            z_new = shrink(torch.addmm(sc, y, m), thr, nonneg)
            if accelerated:
                diff = z_new - z
                if restart:
                    t_new = 0.5 * (1 + torch.sqrt(1 + 4 * t * t))
                    uphill = ((y - z_new) * diff).sum(1, keepdim=True) > 0
                    t_new = torch.where(uphill, torch.ones_like(t_new), t_new)
                    momentum = torch.where(uphill, torch.zeros_like(t), (t - 1) / t_new)
                    y = z_new + momentum * diff
                else:  # five tensor operations per iteration: what small batches need
                    t_new = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
                    y = torch.add(z_new, diff, alpha=(t - 1) / t_new)
                t = t_new
            else:
                y = z_new
            z = z_new
        done += min(check_every, max_iter - done)
        objective, criterion = _measures(z, c, gram, xx, lam, nonneg, stop)
        if stop == "objective":
            ok = (previous - objective).abs() <= tol * objective.abs().clamp_min(torch.finfo(x.dtype).tiny)
            previous = objective
        elif stop == "kkt":
            ok = criterion <= tol
        else:
            ok = criterion <= tol * objective.abs()
        if ok.any() or done >= max_iter:
            finished = ok | (done >= max_iter)
            idx = rows[finished]
            out[idx] = z[finished]
            iterations[idx] = done
            converged[idx] = ok[finished]
            keep = ~finished
            if not keep.any():
                break
            rows, z, y, c, sc, xx = rows[keep], z[keep], y[keep], c[keep], sc[keep], xx[keep]
            t = t[keep] if restart else t
            if previous is not None:
                previous = previous[keep]
    return LassoResult(out, iterations, converged)


def ista(x: torch.Tensor, dictionary: torch.Tensor, lam: float, **options) -> LassoResult:
    """ISTA: :func:`fista` without momentum (same arguments; Daubechies et al. 2004)."""
    return fista(x, dictionary, lam, accelerated=False, **options)

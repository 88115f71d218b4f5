"""Partition functions of binary RBMs: exact by enumeration, or annealed importance sampling.

AIS (Neal 2001) as set up for RBMs by Salakhutdinov & Murray (2008): anneal from a base-rate model
``p_A(v) ∝ exp(b_A · v)`` (independent visibles, the hidden units switched off) to the RBM through

    p*_β(v) = exp((1 - β) b_A · v + β b · v) · prod_j (1 + exp(β (c_j + v · W_j)))

with block-Gibbs transitions that leave each ``p_β`` invariant. The mean importance weight is an
unbiased estimate of ``Z / Z_A``; its logarithm is a (slightly downward-biased) estimate of log Z, so
log-likelihoods computed with it are estimates, not bounds. The spread is reported as Salakhutdinov &
Murray do: ``log(Ẑ ± 3 σ̂)`` with σ̂ the standard error of the mean weight.

References:
    Neal. Annealed importance sampling. Statistics and Computing 11, 2001.
    Salakhutdinov, Murray. On the quantitative analysis of deep belief networks. ICML 2008.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...draws import draw
from .units import bernoulli, over_states


@dataclass(frozen=True)
class LogPartition:
    """An estimate of log Z in nats, with its spread.

    ``low``/``high`` are ``log(Ẑ - 3σ̂)`` and ``log(Ẑ + 3σ̂)`` (``low`` is -inf when 3σ̂ >= Ẑ);
    ``stderr`` is the delta-method standard error of log Ẑ, ``σ̂ / Ẑ``. Exact values have all
    four equal (``stderr`` 0) and ``chains`` = ``betas`` = 0.
    """

    log_z: float
    low: float
    high: float
    stderr: float
    chains: int = 0
    betas: int = 0
    method: str = "exact"

    @classmethod
    def exact(cls, log_z: float) -> LogPartition:
        """An exact log Z (no spread)."""
        return cls(log_z, log_z, log_z, 0.0)

    def __str__(self) -> str:
        if self.method == "exact":
            return f"log Z = {self.log_z:.4f} nats (exact)"
        return (
            f"log Z = {self.log_z:.4f} nats, ±3σ interval [{self.low:.4f}, {self.high:.4f}] "
            f"(AIS, {self.chains} chains x {self.betas} temperatures)"
        )


class LogZCache:
    """log Z of a module's current parameters, recomputed only when one of them changed (in place or not)."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._log_z = math.nan

    def __call__(self, module: torch.nn.Module, log_partition: Callable[[], LogPartition | float]) -> float:
        """``log_partition()`` in nats (its ``log_z`` for a :class:`LogPartition`), cached per parameter state."""
        key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in module.parameters())
        if key != self._key:
            value = log_partition()
            self._key, self._log_z = key, value.log_z if isinstance(value, LogPartition) else value
        return self._log_z


def beta_schedule(n: int, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``n + 1`` inverse temperatures from 0 to 1, spaced as in Salakhutdinov & Murray (2008).

    Their 14,500 steps put 500 in [0, 0.5), 4,000 in [0.5, 0.9) and 10,000 in [0.9, 1]; the same
    proportions are kept for any ``n >= 3``.
    """
    if n < 3:
        raise ValueError(f"the AIS schedule needs at least 3 temperatures; got {n}")
    n1 = max(1, round(n * 500 / 14_500))
    n2 = max(1, round(n * 4_000 / 14_500))
    n3 = n - n1 - n2
    parts = [
        torch.linspace(0.0, 0.5, n1 + 1, dtype=dtype)[:-1],
        torch.linspace(0.5, 0.9, n2 + 1, dtype=dtype)[:-1],
        torch.linspace(0.9, 1.0, n3 + 1, dtype=dtype),
    ]
    return torch.cat(parts)


def exact_log_partition(weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor) -> float:
    """log Z of the binary RBM ``E(v, h) = -v·W·h - b·v - c·h`` by enumerating the smaller layer.

    weight [D, H], visible_bias [D], hidden_bias [H]; 2^min(D, H) terms, summed in float64 in chunks.
    """
    w, b, c = (t.detach().double() for t in (weight, visible_bias, hidden_bias))
    if w.shape[1] > w.shape[0]:  # enumerate the visibles instead: the same formula with the layers swapped
        w, b, c = w.T, c, b
    n = w.shape[1]
    if n > 26:
        raise ValueError(f"exact log Z enumerates 2^{n} states of the smaller layer; at most 2^26 are allowed")
    total = over_states(n, lambda h: h @ c + F.softplus(h @ w.T + b).sum(1), block=1 << min(n, 14), device=w.device)
    return float(torch.logsumexp(total, 0))


@torch.no_grad()
def ais_log_partition(
    weight: torch.Tensor,
    visible_bias: torch.Tensor,
    hidden_bias: torch.Tensor,
    *,
    base_bias: torch.Tensor | None = None,
    chains: int = 100,
    betas: int = 14_500,
    generator: torch.Generator | None = None,
) -> LogPartition:
    """AIS estimate of log Z for the binary RBM (weight [D, H], visible_bias [D], hidden_bias [H]).

    ``base_bias`` [D]: visible biases of the base-rate model (default zeros, the uniform
    distribution; the log-odds of the training data's pixel means anneal much faster).
    ``chains`` independent runs through ``betas`` temperatures (:func:`beta_schedule`). Matrix
    products run in the weights' dtype and device; the importance weights accumulate in float64.
    """
    if chains < 2:
        raise ValueError(f"chains must be >= 2 to estimate the spread; got {chains}")
    w, b, c = weight.detach(), visible_bias.detach(), hidden_bias.detach()
    d, h = w.shape
    b_a = torch.zeros_like(b) if base_bias is None else base_bias.to(b)
    schedule = beta_schedule(betas).tolist()
    log_z_base = float(F.softplus(b_a.double()).sum()) + h * math.log(2.0)

    def log_unnorm(v: torch.Tensor, beta: float, hidden_input: torch.Tensor) -> torch.Tensor:
        visible = (1.0 - beta) * (v @ b_a) + beta * (v @ b)
        return (visible + F.softplus(beta * hidden_input).sum(1)).double()

    v = bernoulli(torch.sigmoid(b_a).expand(chains, d), generator)
    log_w = torch.zeros(chains, dtype=torch.float64, device=w.device)
    for prev, beta in itertools.pairwise(schedule):
        hidden_input = v @ w + c
        log_w += log_unnorm(v, beta, hidden_input) - log_unnorm(v, prev, hidden_input)
        if beta < 1.0:
            hid = bernoulli(torch.sigmoid(beta * hidden_input), generator)
            v = bernoulli(torch.sigmoid((1.0 - beta) * b_a + beta * (hid @ w.T + b)), generator)
    return _summarise(log_w, log_z_base, betas)


def exact_gaussian_log_partition(
    weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor, sigma: torch.Tensor
) -> float:
    """log Z of the Gaussian-Bernoulli RBM ``E = Σ (v - b)²/2σ² - (v/σ)·W·h - c·h`` (nats).

    The visibles integrate out in closed form for every hidden state h:
    ``∫ exp(-E) dv = (2π)^(D/2) Π σ_i · exp(c·h + (b/σ)·W h + |W h|²/2)``, so log Z is a log-sum over
    the 2^H hidden states (H at most 26), in float64.
    """
    w, b, c, s = (t.detach().double() for t in (weight, visible_bias, hidden_bias, sigma))
    d, n = w.shape
    if n > 26:
        raise ValueError(f"exact log Z enumerates 2^{n} hidden states; at most 2^26 are allowed")
    const = 0.5 * d * math.log(2 * math.pi) + float(torch.log(s.expand(d)).sum())

    def log_integral(h: torch.Tensor) -> torch.Tensor:  # hidden states [S, H] -> [S], without const
        wh = h @ w.T  # [S, D]
        return h @ c + wh @ (b / s) + 0.5 * (wh * wh).sum(1)

    total = over_states(n, log_integral, block=1 << min(n, 14), device=w.device)
    return const + float(torch.logsumexp(total, 0))


@torch.no_grad()
def ais_gaussian_log_partition(
    weight: torch.Tensor,
    visible_bias: torch.Tensor,
    hidden_bias: torch.Tensor,
    sigma: torch.Tensor,
    *,
    chains: int = 100,
    betas: int = 14_500,
    generator: torch.Generator | None = None,
) -> LogPartition:
    """AIS estimate of log Z for the Gaussian-Bernoulli RBM (see :func:`exact_gaussian_log_partition`).

    Anneals the interaction only: ``p*_β(v) = exp(-Σ (v - b)²/2σ²) Π_j (1 + exp(β (c_j + (v/σ)·W_j)))``
    from independent Gaussians N(b, σ²) with the hidden units free (β = 0, Z_0 known) to the model.
    """
    if chains < 2:
        raise ValueError(f"chains must be >= 2 to estimate the spread; got {chains}")
    w, b, c, s = (t.detach() for t in (weight, visible_bias, hidden_bias, sigma))
    d, h = w.shape
    s = s.expand(d)
    schedule = beta_schedule(betas).tolist()
    log_z_base = 0.5 * d * math.log(2 * math.pi) + float(torch.log(s.double()).sum()) + h * math.log(2.0)

    def gaussian(mean: torch.Tensor) -> torch.Tensor:
        noise = draw(torch.randn, mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return mean + s * noise

    v = gaussian(b.expand(chains, d))
    log_w = torch.zeros(chains, dtype=torch.float64, device=w.device)
    for prev, beta in itertools.pairwise(schedule):
        hidden_input = (v / s) @ w + c
        log_w += (F.softplus(beta * hidden_input) - F.softplus(prev * hidden_input)).sum(1).double()
        if beta < 1.0:
            hid = bernoulli(torch.sigmoid(beta * hidden_input), generator)
            v = gaussian(b + s * beta * (hid @ w.T))
    return _summarise(log_w, log_z_base, betas)


def _summarise(log_w: torch.Tensor, log_z_base: float, betas: int) -> LogPartition:
    """log Z = log Z_A + log mean(w), with the ±3σ interval of the mean weight."""
    top = log_w.max()
    r = torch.exp(log_w - top)
    mean, sem = r.mean(), r.std() / math.sqrt(len(r))
    offset = float(top) + log_z_base
    low = float(torch.log(mean - 3 * sem)) + offset if mean > 3 * sem else -math.inf
    return LogPartition(
        log_z=float(torch.log(mean)) + offset,
        low=low,
        high=float(torch.log(mean + 3 * sem)) + offset,
        stderr=float(sem / mean),
        chains=len(r),
        betas=betas,
        method="ais",
    )

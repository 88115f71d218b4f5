"""The 1-D CDF flow: a learned CDF maps each variable to [0, 1] (the lecture's first flow).

A mixture of K logistics per variable, ``F(x) = sum_k pi_k sigmoid((x - mu_k) / s_k)``, is a smooth
increasing map from R onto (0, 1) whose derivative is the mixture's density; it is inverted by
bisection for sampling. The model pushes ``u = F(x)`` towards a chosen target on the range:
'uniform' (then ``p(x)`` is the mixture density itself), 'beta' (``u ~ Beta(a, b)``), or 'normal'
(``z = Phi^-1(u) ~ N(0, 1)``, the usual flow base). Before training ``u`` is far from the target;
after training the histogram of ``u`` (or ``z``) matches it. Each dimension of the data gets its own
CDF (a factorised density); the model is meant for 1-D (and per-coordinate) continuous data.

The mixture's CDF, density and monotone inversion are functions shared with Flow++'s coupling
layers (:func:`logistic_mixture`, :func:`logit_mixture`, :func:`invert_increasing`).

References:
    CS294-158 Deep Unsupervised Learning (Berkeley, 2020), lecture 3 (flows).
    https://sites.google.com/view/berkeley-cs294-158-sp20/home
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ...draws import draw
from ..base import check_fields, require_continuous
from .flow import LOG_2PI, Flow, FlowConfig
from .transforms import Compose, Flatten, Pair, Transform, batch_sum


def logistic_mixture(
    x: torch.Tensor, logits: torch.Tensor, means: torch.Tensor, log_scales: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A mixture of logistics at ``x``: ``(log F(x), log(1 - F(x)), log F'(x))``, each of x's shape.

    ``F(x) = sum_k pi_k sigmoid((x - mu_k) / s_k)`` with ``pi = softmax(logits)``, ``mu = means``,
    ``s = exp(log_scales)``; the parameters have x's shape plus a last dimension of K components (or
    broadcast to it). All three are computed in log space, stable far in the tails.
    """
    log_pi = F.log_softmax(logits, -1)
    t = (x[..., None] - means) * torch.exp(-log_scales)
    below, above = F.logsigmoid(t), F.logsigmoid(-t)
    return (
        torch.logsumexp(log_pi + below, -1),
        torch.logsumexp(log_pi + above, -1),
        torch.logsumexp(log_pi + below + above - log_scales, -1),
    )


def invert_increasing(
    fn: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    target: torch.Tensor,
    lo: torch.Tensor,
    hi: torch.Tensor,
    iterations: int,
) -> torch.Tensor:
    """x with ``fn(x)[0] = target`` elementwise, for an increasing ``fn: x -> (value, log of its
    derivative)`` and a bracket ``fn(lo) <= target <= fn(hi)``: ``iterations`` bisection steps
    (the bracket shrinks by 2^-iterations), then, when autograd needs it, one differentiable Newton
    step ``x - (fn(x) - target) / fn'(x)`` (exact at the solution: the implicit function's gradients).
    """
    with torch.no_grad():
        lo, hi = lo.expand_as(target).clone(), hi.expand_as(target).clone()
        for _ in range(iterations):
            mid = (lo + hi) / 2
            below = fn(mid)[0] < target
            lo = torch.where(below, mid, lo)
            hi = torch.where(below, hi, mid)
        x = (lo + hi) / 2
    if torch.is_grad_enabled():
        value, log_derivative = fn(x)
        if value.requires_grad or target.requires_grad:
            x = x - (value - target) * torch.exp(-log_derivative)
    return x


def logit_mixture(
    x: torch.Tensor, logits: torch.Tensor, means: torch.Tensor, log_scales: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flow++'s elementwise map ``y = sigmoid^-1(F(x))`` (F as in :func:`logistic_mixture`) and its
    log-derivative ``log F'(x) - log F(x) - log(1 - F(x))``, both of x's shape. With every component
    logistic(0, 1) it is the identity."""
    log_cdf, log_sf, log_density = logistic_mixture(x, logits, means, log_scales)
    return log_cdf - log_sf, log_density - log_cdf - log_sf


def logit_mixture_inverse(
    y: torch.Tensor, logits: torch.Tensor, means: torch.Tensor, log_scales: torch.Tensor, iterations: int = 100
) -> torch.Tensor:
    """x with ``sigmoid^-1(F(x)) = y``, by :func:`invert_increasing`. The bracket is exact: since
    sigmoid^-1(F(x)) lies between the smallest and the largest ``(x - mu_k) / s_k``, the solution lies
    between ``min_k`` and ``max_k`` of ``mu_k + s_k y``."""
    ends = (means + log_scales.exp() * y[..., None]).detach()
    return invert_increasing(
        lambda v: logit_mixture(v, logits, means, log_scales), y, ends.min(-1).values, ends.max(-1).values, iterations
    )


class MixtureLogisticCDF(Transform):
    """Elementwise x [B, D] -> u = F_d(x_d) in (0, 1), F_d a mixture of ``components`` logistics.

    ladj = sum_d log F_d'(x_d) (the mixture's log density). ``inverse`` bisects for ``iterations``
    steps between the components' extreme quantiles.
    """

    def __init__(self, dims: int, components: int = 8, iterations: int = 100) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(dims, components))
        self.means = nn.Parameter(torch.linspace(-2, 2, components).repeat(dims, 1))
        self.log_scales = nn.Parameter(torch.full((dims, components), math.log(0.5)))
        self.iterations = iterations

    def log_cdf(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log F(x), log(1 - F(x))), both [B, D], computed stably in the tails."""
        return logistic_mixture(x, self.logits, self.means, self.log_scales)[:2]

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        return logistic_mixture(x, self.logits, self.means, self.log_scales)[2]

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return self.log_cdf(x)[0].exp(), batch_sum(self.log_density(x))

    def _cdf(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_cdf, _, log_density = logistic_mixture(x, self.logits, self.means, self.log_scales)
        return log_cdf.exp(), log_density

    def inverse(self, u: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        spread = 40 * self.log_scales.exp()
        lo, hi = (self.means - spread).min(-1).values, (self.means + spread).max(-1).values
        x = invert_increasing(self._cdf, u, lo.detach(), hi.detach(), self.iterations)
        return x, -batch_sum(self.log_density(x))


class NormalQuantile(Transform):
    """u in (0, 1) -> z = Phi^-1(u), elementwise; ladj = sum(-log phi(z))."""

    def forward(self, u: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        z = torch.special.ndtri(u)
        return z, batch_sum(0.5 * z.pow(2) + 0.5 * LOG_2PI)

    def inverse(self, z: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return torch.special.ndtr(z), batch_sum(-0.5 * z.pow(2) - 0.5 * LOG_2PI)


@dataclass
class CDFFlowConfig(FlowConfig):
    """1-D CDF flow on continuous data.

    Attributes:
        components: logistic components per variable.
        target: distribution of u = F(x): 'normal' (z = Phi^-1(u) ~ N(0, 1)), 'uniform' or 'beta'.
        beta_a, beta_b: the Beta target's parameters.
    """

    shape: tuple[int, ...] = (1,)
    levels: int | None = None
    components: int = 8
    target: Literal["normal", "uniform", "beta"] = "normal"
    beta_a: float = 2.0
    beta_b: float = 5.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require_continuous(self, "the CDF flow")
        if self.num_classes:
            raise ValueError(f"the CDF flow is unconditional: num_classes must be 0; got {self.num_classes}")
        check_fields(
            self,
            [
                ("components", self.components >= 1, ">= 1"),
                ("target", self.target in ("normal", "uniform", "beta"), "'normal', 'uniform' or 'beta'"),
                ("beta_a", self.beta_a > 0, "> 0"),
                ("beta_b", self.beta_b > 0, "> 0"),
            ],
        )


class CDFFlow(Flow):
    """CDF flow: log_prob [B] nats (exact), encode -> u in (0, 1) or z ~ N(0, 1) [B, D]."""

    Config = CDFFlowConfig
    name = "cdf-flow"
    description = "1-D CDF flow: mixture-of-logistics CDF to [0, 1], uniform/beta/normal target"
    config: CDFFlowConfig

    def __init__(self, config: CDFFlowConfig) -> None:
        super().__init__(config)
        pieces = [Flatten(config.shape), MixtureLogisticCDF(config.dims, config.components)]
        if config.target == "normal":
            pieces.append(NormalQuantile())
        self.transform = Compose(*pieces)

    def base_log_prob(self, u: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.target == "normal":
            return super().base_log_prob(u)
        if c.target == "uniform":
            return u.new_zeros(u.shape[0])
        a, b = c.beta_a, c.beta_b
        log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        tiny = torch.finfo(u.dtype).tiny
        return ((a - 1) * torch.log(u.clamp_min(tiny)) + (b - 1) * torch.log1p(-u).clamp_min(-1e30) + log_norm).sum(1)

    def base_sample(self, n: int, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
        c = self.config
        if c.target == "normal":
            return super().base_sample(n, temperature, generator)
        shape = (n, c.dims)
        if c.target == "uniform":
            return draw(torch.rand, shape, generator=generator, device=self._device, dtype=self._dtype)
        # torch's Beta sampler takes no generator: inverse-CDF sampling keeps every draw on it
        u = draw(torch.rand, shape, generator=generator, device=self._device, dtype=torch.float64)
        return _beta_quantile(u, c.beta_a, c.beta_b).to(self._dtype)


def _beta_quantile(u: torch.Tensor, a: float, b: float) -> torch.Tensor:
    """Beta(a, b) quantile of u [float64]: the CDF integrated numerically on 4096 cells (midpoint rule),
    inverted by linear interpolation (error about 1e-6, plenty for sampling)."""
    grid = torch.linspace(0, 1, 4097, dtype=torch.float64, device=u.device)
    mid = (grid[1:] + grid[:-1]) / 2
    density = torch.exp((a - 1) * torch.log(mid) + (b - 1) * torch.log1p(-mid))
    cdf = torch.cat([torch.zeros(1, dtype=torch.float64, device=u.device), torch.cumsum(density, 0)])
    cdf = cdf / cdf[-1]
    idx = torch.searchsorted(cdf, u.clamp(0, 1)).clamp(1, len(grid) - 1)
    lo, hi = cdf[idx - 1], cdf[idx]
    w = ((u - lo) / (hi - lo).clamp_min(1e-300)).clamp(0, 1)
    return grid[idx - 1] + w * (grid[idx] - grid[idx - 1])

"""Entropy models of the latents, and their integer tables for real coding.

Two densities over integers, each evaluated as the mass of a unit interval so that training (with
additive uniform noise) and testing (with rounding) see the same quantity:

* :class:`FactorizedDensity` (Ballé et al. 2018, appendix 6.1): one learned, non-parametric
  cumulative per channel, used for the factorized-prior codec's ``y`` and the hyperprior's ``z``;
* :func:`gaussian_mass`: a Gaussian of given mean and scale per element (the hyperprior's
  ``p(y | z)``), with scales bounded below by :data:`SCALE_MIN`.

For coding, each density is turned once (after training) into integer tables: a row of counts per
distribution that sums to ``2**PRECISION``, over a contiguous support ``[offset, offset + length)``
plus a final escape symbol for values outside it. The Gaussian's rows are indexed by a fixed table
of scales (:data:`SCALES`); an element takes the row of the smallest table scale at least as large
as its own. Encoder and decoder read the same stored integers, so they never disagree.

References:
    Ballé, Minnen, Singh, Hwang, Johnston. Variational image compression with a scale hyperprior.
    ICLR 2018.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

PRECISION = 16
LIKELIHOOD_MIN = 1e-9
SCALE_MIN = 0.11
SCALES = torch.exp(torch.linspace(math.log(SCALE_MIN), math.log(64.0), 64, dtype=torch.float64))
TAIL = 1e-9  # mass beyond a table's support, per side, left to the escape symbol


def interval_mass(lower_logit: torch.Tensor, upper_logit: torch.Tensor) -> torch.Tensor:
    """sigmoid(upper) - sigmoid(lower), computed on the side of the median where it is accurate."""
    sign = -torch.sign(lower_logit + upper_logit).detach()
    return (torch.sigmoid(sign * upper_logit) - torch.sigmoid(sign * lower_logit)).abs()


class FactorizedDensity(nn.Module):
    """A learned univariate density per channel; ``mass(v)`` is P(v - 1/2 < Y < v + 1/2).

    ``v`` is ``[B, C, H, W]``; the cumulative is a monotone network ``R -> (0, 1)`` per channel made
    of ``filters`` hidden layers (softplus weights, tanh-gated nonlinearities).
    """

    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0):
        super().__init__()
        widths = (1, *filters, 1)
        scale = init_scale ** (1 / (len(widths) - 1))
        self.matrices, self.biases, self.factors = nn.ParameterList(), nn.ParameterList(), nn.ParameterList()
        for i in range(len(widths) - 1):
            init = math.log(math.expm1(1 / scale / widths[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, widths[i + 1], widths[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, widths[i + 1], 1) - 0.5))
            if i < len(widths) - 2:
                self.factors.append(nn.Parameter(torch.zeros(channels, widths[i + 1], 1)))

    def logits(self, v: torch.Tensor) -> torch.Tensor:
        """Logit of the cumulative at ``v`` [C, N] (per channel) -> [C, N]."""
        h = v[:, None, :]
        for i, (matrix, bias) in enumerate(zip(self.matrices, self.biases, strict=True)):
            h = torch.matmul(F.softplus(matrix), h) + bias
            if i < len(self.factors):
                h = h + torch.tanh(self.factors[i]) * torch.tanh(h)
        return h[:, 0, :]

    def mass(self, v: torch.Tensor) -> torch.Tensor:
        """P(unit interval around ``v``) for ``v`` [B, C, H, W], floored at LIKELIHOOD_MIN."""
        b, c, h, w = v.shape
        flat = v.transpose(0, 1).reshape(c, -1)
        upper, lower = self.logits(flat + 0.5), self.logits(flat - 0.5)
        mass = interval_mass(lower, upper).reshape(c, b, h, w).transpose(0, 1)
        return mass.clamp_min(LIKELIHOOD_MIN)

    @torch.no_grad()
    def tables(self, radius: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Integer tables of every channel over the integers in ``[-radius, radius]`` (trimmed to where
        the mass is): counts int32 [C, 2 * radius + 2], offsets int32 [C], lengths int32 [C]."""
        grid = torch.arange(-radius, radius + 1, dtype=torch.float64)
        exact = copy.deepcopy(self).double()  # float64, so that tails of 1e-9 are resolved
        grid = grid.expand(self.matrices[0].shape[0], -1)
        upper, lower = exact.logits(grid + 0.5), exact.logits(grid - 0.5)
        mass = interval_mass(lower, upper)
        cdf_upper = torch.sigmoid(upper)
        return _support_tables(mass, 1 - cdf_upper, -radius)


def gaussian_mass(v: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """P(v - 1/2 < Y < v + 1/2) for Y ~ N(mean, max(scale, SCALE_MIN)^2), elementwise, floored."""
    scale = scale.clamp_min(SCALE_MIN)
    centred = (v - mean).abs()  # the lower tail is the accurate side
    upper = torch.special.ndtr((0.5 - centred) / scale)
    lower = torch.special.ndtr((-0.5 - centred) / scale)
    return (upper - lower).clamp_min(LIKELIHOOD_MIN)


def scale_index(scale: torch.Tensor) -> torch.Tensor:
    """Row of :data:`SCALES` for each scale: the smallest table scale >= it (clamped): int64."""
    table = SCALES.to(scale.device, torch.float64)
    return torch.searchsorted(table, scale.double().contiguous()).clamp_(max=len(table) - 1)


def gaussian_tables() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Integer tables of N(0, s^2) at every s of :data:`SCALES`, over a support of +- about 6.1 s."""
    radius = math.ceil(float(SCALES[-1]) * 6.1) + 1
    grid = torch.arange(-radius, radius + 1, dtype=torch.float64)
    s = SCALES[:, None]
    mass = torch.special.ndtr((0.5 - grid.abs()) / s) - torch.special.ndtr((-0.5 - grid.abs()) / s)
    upper_tail = torch.special.ndtr(-(grid + 0.5) / s)
    return _support_tables(mass, upper_tail, -radius)


def _support_tables(
    mass: torch.Tensor, upper_tail: torch.Tensor, first: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Integer tables for rows of interval masses ``mass`` [K, G] over the integers ``first, first + 1,
    ...``; ``upper_tail[k, g]`` is P(Y > first + g + 1/2).

    Each row keeps the integers v with P(Y < v + 1/2) > TAIL and P(Y > v - 1/2) > TAIL, and ends with
    the escape symbol, which takes the mass left outside. Returns counts int32 [K, G + 1] (row k:
    ``lengths[k]`` symbol counts, then the escape count, then zeros; every used entry >= 1, each row
    summing to ``2**PRECISION``), offsets int32 [K] (the value of a row's first symbol) and lengths.
    """
    rows, g = mass.shape
    lower_tail = (1 - upper_tail - mass).clamp_min(0)  # P(Y < v - 1/2)
    kept = (lower_tail + mass > TAIL) & (upper_tail + mass > TAIL)
    counts = torch.zeros(rows, g + 1, dtype=torch.int32)
    offsets = torch.empty(rows, dtype=torch.int32)
    lengths = torch.empty(rows, dtype=torch.int32)
    for k in range(rows):
        where = kept[k].nonzero()
        a, b = (int(where[0]), int(where[-1]) + 1) if len(where) else (int(mass[k].argmax()), int(mass[k].argmax()) + 1)
        p = mass[k, a:b].clamp_min(0)
        probs = torch.cat([p, (1 - p.sum()).clamp_min(0).reshape(1)])
        counts[k, : b - a + 1] = _quantise(probs, 1 << PRECISION).to(torch.int32)
        offsets[k], lengths[k] = first + a, b - a
    return counts, offsets, lengths


def _quantise(probs: torch.Tensor, total: int) -> torch.Tensor:
    """Integer counts >= 1 summing exactly to ``total``, close to ``probs * total`` (int64)."""
    n = len(probs)
    if n > total // 2:
        raise ValueError(f"a table of {n} symbols does not fit a precision of {total}")
    ideal = probs / probs.sum() * (total - n)
    counts = ideal.floor().to(torch.int64) + 1
    deficit = total - int(counts.sum())  # in [0, n): hand the rest to the largest remainders
    order = torch.argsort(-(ideal - ideal.floor()), stable=True)
    counts[order[:deficit]] += 1
    return counts

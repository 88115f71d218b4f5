"""Histograms: the non-parametric density estimate the lecture starts from.

* :class:`PixelHistogram` treats every pixel of an image as an independent categorical variable,
  ``p(x) = prod_d p_d(x_d)`` with ``p_d(v) = (n_dv + alpha) / (n + alpha * levels)``: the
  independent-pixel baseline every image density model must beat.
* :class:`Histogram` bins 1-D or 2-D continuous data on a regular grid whose bin width follows
  Scott's rule, ``h_j = 3.49 sigma_j n^(-1/(d+2))`` (Scott 1979; for d = 1 the familiar
  ``3.49 sigma n^(-1/3)``), and is piecewise constant: ``p(x) = c_b / (n * volume)`` in bin b.

Both are fitted by counting, batch by batch, through the engine's ``update``; counts are averaged
over the epochs seen, so more epochs of the same data do not weaken the smoothing, and with
dynamic binarisation the counts become the expected counts over the resampled data.

References:
    Scott. On optimal and data-based histograms. Biometrika 66(3), 1979.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ...distributions import discrete
from ..base import Model, ModelConfig, check_fields, statistic


def _new_epoch(model: Any, epoch: int | None) -> None:
    """Count the epochs (passes over the data) the model has seen, from the epoch the engine passes."""
    current = -1 if epoch is None else int(epoch)
    if model.passes.item() == 0 or current != int(model.last_epoch.item()):
        model.passes.add_(1)
        model.last_epoch.fill_(current)


# -- images: independent pixels ---------------------------------------------------------------------
@dataclass
class PixelHistogramConfig(ModelConfig):
    """Independent-pixel histogram.

    Attributes:
        alpha: pseudo-count added to every level of every pixel (Laplace smoothing for 1; the MLE
            for 0, which gives an infinite NLL to any level never seen at a pixel).
    """

    alpha: float = 1.0

    def __post_init__(self) -> None:
        if self.levels is None or self.levels < 2:
            raise ValueError(
                f"pixel-histogram models discrete images: levels must be >= 2; got {self.levels} "
                "(for continuous data use histogram, gaussian or gmm)"
            )
        check_fields(self, [("alpha", self.alpha >= 0, "a pseudo-count >= 0")])


class PixelHistogram(Model):
    """Every pixel an independent categorical over ``levels`` values.

    ``update(x)``: x uint8 [B, C, H, W] -> adds the batch's counts. ``log_prob(x)`` -> [B] nats,
    exact. ``sample(n)`` -> uint8 [n, C, H, W].
    """

    Config = PixelHistogramConfig
    name = "pixel-histogram"
    description = "Independent categorical per pixel, by counting (the independent-pixel baseline)"
    config: PixelHistogramConfig

    def __init__(self, config: PixelHistogramConfig) -> None:
        super().__init__(config)
        self.counts = statistic(config.dims, config.levels)  # summed over all epochs
        self.passes = statistic(())  # epochs counted
        self.last_epoch = statistic(())

    def update(
        self,
        x: torch.Tensor,
        *,
        step: int = 0,
        generator: torch.Generator | None = None,
        reduce: Any = None,
        epoch: int | None = None,
    ) -> dict[str, float]:
        """Add the counts of batch ``x`` (averaged across DDP ranks by ``reduce``)."""
        self.check_data(x)
        _new_epoch(self, epoch)
        batch = torch.nn.functional.one_hot(x.flatten(1).long(), self.config.levels).sum(0).to(self.counts.dtype)
        self.counts.add_(reduce(batch) if reduce is not None else batch)
        return {"examples": float(len(x))}

    def log_probs(self) -> torch.Tensor:
        """Log-probability of every level of every pixel, [D, levels] in nats."""
        if self.passes.item() == 0 and self.config.alpha == 0:
            raise RuntimeError("the pixel histogram has seen no data and alpha = 0: it has no density yet")
        counts = self.counts / self.passes.clamp(min=1) + self.config.alpha
        return counts.log() - counts.sum(1, keepdim=True).log()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-likelihood in nats, [B]: the sum of the pixels' log-probabilities."""
        self.check_data(x)
        table = self.log_probs()
        flat = x.flatten(1).long()
        return table.unsqueeze(0).expand(len(x), -1, -1).gather(2, flat.unsqueeze(2)).squeeze(2).sum(1)

    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images, uint8 [n, C, H, W]; ``temperature`` divides the log-probabilities."""
        if n < 0 or temperature <= 0:
            raise ValueError(f"need n >= 0 and temperature > 0; got n={n}, temperature={temperature}")
        logits = self.log_probs().unsqueeze(0).expand(n, -1, -1)  # [n, D, levels]
        if self.config.levels == 2:  # the shared sampler takes one logit per dimension for binary data
            logits = (logits[..., 1] - logits[..., 0]).unsqueeze(-1)
        u = torch.rand(n, self.config.dims, generator=generator, dtype=torch.float64).to(logits.device)
        values = discrete.sample(logits, u, self.config.levels, temperature)
        return values.view(n, *self.config.shape).to(torch.uint8)


# -- continuous 1-D and 2-D data: a binned histogram -----------------------------------------------
@dataclass
class HistogramConfig(ModelConfig):
    """Binned histogram of 1-D or 2-D continuous data.

    Attributes:
        bins: bins per dimension; 0 chooses them by Scott's rule from the first epoch's moments.
        max_bins: the most bins per dimension (the size of the count table).
        support_sd: the grid covers mean +- support_sd standard deviations in every dimension;
            outside it the density is zero.
        alpha: pseudo-count added to every bin (0 = the maximum-likelihood histogram).
    """

    shape: tuple[int, ...] = (2,)
    levels: int | None = None
    bins: int = 0
    max_bins: int = 128
    support_sd: float = 5.0
    alpha: float = 0.01

    def __post_init__(self) -> None:
        if self.levels is not None or len(self.shape) != 1 or self.shape[0] not in (1, 2):
            raise ValueError(
                "histogram models 1-D or 2-D continuous data (shape (1,) or (2,), levels None); "
                f"got shape {tuple(self.shape)}, levels {self.levels} (images: use pixel-histogram)"
            )
        if not 0 <= self.bins <= self.max_bins or self.max_bins < 1:
            raise ValueError(f"bins must be in [0, max_bins={self.max_bins}] (0 = Scott's rule); got {self.bins}")
        if not self.support_sd > 0 or not self.alpha >= 0:
            raise ValueError(f"support_sd must be > 0 and alpha >= 0; got {self.support_sd} and {self.alpha}")


def scott_bin_width(sd: torch.Tensor, n: float) -> torch.Tensor:
    """Scott's rule for a d-dimensional histogram: ``h_j = 3.49 sd_j n^(-1/(d+2))``, per dimension."""
    return 3.49 * sd * n ** (-1.0 / (sd.numel() + 2))


class Histogram(Model):
    """A regular-grid histogram of 1-D or 2-D continuous data.

    The first epoch gathers the moments that place the grid (mean +- ``support_sd`` sd, bin width by
    Scott's rule); from the second epoch on, points are counted into the bins. Until the grid exists
    the density is uniform over that box (a one-bin histogram), so train for 2 epochs or more.

    ``log_prob(x)``: x float [B, d] -> [B] nats, exact (-inf outside the grid). ``sample(n)`` -> [n, d].
    """

    Config = HistogramConfig
    name = "histogram"
    description = "Binned 1-D/2-D histogram, bin width by Scott's rule"
    config: HistogramConfig

    def __init__(self, config: HistogramConfig) -> None:
        super().__init__(config)
        d, m = config.dims, config.max_bins
        self.moments = statistic(3, d)  # n, sum x, sum x^2 per dimension (from the first epoch)
        self.low = statistic(d)  # the grid: lower corner, bin widths, bins per dimension
        self.width = statistic(d)
        self.bins = statistic(d)
        self.counts = statistic(*([m] * d))
        self.passes = statistic(())  # epochs counted into the bins
        self.last_epoch = statistic(())
        self.first_epoch = statistic(())  # the epoch whose moments place the grid
        self.first_epoch.fill_(-2)

    # -- the grid -----------------------------------------------------------------------------------
    def _box(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Lower corner of the grid's box and the data's sd [d]; mean 0 and sd 1 before any data."""
        n, s1, s2 = self.moments
        if n[0] <= 1:
            sd = torch.ones_like(s1)
            return -self.config.support_sd * sd, sd
        mean = s1 / n
        sd = (s2 / n - mean**2).clamp(min=0).sqrt().clamp(min=1e-12)
        return mean - self.config.support_sd * sd, sd

    def _place_grid(self) -> None:
        low, sd = self._box()
        span = 2 * self.config.support_sd * sd
        if self.config.bins:
            bins = torch.full_like(sd, float(self.config.bins))
        else:
            bins = (span / scott_bin_width(sd, float(self.moments[0, 0]))).ceil().clamp(1, self.config.max_bins)
        self.low.copy_(low)
        self.bins.copy_(bins)
        self.width.copy_(span / bins)

    @property
    def has_grid(self) -> bool:
        return bool(self.bins[0] > 0)

    def _bin_index(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat bin index [B] (into the [max_bins]^d table) and whether each point is on the grid."""
        cell = ((x - self.low) / self.width).floor()
        inside = ((cell >= 0) & (cell < self.bins)).all(1)
        cell = cell.clamp(min=0).minimum(self.bins - 1).long()
        flat = cell[:, 0] if self.config.dims == 1 else cell[:, 0] * self.config.max_bins + cell[:, 1]
        return flat, inside

    # -- protocol -----------------------------------------------------------------------------------
    def update(
        self,
        x: torch.Tensor,
        *,
        step: int = 0,
        generator: torch.Generator | None = None,
        reduce: Any = None,
        epoch: int | None = None,
    ) -> dict[str, float]:
        """First epoch: add the batch's moments. Later epochs: add the batch's bin counts."""
        self.check_data(x)
        reduce = reduce or (lambda v: v)
        epoch = -1 if epoch is None else int(epoch)
        if self.first_epoch.item() == -2:
            self.first_epoch.fill_(epoch)
        if epoch == int(self.first_epoch.item()):
            x = x.to(self.moments.dtype)
            batch = torch.stack([torch.full_like(x[0], len(x)), x.sum(0), (x * x).sum(0)])
            self.moments.add_(reduce(batch))
            return {"examples": float(len(x))}
        if not self.has_grid:
            self._place_grid()
        _new_epoch(self, epoch)
        flat, inside = self._bin_index(x.to(self.low.dtype))
        batch = torch.bincount(flat[inside], minlength=self.counts.numel()).to(self.counts.dtype)
        self.counts.add_(reduce(batch).view_as(self.counts))
        return {"examples": float(len(x)), "outside": float((~inside).sum())}

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density in nats per example, [B]; -inf outside the grid."""
        self.check_data(x)
        x = x.to(self.low.dtype)
        if not self.has_grid:  # after the moments epoch: uniform over the box
            low, sd = self._box()
            span = 2 * self.config.support_sd * sd
            inside = ((x >= low) & (x < low + span)).all(1)
            value = -span.log().sum()
            return torch.where(inside, value, torch.full_like(value, -math.inf)).expand(len(x)).clone()
        log_mass = self.log_prob_table().flatten()
        flat, inside = self._bin_index(x)
        value = log_mass[flat] - self.width.log().sum()
        return torch.where(inside, value, torch.full_like(value, -math.inf))

    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` points [n, d]: a bin by its mass, then uniformly inside it (``temperature`` must be 1)."""
        if n < 0 or temperature != 1.0:
            raise ValueError(f"need n >= 0 and temperature 1 (a histogram has no temperature); got {n}, {temperature}")
        if not self.has_grid:  # a one-bin histogram: uniform over the box
            low, sd = self._box()
            u = torch.rand(n, self.config.dims, generator=generator, dtype=torch.float64).to(low.device)
            return (low + u * 2 * self.config.support_sd * sd).to(low.dtype)
        mass = self.log_prob_table().exp().flatten().double().cpu()
        flat = torch.multinomial(mass, n, replacement=True, generator=generator)
        m = self.config.max_bins
        cell = flat.unsqueeze(1) if self.config.dims == 1 else torch.stack([flat // m, flat % m], 1)
        u = torch.rand(n, self.config.dims, generator=generator, dtype=torch.float64)
        x = self.low.double().cpu() + (cell + u) * self.width.double().cpu()
        return x.to(self.low.dtype).to(self.low.device)

    def log_prob_table(self) -> torch.Tensor:
        """Log-mass of every bin, shaped like the count table (-inf for bins beyond the grid)."""
        index = tuple(slice(0, int(b)) for b in self.bins)
        mask = torch.zeros_like(self.counts, dtype=torch.bool)
        mask[index] = True
        counts = torch.where(mask, self.counts / self.passes.clamp(min=1) + self.config.alpha, 0)
        return counts.log() - counts.sum().log()

"""What every autoregressive model of discrete data shares: given the parameters of each
dimension's conditional ``p(x_d | x_<d)``, the exact log-likelihood, the training loss, and
sampling (naive, cached, tempered, conditional, and completion of a partly given image).

A subclass implements :meth:`AutoregressiveModel.conditionals` (data scaled to floats -> the
parameters of every conditional, in one pass) and, optionally, a cached sampler
:meth:`AutoregressiveModel._sample_cached` that reuses computation between steps.

Generation order: for images [C, H, W], pixels in raster order (row by row, left to right) and,
within a pixel, channels in order (R -> G -> B); for any other shape, the flattened order.
Sampling draws one uniform per dimension up front (``generator``), in generation order, and
inverts each conditional's CDF at it (:func:`untaught.distributions.discrete.sample`), so the
naive and the cached sampler give the same samples for the same seed.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import torch

from ...distributions import discrete, logistic_mixture
from ..base import Model, ModelConfig


def generation_order(shape: tuple[int, ...]) -> torch.Tensor:
    """``position[d]``: where flattened dimension ``d`` of data of ``shape`` comes in generation order.

    [C, H, W]: pixel (i, j) channel c comes at ``(i * W + j) * C + c``; other shapes: ``d``.
    """
    if len(shape) != 3:
        return torch.arange(math.prod(shape))
    c, h, w = shape
    ci, ii, jj = torch.meshgrid(torch.arange(c), torch.arange(h), torch.arange(w), indexing="ij")
    return ((ii * w + jj) * c + ci).flatten()


class AutoregressiveModel(Model, ABC):
    """Base of the autoregressive models: exact ``log_prob``, ``loss`` and ``sample`` from
    :meth:`conditionals`. ``config.levels`` must be >= 2 (discrete data)."""

    config: ModelConfig

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        if config.levels is None or config.levels < 2:
            raise ValueError(f"{type(self).__name__} models discrete data: levels must be >= 2; got {config.levels}")
        mixtures = getattr(config, "mixtures", 0)  # > 0: discretized logistic mixture (PixelCNN++)
        self.likelihood = logistic_mixture if mixtures else discrete
        self.params_per_dim = (
            logistic_mixture.params_per_dim(mixtures) if mixtures else discrete.params_per_dim(config.levels)
        )

    # -- what a subclass provides ----------------------------------------------------------------
    @abstractmethod
    def conditionals(self, h: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Parameters of every dimension's conditional.

        h: float [B, *shape], the data scaled to [0, 1] (:meth:`scale`); returns
        [B, *shape, P] (P = 1 logit for binary data, ``levels`` logits otherwise, or 3 K for a
        mixture of K discretized logistics when the config has ``mixtures`` = K). Entry d may depend
        only on the dimensions before d in generation order (and on ``condition``).
        """

    def _sample_cached(
        self, x: torch.Tensor, u: torch.Tensor, start: int, temperature: float, condition: torch.Tensor | None
    ) -> torch.Tensor | None:
        """Fill ``x`` (int64 [n, *shape]) from generation position ``start`` on, reusing
        computation between steps; return None if the model has no cached sampler."""
        return None

    # -- shared machinery -------------------------------------------------------------------------
    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """Integer levels -> floats in [0, 1] in the parameters' dtype: ``x / (levels - 1)``."""
        dtype = next(self.parameters()).dtype
        return x.to(dtype) / (self.config.levels - 1)

    def order(self) -> torch.Tensor:
        """``position[d]`` of every flattened dimension d in generation order (see module doc)."""
        return generation_order(tuple(self.config.shape))

    def _log_prob(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        self.check_data(x)
        params = self.conditionals(self.scale(x), condition)
        return self.likelihood.log_prob(params, x, self.config.levels).flatten(1).sum(1)

    def _loss(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        nll = -self._log_prob(x, condition).mean()
        return nll, {"bpd": nll / (self.config.dims * math.log(2))}

    def loss(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        """Mean NLL of the batch in nats (and its bits/dim as a metric)."""
        return self._loss(x)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-likelihood in nats: x uint8 [B, *shape] in [0, levels) -> [B]."""
        return self._log_prob(x)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        given: torch.Tensor | None = None,
        known: int = 0,
        fast: bool = True,
    ) -> torch.Tensor:
        """``n`` samples, uint8 [n, *shape].

        ``temperature`` divides every logit (1 = the model). ``given`` (uint8 [n, *shape]) with
        ``known`` > 0 keeps the first ``known`` dimensions in generation order and samples the rest
        from the model's exact conditional (completion; see :meth:`complete`). ``fast`` uses the
        model's cached sampler when it has one; with the same generator both give the same samples.
        """
        return self._sample(n, temperature, generator, None, given, known, fast)

    @torch.no_grad()
    def complete(
        self,
        x: torch.Tensor,
        rows: int,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Keep the top ``rows`` rows of images ``x`` [n, C, H, W] and sample the rest: uint8 [n, C, H, W]."""
        if len(self.config.shape) != 3:
            raise ValueError(f"complete needs image data [C, H, W]; this model's shape is {self.config.shape}")
        c, h, w = self.config.shape
        if not 0 <= rows <= h:
            raise ValueError(f"rows must be in [0, {h}]; got {rows}")
        known = rows * w * c
        top = torch.zeros(self.config.shape, dtype=torch.bool)
        top[:, :rows] = True
        if not torch.equal((self.order() < known).view(self.config.shape), top):
            raise ValueError("complete(rows=...) needs the raster order; use sample(given=..., known=...) instead")
        return self.sample(len(x), temperature=temperature, generator=generator, given=x, known=known)

    def _sample(
        self,
        n: int,
        temperature: float,
        generator: torch.Generator | None,
        condition: torch.Tensor | None,
        given: torch.Tensor | None,
        known: int,
        fast: bool,
    ) -> torch.Tensor:
        dims = self.config.dims
        if n < 0 or temperature <= 0:
            raise ValueError(f"need n >= 0 and temperature > 0; got n={n}, temperature={temperature}")
        if not 0 <= known <= dims:
            raise ValueError(f"known must be in [0, {dims}] (dimensions in generation order); got {known}")
        device = next(self.parameters()).device
        x = torch.zeros(n, *self.config.shape, dtype=torch.long, device=device)
        if known:
            if given is None:
                raise ValueError(f"known={known} needs the partly given images `given`")
            self.check_data(given, "given")
            if len(given) != n:
                raise ValueError(f"given must hold n={n} images; got {len(given)}")
            keep = (self.order() < known).view(self.config.shape).to(device)
            x = torch.where(keep, given.to(device).long(), x)
        if n == 0:
            return x.to(torch.uint8)
        u = torch.rand(n, dims, generator=generator, dtype=torch.float64).to(device)  # [n, position]
        was_training = self.training
        self.eval()
        try:
            done = self._sample_cached(x, u, known, temperature, condition) if fast else None
            if done is None:
                done = self._sample_naive(x, u, known, temperature, condition)
        finally:
            self.train(was_training)
        return done.to(torch.uint8)

    def _sample_naive(
        self, x: torch.Tensor, u: torch.Tensor, start: int, temperature: float, condition: torch.Tensor | None
    ) -> torch.Tensor:
        """One full pass of the network per dimension."""
        dims_in_order = torch.argsort(self.order()).tolist()
        flat = x.view(len(x), -1)
        for pos in range(start, self.config.dims):
            d = dims_in_order[pos]
            params = self.conditionals(self.scale(x), condition).flatten(1, -2)[:, d]
            flat[:, d] = self.draw(params, u[:, pos], temperature)
        return x

    def draw(self, params: torch.Tensor, u: torch.Tensor, temperature: float) -> torch.Tensor:
        """Values [...] from conditionals ``params`` [..., P] at uniforms ``u`` [...] (CDF inversion)."""
        return self.likelihood.sample(params, u, self.config.levels, temperature)

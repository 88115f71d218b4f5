"""The flow model: a transform from data to noise, a base density, and dequantisation.

A :class:`Flow` holds a :class:`~.transforms.Transform` ``f`` from data to a latent ``z`` [B, D] and
a base density (standard normal unless a model says otherwise), so that

    log p(x) = log p_base(f(x)) + log|det df/dx|                      (nats; exact for continuous data)

``encode`` is ``f`` (data -> noise, [B, D]); ``decode`` is ``f^-1``; ``sample`` decodes base draws
(scaled by ``temperature``).

Discrete data (integer levels, e.g. 17 for digits, 256 for 8-bit images) are dequantised uniformly
inside ``loss`` and ``log_prob``: ``y = (x + u) / levels`` with ``u ~ U[0, 1)^D``, and the model reports

    log P(x) >= E_u[log p(y)] - D log(levels)

so ``log_prob`` of discrete data is a (single- or ``samples``-draw importance-weighted, default
``iwae_k``) stochastic lower bound on the discrete log-likelihood, and its ``log_prob_kind`` is
"lower bound"; the NLL in nats and bits/dim is then an upper bound over the same discrete space as
every other model's. In general ``log P(x) >= E_q[log p(y) - log q(y | x)]`` for any density q on
x's cell: :meth:`Flow.dequantise` draws ``y ~ q(y | x)`` and returns ``log q``, uniform here
(``log q = D log(levels)``), a learned conditional flow in Flow++ (variational dequantisation).
The continuous density is the flow's density restricted to the data cube, so the discrete model
``P(x) = integral of p over x's cell`` sums to at most one (the standard practice; mass the flow
puts outside the cube only makes the reported NLL worse). Evaluation draws ``u`` from a fixed
seed unless given a ``generator``, so it is reproducible.
Decoding and sampling map a continuous ``y`` back to the level ``floor(y * levels)``.

Labels: with ``num_classes`` > 0 the flow is class-conditional (the one-hot label is the context of
every conditioner), and ``loss``/``log_prob``/``sample`` take ``condition`` [B] class indices.

References:
    Dinh, Krueger, Bengio. NICE. 2014. https://arxiv.org/abs/1410.8516
    Theis, van den Oord, Bethge. A note on the evaluation of generative models. ICLR 2016 (dequantisation).
    https://arxiv.org/abs/1511.01844
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...data.transforms import dequantization_nats, dequantize
from ...draws import draw
from ..base import Model, ModelConfig, check_fields
from .transforms import Logit, Shift, Transform

LOG_2PI = math.log(2 * math.pi)


@dataclass
class FlowConfig(ModelConfig):
    """Fields every flow has.

    Attributes:
        preprocess: for discrete data, the map applied to the dequantised y in [0, 1) before the
            flow (its log-determinant is counted): 'logit' (RealNVP, alpha 0.05), 'center' (y - 0.5,
            Glow) or 'none'. Ignored for continuous data.
        num_classes: > 0 makes the flow class-conditional on labels in [0, num_classes).
        iwae_k: dequantisation draws of ``log_prob`` for discrete data (importance-weighted
            bound; validation, test, ``untaught eval --iwae-k``).
    """

    preprocess: str = "logit"
    num_classes: int = 0
    iwae_k: int = 1

    def __post_init__(self) -> None:
        check_fields(
            self,
            [
                ("preprocess", self.preprocess in ("logit", "center", "none"), "'logit', 'center' or 'none'"),
                ("num_classes", self.num_classes >= 0, ">= 0"),
                ("iwae_k", self.iwae_k >= 1, "an integer >= 1 (dequantisation draws)"),
                ("levels", self.levels is None or 2 <= self.levels <= 256, "None (continuous data) or in [2, 256]"),
            ],
        )


def check_multiscale_shape(shape: tuple[int, ...], squeezes: int, setting: str, model: str, min_dims: int = 1) -> None:
    """Raise ``ValueError`` unless ``shape`` is an image (C, H, W) whose H and W survive ``squeezes``
    2x2 squeezes (``setting`` names the options that ask for them), or a vector (D,) of D >= ``min_dims``."""
    if len(shape) == 3:
        _, h, w = shape
        if h % 2**squeezes or w % 2**squeezes:
            raise ValueError(
                f"{setting} squeezes {squeezes} times: height and width must be divisible by {2**squeezes}; "
                f"got shape {shape}"
            )
    elif len(shape) != 1 or shape[0] < min_dims:
        vector = "(D,)" if min_dims <= 1 else f"(D >= {min_dims},)"
        raise ValueError(f"{model} models vectors {vector} or images (C, H, W); got shape {shape}")


class Flow(Model):
    """Base of every flow model: subclasses build ``self.transform`` (data -> [B, D] latent)."""

    config: FlowConfig

    def __init__(self, config: FlowConfig) -> None:
        super().__init__(config)
        self.log_prob_kind = "exact" if config.levels is None else "lower bound"
        self.pre: Transform | None = None
        if config.levels is not None:
            self.pre = {"logit": Logit(0.05), "center": Shift(-0.5), "none": None}[config.preprocess]
        self.transform: Transform

    # -- pieces subclasses may override -------------------------------------------------------
    def base_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Standard normal log-density of z [B, D], nats [B]."""
        return -0.5 * (z.pow(2).sum(1) + z.shape[1] * LOG_2PI)

    def base_sample(self, n: int, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
        """n draws of the base scaled by ``temperature``: [n, D]."""
        return self._randn((n, self.config.dims), generator) * temperature

    # -- helpers --------------------------------------------------------------------------------
    @property
    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @property
    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def _randn(self, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
        return draw(torch.randn, shape, generator=generator, device=self._device, dtype=self._dtype)

    def context(self, condition: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """One-hot labels [n, num_classes] for a conditional flow; None for an unconditional one."""
        k = self.config.num_classes
        if k == 0:
            return None
        if condition is None:
            raise ValueError(f"this flow is class-conditional (num_classes={k}): pass condition=labels [B]")
        condition = torch.as_tensor(condition, device=self._device).long().reshape(-1)
        if condition.shape[0] != n:
            raise ValueError(f"condition must hold {n} labels; got shape {tuple(condition.shape)}")
        if condition.numel() and (int(condition.min()) < 0 or int(condition.max()) >= k):
            raise ValueError(
                f"condition must hold labels in [0, {k}); "
                f"got values in [{int(condition.min())}, {int(condition.max())}]"
            )
        return F.one_hot(condition, k).to(self._dtype)

    def _continuous(self, x: torch.Tensor, generator: torch.Generator | None, midpoint: bool = False) -> torch.Tensor:
        """Data as the flow sees them: dequantised to [0, 1) for discrete data (uniform noise, or the
        cell's midpoint), unchanged (in the model's dtype) for continuous data."""
        levels = self.config.levels
        if levels is None:
            return x.to(self._dtype)
        if midpoint:
            return ((x.to(self._dtype) + 0.5) / levels).to(self._device)
        xb = x.to(torch.uint8)
        if generator is not None and generator.device != x.device:
            return dequantize(xb.to(generator.device), levels, generator).to(self._device, self._dtype)
        return dequantize(xb, levels, generator).to(self._device, self._dtype)

    def dequantise(self, x: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Discrete x [B, *shape] -> (y ~ q(y | x) [B, *shape] in x's cell of [0, 1)^D, log q(y | x)
        [B] in nats): uniform, ``log q = D log(levels)``. Subclasses may learn q (Flow++)."""
        nats = dequantization_nats(self.config.dims, self.config.levels)
        return self._continuous(x, generator), torch.full((len(x),), nats, dtype=self._dtype, device=self._device)

    def _discretise(self, y: torch.Tensor) -> torch.Tensor:
        levels = self.config.levels
        if levels is None:
            return y
        return (y * levels).floor().clamp(0, levels - 1).to(torch.uint8)

    def latent(self, y: torch.Tensor, context: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Continuous data y [B, *shape] -> (z [B, D], log|det| [B]), preprocessing included."""
        ladj = y.new_zeros(y.shape[0])
        if self.pre is not None:
            y, ladj = self.pre(y, context)
        z, more = self.transform(y, context)
        return z, ladj + more

    def unlatent(self, z: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        y, _ = self.transform.inverse(z, context)
        if self.pre is not None:
            y, _ = self.pre.inverse(y, context)
        return y

    def _log_prob(self, x: torch.Tensor, generator: torch.Generator | None, context: torch.Tensor | None):
        if self.config.levels is None:
            y, log_q = self._continuous(x, generator), 0.0
        else:
            y, log_q = self.dequantise(x, generator)
        z, ladj = self.latent(y, context)
        # a latent beyond the float range (e.g. IAF's density direction far from the data, which
        # multiplies by exp(log-scale) layer after layer) has base density 0: log p = -inf, not NaN
        lp = (self.base_log_prob(z) + ladj).masked_fill(~torch.isfinite(z).all(1), -math.inf)
        return lp - log_q

    # -- protocol -------------------------------------------------------------------------------
    def loss(
        self,
        x: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        condition: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Mean NLL in nats over the batch (discrete data: one dequantisation draw from ``generator``)."""
        self.check_data(x)
        nll = -self._log_prob(x, generator, self.context(condition, len(x))).mean()
        return nll, {"bpd": nll / (self.config.dims * math.log(2))}

    def log_prob(
        self,
        x: torch.Tensor,
        *,
        condition: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        samples: int | None = None,
    ) -> torch.Tensor:
        """log p(x) in nats, [B]: exact for continuous data; for discrete data the dequantisation
        bound ``log mean_k p(y_k) / q(y_k | x)`` over ``samples`` draws (default ``iwae_k``;
        importance-weighted, tighter with more draws), drawn from ``generator`` (default: a fixed
        seed, so reproducible)."""
        self.check_data(x)
        samples = self.config.iwae_k if samples is None else samples
        if samples < 1:
            raise ValueError(f"samples must be >= 1; got {samples}")
        context = self.context(condition, len(x))
        if self.config.levels is None:
            return self._log_prob(x, None, context)
        if generator is None:
            generator = torch.Generator(device=x.device).manual_seed(0)
        draws = torch.stack([self._log_prob(x, generator, context) for _ in range(samples)])
        return torch.logsumexp(draws, 0) - math.log(samples)

    def encode(self, x: torch.Tensor, *, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Data -> noise: z = f(x), [B, D]; discrete data are placed at their cells' midpoints."""
        self.check_data(x)
        z, _ = self.latent(self._continuous(x, None, midpoint=True), self.context(condition, len(x)))
        return z

    def decode(self, z: torch.Tensor, *, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Noise -> data: x = f^-1(z) for z [B, D]; uint8 levels for discrete data."""
        if z.dim() != 2 or z.shape[1] != self.config.dims:
            raise ValueError(f"z must have shape (B, {self.config.dims}); got {tuple(z.shape)}")
        y = self.unlatent(z.to(self._dtype), self.context(condition, len(z)))
        return self._discretise(y)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """n samples [n, *shape] (uint8 levels for discrete data); ``temperature`` scales the base
        draws (Glow samples at 0.7). A class-conditional flow without ``condition`` cycles through
        the classes (sample i is of class i mod num_classes)."""
        if n < 0 or temperature <= 0:
            raise ValueError(f"need n >= 0 and temperature > 0; got n={n}, temperature={temperature}")
        if condition is None and self.config.num_classes:
            condition = torch.arange(n, device=self._device) % self.config.num_classes
        return self.decode(self.base_sample(n, temperature, generator), condition=condition)

    @torch.no_grad()
    def interpolate(self, x0: torch.Tensor, x1: torch.Tensor, steps: int = 8) -> torch.Tensor:
        """Decoded points on the straight line between the latents of x0 and x1 (each [1, *shape] or
        [*shape]): [steps, *shape], first and last the (re-decoded) inputs."""
        if steps < 2:
            raise ValueError(f"steps must be >= 2; got {steps}")
        shape = tuple(self.config.shape)
        z = self.encode(torch.stack([x0.reshape(shape), x1.reshape(shape)]))
        w = torch.linspace(0, 1, steps, dtype=z.dtype, device=z.device)[:, None]
        return self.decode((1 - w) * z[:1] + w * z[1:])

"""MADE: Masked Autoencoder for Distribution Estimation (Germain et al., 2015).

A fully connected network whose weights are masked so that output ``d`` sees only the inputs that
come before ``d`` in an ordering; the outputs are the parameters of
``p(x) = prod_d p(x_d | x_<d)``: one logit per dimension for binary data (Bernoulli), ``levels``
logits per dimension otherwise (categorical). One forward pass gives the exact log-likelihood;
sampling takes one pass per dimension.

Connectivity-agnostic training draws one of ``num_masks`` masks per minibatch (with
``order_agnostic`` each mask also has its own input ordering); evaluation averages the
probabilities of an ensemble of masks, ``log p(x) = log mean_k p_k(x)``, itself a normalised density.

References:
    Germain, Gregor, Murray, Larochelle. MADE: Masked Autoencoder for Distribution Estimation.
    ICML 2015. https://arxiv.org/abs/1502.03509
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ...distributions import discrete
from ...nn import MaskedLinear, made_degrees, made_masks
from ..base import Model, ModelConfig, check_fields


@dataclass
class MADEConfig(ModelConfig):
    """MADE hyperparameters.

    Attributes:
        hidden: sizes of the hidden layers (any depth, at least one).
        order: 'natural' (raster order) or 'random' (a permutation drawn from ``seed``).
        num_masks: distinct masks cycled through in training (1 = a single fixed network).
        order_agnostic: each mask also draws its own input ordering (else all share ``order``).
        ensemble: masks averaged by ``log_prob`` and mixed by ``sample`` (at most ``num_masks``).
        direct: add direct input -> output connections (masked, strictly autoregressive).
        mask_seed: seed of the orderings and hidden-unit connectivities.
    """

    hidden: tuple[int, ...] = (500,)
    order: Literal["natural", "random"] = "natural"
    num_masks: int = 1
    order_agnostic: bool = False
    ensemble: int = 1
    direct: bool = True
    mask_seed: int = 0

    def __post_init__(self) -> None:
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must be one or more positive layer sizes; got {self.hidden}")
        if self.order not in ("natural", "random"):
            raise ValueError(f"order must be 'natural' or 'random'; got {self.order!r}")
        check_fields(
            self,
            [
                ("num_masks", self.num_masks >= 1, ">= 1"),
                ("ensemble", self.ensemble >= 1, ">= 1"),
            ],
        )
        if self.levels is None or self.levels < 2:
            raise ValueError(f"MADE models discrete data: levels must be >= 2; got {self.levels}")


class MADE(Model):
    """MADE over ``config.shape`` with ``config.levels`` levels per dimension.

    ``log_prob(x)``: x uint8/int64 [B, C, H, W] in [0, levels) -> [B] nats, exact.
    ``sample(n)`` -> uint8 [n, C, H, W].
    """

    Config = MADEConfig
    name = "made"
    description = "Masked autoencoder for distribution estimation (Germain et al. 2015)"
    config: MADEConfig

    def __init__(self, config: MADEConfig) -> None:
        super().__init__(config)
        d, k = config.dims, self.outputs_per_dim
        sizes = (d, *config.hidden)
        self.hidden = nn.ModuleList(MaskedLinear(a, b) for a, b in itertools.pairwise(sizes))
        self.out = MaskedLinear(sizes[-1], d * k)
        self.direct = MaskedLinear(d, d * k, bias=False) if config.direct else None
        self._masks: dict[tuple[int, torch.device, torch.dtype], list[torch.Tensor]] = {}

    @property
    def outputs_per_dim(self) -> int:
        """1 logit per dimension for binary data, ``levels`` logits otherwise."""
        return 1 if self.config.levels == 2 else self.config.levels

    # -- masks --------------------------------------------------------------------------------
    def ordering(self, index: int = 0) -> torch.Tensor:
        """Mask ``index``'s ordering: ``order[d]`` is the position (0-based) of dimension d."""
        c = self.config
        if c.order == "natural" and (index == 0 or not c.order_agnostic):
            return torch.arange(c.dims)
        seed = c.mask_seed if not c.order_agnostic else c.mask_seed * 1_000_003 + index
        return torch.randperm(c.dims, generator=torch.Generator().manual_seed(seed))

    def degrees(self, index: int = 0) -> list[torch.Tensor]:
        """Connectivity of mask ``index``: the degree of every unit, input layer first.

        Input unit d has degree ``order[d]`` (0-based position); a hidden unit of degree m may see
        inputs of degree <= m; hidden degrees are drawn in [min of previous layer, D - 2].
        """
        c = self.config
        gen = torch.Generator().manual_seed(c.mask_seed * 7_919 + index)
        return made_degrees(self.ordering(index), c.hidden, gen)

    def masks(self, index: int, device: torch.device, dtype: torch.dtype) -> list[torch.Tensor]:
        """Masks of every layer for mask ``index``: hidden layers, output, then direct ([out, in])."""
        key = (index, device, dtype)
        if key not in self._masks:
            masks = made_masks(self.degrees(index), self.outputs_per_dim)
            self._masks[key] = [m.to(device=device, dtype=dtype) for m in masks]
        return self._masks[key]

    # -- network ------------------------------------------------------------------------------
    def forward(self, h0: torch.Tensor, mask_index: int = 0) -> torch.Tensor:
        """The masked network on float inputs h0 [B, D]: logits [B, D * outputs_per_dim]."""
        masks = self.masks(mask_index, h0.device, h0.dtype)
        h = h0
        for layer, mask in zip(self.hidden, masks[: len(self.hidden)], strict=True):
            h = F.relu(layer(h, mask))
        out = self.out(h, masks[-2])
        return out if self.direct is None else out + self.direct(h0, masks[-1])

    def conditionals(self, h: torch.Tensor, mask_index: int = 0) -> torch.Tensor:
        """Parameters of every conditional under mask ``mask_index``: h float [B, *shape] in [0, 1]
        -> [B, *shape, outputs_per_dim] (the interface the dependency audit reads)."""
        return self(h.flatten(1), mask_index).view(*h.shape, self.outputs_per_dim)

    def order(self, mask_index: int = 0) -> torch.Tensor:
        """``position[d]`` of every flattened dimension in mask ``mask_index``'s generation order."""
        return self.ordering(mask_index)

    def logits(self, x: torch.Tensor, mask_index: int = 0) -> torch.Tensor:
        """Logits for integer data x [B, C, H, W]: [B, D] (binary) or [B, D, levels]."""
        out = self(x.flatten(1).to(self.out.weight.dtype) / (self.config.levels - 1), mask_index)
        return out if self.outputs_per_dim == 1 else out.view(x.shape[0], self.config.dims, self.outputs_per_dim)

    def _log_prob_one_mask(self, x: torch.Tensor, mask_index: int) -> torch.Tensor:
        logits = self.logits(x, mask_index)
        params = logits.unsqueeze(-1) if self.outputs_per_dim == 1 else logits  # [B, D, P]
        return discrete.log_prob(params, x.flatten(1), self.config.levels).sum(1)

    # -- protocol -----------------------------------------------------------------------------
    def loss(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Mean NLL in nats over the batch under one mask drawn with ``generator``."""
        self.check_data(x)
        index = 0
        if self.config.num_masks > 1:
            index = int(torch.randint(self.config.num_masks, (1,), generator=generator))
        nll = -self._log_prob_one_mask(x, index).mean()
        return nll, {"bpd": nll / (self.config.dims * math.log(2))}

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-likelihood in nats, [B]; averaged over ``config.ensemble`` masks."""
        self.check_data(x)
        k = min(self.config.ensemble, self.config.num_masks)
        per_mask = torch.stack([self._log_prob_one_mask(x, i) for i in range(k)])
        return torch.logsumexp(per_mask, 0) - math.log(k)

    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples, uint8 [n, C, H, W]; each from one mask of the ensemble (a mixture).

        ``temperature`` divides the logits (1 = the model; < 1 sharper). Takes D forward passes.
        """
        if n < 0 or temperature <= 0:
            raise ValueError(f"need n >= 0 and temperature > 0; got n={n}, temperature={temperature}")
        device = self.out.weight.device
        k = min(self.config.ensemble, self.config.num_masks)
        which = torch.randint(k, (n,), generator=generator)
        x = torch.zeros(n, *self.config.shape, dtype=torch.long, device=device)
        flat = x.view(n, -1)
        for index in which.unique().tolist():
            rows = (which == index).nonzero().squeeze(1).to(device)
            xs = flat[rows]
            for d in torch.argsort(self.ordering(index)).tolist():
                logits = self.logits(xs.view(-1, *self.config.shape), index)[:, d]
                params = logits.unsqueeze(-1) if self.outputs_per_dim == 1 else logits  # [rows, P]
                u = torch.rand(len(rows), generator=generator, dtype=torch.float64).to(device)
                xs[:, d] = discrete.sample(params, u, self.config.levels, temperature)
            flat[rows] = xs
        return x.to(torch.uint8)

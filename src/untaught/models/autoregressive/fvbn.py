"""Fully visible sigmoid belief network (FVBN): one logistic regression per dimension.

``p(x) = prod_d p(x_d | x_<d)`` with ``logit_d = b_d + sum_{j<d} W_dj x_j``: for binary data a
sigmoid belief net over visible units only (Neal 1992; Frey 1998's logistic autoregressive
model); for more levels each dimension is a multinomial logistic regression on the scaled previous
values (``levels`` logits). A strictly lower-triangular weight matrix in generation order;
D(D-1)/2 weights per output logit, exact likelihood in one matrix product. Sampling: D passes
(naive) or running pre-activations, to which each drawn dimension adds its weight column (cached:
O(D P) per dimension instead of a pass).

References:
    Neal. Connectionist learning of belief networks. Artificial Intelligence 56, 1992.
    Frey. Graphical Models for Machine Learning and Digital Communication. MIT Press, 1998.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...nn import MaskedLinear
from ..base import ModelConfig
from .conditionals import AutoregressiveModel


@dataclass
class FVBNConfig(ModelConfig):
    """FVBN: no hyperparameters beyond the data's ``shape`` and ``levels``."""


class FVBN(AutoregressiveModel):
    """Logistic autoregressive model over ``config.shape`` with ``config.levels`` levels.

    ``log_prob(x)``: uint8 [B, *shape] -> [B] nats, exact. ``sample(n)`` -> uint8 [n, *shape].
    """

    Config = FVBNConfig
    name = "fvbn"
    description = "Fully visible sigmoid belief net: a logistic regression per pixel on the earlier ones"
    config: FVBNConfig

    def __init__(self, config: FVBNConfig) -> None:
        super().__init__(config)
        d, p = config.dims, self.params_per_dim
        self.linear = MaskedLinear(d, d * p)
        torch.nn.init.zeros_(self.linear.weight)  # start from independent pixels
        pos = self.order()
        mask = (pos[:, None] > pos[None, :]).repeat_interleave(p, 0)  # [D*P, D]: input j before output d
        self.register_buffer("mask", mask, persistent=False)

    def conditionals(self, h: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """h float [B, *shape] in [0, 1] -> logits [B, *shape, P]."""
        out = self.linear(h.flatten(1), self.mask.to(h.dtype))
        return out.view(*h.shape, self.params_per_dim)

    def _sample_cached(
        self, x: torch.Tensor, u: torch.Tensor, start: int, temperature: float, condition: torch.Tensor | None
    ) -> torch.Tensor:
        p = self.params_per_dim
        flat = x.view(len(x), -1)
        weight = self.linear.weight * self.mask.to(self.linear.weight.dtype)  # [D*P, D]
        act = self.linear(self.scale(flat), self.mask.to(self.linear.weight.dtype)).view(len(x), -1, p)  # given dims
        columns = weight.view(-1, p, weight.shape[1])  # [D, P, D]: columns[d', :, j] = weight of x_j in logits of d'
        for pos, d in enumerate(torch.argsort(self.order()).tolist()[start:], start):
            flat[:, d] = self.draw(act[:, d], u[:, pos], temperature)
            act += self.scale(flat[:, d])[:, None, None] * columns[:, :, d]
        return x

"""NADE: Neural Autoregressive Distribution Estimator (Larochelle & Murray, 2011).

Each conditional is a one-hidden-layer network whose input weights are shared between all
conditionals: with dimensions in generation order,

    a_d = c + sum_{j<d} W_j x_j          (a running sum: a_{d+1} = a_d + W_d x_d)
    h_d = sigmoid(a_d)                   [H]
    p(x_d | x_<d) = Bernoulli(sigmoid(b_d + V_d . h_d))   or   Categorical(softmax(b_d + V_d h_d))

so the whole likelihood costs O(DH) (a cumulative sum) instead of O(D^2 H), and so does sampling
(the running sum is updated once per sampled dimension; see :meth:`NADE._sample_cached`).

References:
    Larochelle, Murray. The Neural Autoregressive Distribution Estimator. AISTATS 2011.
    Uria, Cote, Gregor, Murray, Larochelle. Neural Autoregressive Distribution Estimation. JMLR 2016.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..base import ModelConfig, check_fields
from .conditionals import AutoregressiveModel


@dataclass
class NADEConfig(ModelConfig):
    """NADE hyperparameters.

    Attributes:
        hidden: H, the size of the (shared) hidden layer.
        activation: 'sigmoid' as in the paper, or 'relu'.
    """

    hidden: int = 500
    activation: Literal["sigmoid", "relu"] = "sigmoid"

    def __post_init__(self) -> None:
        check_fields(
            self,
            [
                ("hidden", self.hidden >= 1, ">= 1"),
                ("activation", self.activation in ("sigmoid", "relu"), "'sigmoid' or 'relu'"),
            ],
        )


class NADE(AutoregressiveModel):
    """NADE over ``config.shape`` with ``config.levels`` levels per dimension.

    ``log_prob(x)``: uint8 [B, *shape] -> [B] nats, exact, O(B D H).
    ``sample(n)`` -> uint8 [n, *shape], O(n D H) with the running sum.
    """

    Config = NADEConfig
    name = "nade"
    description = "Neural autoregressive distribution estimator: shared input weights, O(DH) (Larochelle 2011)"
    config: NADEConfig

    def __init__(self, config: NADEConfig) -> None:
        super().__init__(config)
        d, h, p = config.dims, config.hidden, self.params_per_dim
        self.W = nn.Parameter(torch.randn(d, h) / d**0.5)  # row d: input weights of dimension d
        self.c = nn.Parameter(torch.zeros(h))
        self.V = nn.Parameter(torch.randn(d, p, h) / h**0.5)  # output weights of each conditional
        self.b = nn.Parameter(torch.zeros(d, p))
        pos = self.order()
        self.register_buffer("position", pos, persistent=False)  # flattened dim -> position
        self.register_buffer("dim_at", torch.argsort(pos), persistent=False)  # position -> flattened dim

    def _act(self, a: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(a) if self.config.activation == "sigmoid" else torch.relu(a)

    def conditionals(self, h: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """h float [B, *shape] in [0, 1] -> parameters [B, *shape, P], O(B D H)."""
        hp = h.flatten(1)[:, self.dim_at]  # [B, D] in generation order
        w = self.W[self.dim_at]  # [D, H]
        running = torch.cumsum(hp.unsqueeze(-1) * w, 1)  # [B, D, H]: sum_{j<=d}
        a = self.c + torch.cat([torch.zeros_like(running[:, :1]), running[:, :-1]], 1)  # sum_{j<d}
        hidden = self._act(a)
        v, b = self.V[self.dim_at], self.b[self.dim_at]  # [D, P, H], [D, P]
        params = torch.bmm(hidden.transpose(0, 1), v.transpose(1, 2)).transpose(0, 1) + b  # [B, D, P]
        return params[:, self.position].view(*h.shape, self.params_per_dim)

    def _sample_cached(
        self, x: torch.Tensor, u: torch.Tensor, start: int, temperature: float, condition: torch.Tensor | None
    ) -> torch.Tensor:
        """The running sum of NADE: O(H) per dimension for the input and O(P H) for the output."""
        flat = x.view(len(x), -1)
        a = self.c.expand(len(x), -1)
        for pos, d in enumerate(self.dim_at.tolist()):
            if pos >= start:
                params = self._act(a) @ self.V[d].T + self.b[d]  # [n, P]
                flat[:, d] = self.draw(params, u[:, pos], temperature)
            a = a + self.scale(flat[:, d]).unsqueeze(-1) * self.W[d]
        return x

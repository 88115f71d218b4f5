"""Masked layers for autoregressive models."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a 0/1 mask given at call time.

    The mask is not a parameter: MADE swaps masks between minibatches (connectivity-agnostic
    training), so the caller passes the one in force. ``x``: [B, in]; ``mask``: [out, in] in the
    weight's dtype; returns [B, out].
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return F.linear(x, self.weight * mask, self.bias)

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


def made_degrees(order: torch.Tensor, hidden: tuple[int, ...], generator: torch.Generator | None) -> list[torch.Tensor]:
    """MADE's connectivity (Germain et al. 2015): the degree of every unit, input layer first.

    ``order[d]`` is the position (0-based) of input d, the degree of input unit d; a hidden unit of
    degree m may see inputs of degree <= m. Hidden degrees are drawn uniformly in
    [min of the previous layer, D - 2] with ``generator``, or, with ``generator`` None, assigned
    cyclically over that range (every degree equally represented, as MAF does).
    """
    degrees = [order]
    top = max(len(order) - 2, 0)
    for size in hidden:
        low = min(int(degrees[-1].min()), top)
        if generator is None:
            degrees.append(low + torch.arange(size) % (top - low + 1))
        else:
            degrees.append(torch.randint(low, top + 1, (size,), generator=generator))
    return degrees


def made_masks(degrees: list[torch.Tensor], outputs_per_dim: int) -> list[torch.Tensor]:
    """0/1 masks ([out, in], bool) of MADE's layers for ``degrees`` from :func:`made_degrees`.

    Returns the hidden layers' masks, then the output layer's (``outputs_per_dim`` consecutive outputs
    per input dimension, each seeing only hidden units of strictly lower degree), then the direct
    input -> output mask (strictly autoregressive).
    """
    masks = [degrees[i + 1][:, None] >= degrees[i][None, :] for i in range(len(degrees) - 1)]
    out_degree = degrees[0].repeat_interleave(outputs_per_dim)
    masks.append(out_degree[:, None] > degrees[-1][None, :])
    masks.append(out_degree[:, None] > degrees[0][None, :])
    return masks

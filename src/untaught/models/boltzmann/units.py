"""Binary units shared by the Boltzmann machines: drawing them, and enumerating all their states
(exact log Z of small models)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ...draws import draw


def bernoulli(p: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Binary states drawn with probabilities ``p``: same shape, dtype and device as ``p``.

    The uniforms come from ``generator`` on its own device (a CPU generator drives GPU models too),
    so a seeded generator gives the same states on every device.
    """
    u = draw(torch.rand, p.shape, generator=generator, dtype=p.dtype, device=p.device)
    return (u < p).to(p.dtype)


def bits(codes: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    """The n-bit binary vectors of integer codes [S] (first unit the most significant bit): [S, n]."""
    return ((codes[:, None] >> torch.arange(n - 1, -1, -1, device=codes.device)) & 1).to(dtype)


def binary_states(n: int, *, dtype: torch.dtype = torch.float64, device: torch.device | None = None) -> torch.Tensor:
    """All 2^n binary vectors in lexicographic order (the first unit the most significant): [2^n, n]."""
    return bits(torch.arange(2**n, device=device), n, dtype)


def over_states(
    n: int,
    fn: Callable[[torch.Tensor], torch.Tensor],
    *,
    block: int,
    dtype: torch.dtype = torch.float64,
    device: torch.device | None = None,
) -> torch.Tensor:
    """``fn`` of every state of n binary units, ``block`` states at a time (memory stays bounded).

    ``fn`` maps states [S, n] (order of :func:`binary_states`) to [S, ...]; the result is [2^n, ...].
    """
    total = 1 << n
    blocks = (bits(torch.arange(i, min(i + block, total), device=device), n, dtype) for i in range(0, total, block))
    return torch.cat([fn(states) for states in blocks])

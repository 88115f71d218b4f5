"""Drawing stochastic units, shared by the Boltzmann machines and their samplers."""

from __future__ import annotations

import torch


def bernoulli(p: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Binary states drawn with probabilities ``p``: same shape, dtype and device as ``p``.

    The uniforms come from ``generator`` on its own device (a CPU generator drives GPU models too),
    so a seeded generator gives the same states on every device.
    """
    device = generator.device if generator is not None else p.device
    u = torch.rand(p.shape, generator=generator, dtype=p.dtype, device=device)
    return (u.to(p.device) < p).to(p.dtype)

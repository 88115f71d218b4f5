"""Pure transforms of discrete pixel tensors.

Inputs are uint8 tensors of any shape (usually [N, C, H, W]) holding integer levels in
``[0, levels - 1]``; outputs keep the input's shape.
"""

from __future__ import annotations

import math

import torch


def _check(x: torch.Tensor, levels: int, fn: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dtype != torch.uint8:
        given = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{fn}: x must be a torch.uint8 tensor; got {given}")
    _check_levels(levels, "levels", fn, low=2, high=256)
    if x.numel() and int(x.max()) >= levels:
        raise ValueError(f"{fn}: x must lie in [0, {levels - 1}] for levels={levels}; got max {int(x.max())}")


def _check_levels(value: int, name: str, fn: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{fn}: {name} must be an int in [{low}, {high}]; got {value!r}")


def binarize_static(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Deterministic threshold at half the range: 1 where ``2 * x >= levels``, else 0.

    x: uint8 in [0, levels). Returns uint8 in {0, 1}, same shape. For 256 levels this is
    ``x >= 128``; for 2 levels it is the identity.
    """
    _check(x, levels, "binarize_static")
    return (2 * x.to(torch.int32) >= levels).to(torch.uint8)


def binarize_dynamic(x: torch.Tensor, levels: int, generator: torch.Generator | None) -> torch.Tensor:
    """Stochastic binarisation: each pixel is 1 with probability ``p = x / (levels - 1)``.

    x: uint8 in [0, levels). Draws use ``generator`` (None: torch's global generator), so a
    seeded generator gives the same sample every time. Returns uint8 in {0, 1}, same shape.
    """
    _check(x, levels, "binarize_dynamic")
    u = torch.rand(x.shape, generator=generator, device=x.device)
    return (u * (levels - 1) < x).to(torch.uint8)  # P(u < x/(levels-1)) = x/(levels-1)


def reduce_levels(x: torch.Tensor, levels: int, new_levels: int) -> torch.Tensor:
    """Requantise to fewer levels: ``floor(x * new_levels / levels)``.

    x: uint8 in [0, levels); new_levels in [2, levels]. Returns uint8 in [0, new_levels), same
    shape; e.g. 256 -> 32 levels drops the 3 low bits.
    """
    _check(x, levels, "reduce_levels")
    _check_levels(new_levels, "new_levels", "reduce_levels", low=2, high=levels)
    return (x.to(torch.int32) * new_levels // levels).to(torch.uint8)


def dequantize(x: torch.Tensor, levels: int, generator: torch.Generator | None) -> torch.Tensor:
    """Uniform dequantisation: ``y = (x + u) / levels`` with ``u ~ U[0, 1)`` per pixel.

    x: uint8 in [0, levels). Returns float32 in [0, 1), same shape, each value in
    ``[x / levels, (x + 1) / levels)``: the cube of side ``1 / levels`` owned by ``x``. Draws use
    ``generator`` (None: torch's global generator). See :func:`dequantization_nats`.
    """
    _check(x, levels, "dequantize")
    xf = x.to(torch.float32)
    u = torch.rand(x.shape, generator=generator, device=x.device)
    y = (xf + u) / levels
    # float rounding can turn u close to 1 into exactly (x + 1) / levels: keep the interval open
    upper = torch.nextafter((xf + 1) / levels, torch.zeros_like(xf))
    return torch.minimum(y, upper)


def dequantization_nats(dims: int, levels: int) -> float:
    """``D * log(levels)``: nats to add to a continuous NLL on ``[0, 1)^D`` to get a discrete one.

    If ``p`` is a density on ``[0, 1)^D`` and ``y = dequantize(x)``, then
    ``-log P(x) <= E_u[-log p(y)] + D * log(levels)`` (the cube of each ``x`` has volume
    ``levels ** -D``), so report ``NLL(x) = -log p(y) + dequantization_nats(D, levels)`` nats,
    or divide by ``D * log(2)`` for bits/dim. ``dims``: D = C * H * W >= 1.
    """
    if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
        raise ValueError(f"dequantization_nats: dims must be an int >= 1; got {dims!r}")
    _check_levels(levels, "levels", "dequantization_nats", low=2, high=256)
    return dims * math.log(levels)

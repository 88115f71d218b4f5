"""Map grids, neighbourhood functions and decay schedules of self-organising maps.

Units are numbered row-major, ``u = r * cols + c``. A rectangular grid puts unit (r, c) at (r, c);
a hexagonal grid shifts odd rows by half a unit and packs rows sqrt(3)/2 apart, so that all six
neighbours of a unit lie at distance 1. Two units are *adjacent* (for the U-matrix and the
topographic error) when they are among the 8 surrounding units of a rectangular grid or the 6 of a
hexagonal one, as in MiniSom.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

Topology = Literal["rectangular", "hexagonal"]
Neighbourhood = Literal["gaussian", "bubble", "mexican-hat"]
Decay = Literal["exponential", "linear", "inverse"]


def grid_positions(rows: int, cols: int, topology: Topology) -> torch.Tensor:
    """Plane coordinates (y, x) of every unit: float64 [rows * cols, 2]."""
    r, c = torch.meshgrid(
        torch.arange(rows, dtype=torch.float64), torch.arange(cols, dtype=torch.float64), indexing="ij"
    )
    if topology == "hexagonal":
        return torch.stack([r * math.sqrt(3) / 2, c + 0.5 * (r % 2)], -1).reshape(-1, 2)
    if topology != "rectangular":
        raise ValueError(f"topology must be 'rectangular' or 'hexagonal'; got {topology!r}")
    return torch.stack([r, c], -1).reshape(-1, 2)


def grid_adjacency(rows: int, cols: int, topology: Topology) -> torch.Tensor:
    """bool [U, U]: True where two distinct units are adjacent (8 neighbours rectangular, 6 hexagonal)."""
    pos = grid_positions(rows, cols, topology)
    if topology == "rectangular":
        cheb = (pos[:, None] - pos[None]).abs().amax(-1)
        return cheb == 1
    dist = torch.cdist(pos, pos)
    return (dist - 1).abs() < 1e-9


def neighbourhood(squared_distance: torch.Tensor, sigma: float, kind: Neighbourhood) -> torch.Tensor:
    """Weight of each unit given its squared grid distance to the winner (any shape, same shape out).

    gaussian: ``exp(-d² / 2σ²)``; bubble: 1 within radius σ (``d <= σ``), else 0; mexican-hat (Ricker):
    ``(1 - d²/σ²) exp(-d² / 2σ²)``, negative beyond σ (units there are pushed away).
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive; got {sigma}")
    if kind == "gaussian":
        return gaussian(squared_distance, sigma)
    if kind == "bubble":
        return (squared_distance <= sigma**2 + 1e-9).to(squared_distance.dtype)
    if kind == "mexican-hat":
        return (1 - squared_distance / sigma**2) * gaussian(squared_distance, sigma)
    raise ValueError(f"neighbourhood must be 'gaussian', 'bubble' or 'mexican-hat'; got {kind!r}")


def gaussian(squared_distance: torch.Tensor, sigma: float, factors: int = 1) -> torch.Tensor:
    """``exp(-d² / 2σ²)``, with weights up to ``(tiny / eps)^(1/factors)`` of the dtype set to 0.

    Far units' weights underflow into subnormal floats once σ is small (exp(-d²/2σ²) < 1e-38 in
    float32), and on CPUs both the exp that makes them and the products that use them run far slower
    (a 20x20 map's batch step at σ = 1: exp 1 ms instead of 27 µs, the product 12 ms instead of
    0.8 ms). Weights this small (1e-31 in float32) are far below the float rounding of any sum they
    join (the winner's own weight is 1), so dropping them leaves the update unchanged. The exponent is
    clamped just below the cut, so exp never makes a subnormal; the weights above the cut are bit for
    bit the plain exp. ``factors``: the weight will be the product of that many such factors (a
    separable neighbourhood); each is cut at the root, so that their product is never subnormal either.
    """
    info = torch.finfo(squared_distance.dtype)
    cut = (info.tiny / info.eps) ** (1 / factors)
    exponent = (squared_distance / (-2 * sigma**2)).clamp_min_(math.log(cut) - 1)
    return torch.nn.functional.threshold_(exponent.exp_(), cut, 0.0)


def decay(start: float, end: float, step: int, steps: int, kind: Decay) -> float:
    """A value going from ``start`` (step 0) to ``end`` (step ``steps`` and after).

    exponential: ``start (end/start)^(t/T)``; linear: ``start + (end - start) t/T``; inverse:
    ``start / (1 + a t)`` with ``a`` chosen so that it reaches ``end`` at T (MiniSom's asymptotic decay
    reaches start/3).
    """
    t = min(max(step, 0), steps) / steps if steps > 0 else 1.0
    if kind == "exponential":
        return start * (end / start) ** t
    if kind == "linear":
        return start + (end - start) * t
    if kind == "inverse":
        return start / (1 + (start / end - 1) * t)
    raise ValueError(f"decay must be 'exponential', 'linear' or 'inverse'; got {kind!r}")

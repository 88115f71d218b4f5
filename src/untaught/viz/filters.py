"""Learned filters (weights of one unit shaped as an image) as one picture."""

from __future__ import annotations

from pathlib import Path

import torch

from .grid import save_grid


def filter_levels(filters: torch.Tensor, *, symmetric: bool = True) -> torch.Tensor:
    """Map each filter [N, C, H, W] (float) to 256 grey levels on its own scale: uint8 [N, C, H, W].

    ``symmetric``: zero maps to mid-grey and the filter's largest absolute value to black or white
    (the sign of a weight stays visible); otherwise each filter's min..max spans 0..255.
    """
    if filters.dim() != 4:
        raise ValueError(f"filters must be [N, C, H, W]; got {tuple(filters.shape)}")
    f = filters.detach().double().cpu()
    if symmetric:
        scale = f.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
        unit = 0.5 + 0.5 * f / scale
    else:
        low = f.amin(dim=(1, 2, 3), keepdim=True)
        unit = (f - low) / (f.amax(dim=(1, 2, 3), keepdim=True) - low).clamp_min(1e-12)
    return (unit * 255).round().clamp(0, 255).to(torch.uint8)


def save_filters(filters: torch.Tensor, path: str | Path, *, count: int | None = 100, **kwargs: int) -> Path:
    """Write the first ``count`` filters [N, C, H, W] as a grid PNG at ``path`` (see :func:`filter_levels`)."""
    chosen = filters if count is None else filters[:count]
    return save_grid(filter_levels(chosen), 256, path, **kwargs)

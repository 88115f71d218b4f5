"""Image grids of samples and reconstructions."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch


def image_grid(
    x: torch.Tensor, levels: int, *, nrow: int | None = None, min_tile: int = 32, pad: int = 1
) -> np.ndarray:
    """Tile images ``x`` [N, C, H, W] with integer levels in [0, levels) into one uint8 picture.

    Returns [rows, cols] (C = 1) or [rows, cols, 3]; each tile is enlarged by an integer factor
    (nearest neighbour) to at least ``min_tile`` pixels, with ``pad`` pixels of grey between.
    """
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"x must be [N, 1 or 3, H, W]; got {tuple(x.shape)}")
    n, c, h, w = x.shape
    scale = max(1, math.ceil(min_tile / min(h, w)))
    pixels = (x.double() * 255.0 / (levels - 1)).round().clamp(0, 255).to(torch.uint8)
    pixels = pixels.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    th, tw = h * scale + pad, w * scale + pad
    canvas = torch.full((c, rows * th + pad, nrow * tw + pad), 128, dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        canvas[:, pad + r * th : pad + r * th + h * scale, pad + col * tw : pad + col * tw + w * scale] = pixels[i]
    out = canvas.permute(1, 2, 0).numpy()
    return out[:, :, 0] if c == 1 else out


def save_grid(x: torch.Tensor, levels: int, path: str | Path, **kwargs: int) -> Path:
    """Write :func:`image_grid` of ``x`` as a PNG at ``path`` (atomically)."""
    from PIL import Image

    from ..io import atomic_write_bytes

    buffer = io.BytesIO()
    Image.fromarray(image_grid(x, levels, **kwargs)).save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())

"""Pictures of representation models: reconstructions, filters, denoising triplets, code scatter."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from .grid import save_grid

# ten distinguishable colours (Tableau 10), one per class; more classes cycle
PALETTE = np.array(
    [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ],
    dtype=np.uint8,
)


def to_levels(u: torch.Tensor, levels: int) -> torch.Tensor:
    """Float intensities in [0, 1] -> uint8 levels in [0, levels) (clipped, rounded)."""
    return (u.detach().double().clamp(0, 1) * (levels - 1)).round().to(torch.uint8)


def save_rows(rows: list[torch.Tensor], levels: int, path: str | Path) -> Path:
    """Write images as interleaved rows: ``rows`` are k tensors [n, C, H, W] of levels; the picture
    shows them as k consecutive rows per group of n columns (e.g. input above reconstruction)."""
    n = rows[0].shape[0]
    per_row = min(n, 16)
    groups = []
    for start in range(0, n, per_row):
        for r in rows:
            groups.append(r[start : start + per_row])
    return save_grid(torch.cat(groups), levels, path, nrow=per_row)


def filter_images(weight: torch.Tensor, shape: tuple[int, ...], limit: int = 100) -> torch.Tensor:
    """First-layer filters as uint8 images [K, C, h, w], each scaled to its own min..max.

    ``weight``: a linear layer's [K, prod(shape)] (reshaped to ``shape``) or a convolution's
    [K, C, h, w].
    """
    w = weight.detach().double()[:limit]
    w = w.view(w.shape[0], *shape) if w.dim() == 2 else w
    flat = w.flatten(1)
    low, high = flat.min(1).values, flat.max(1).values
    scaled = (flat - low[:, None]) / (high - low).clamp_min(1e-12)[:, None]
    return (scaled * 255).round().to(torch.uint8).view_as(w)


def code_scatter(codes: np.ndarray, labels: np.ndarray, path: str | Path, size: int = 512) -> Path:
    """A 2-D picture of ``codes`` [N, 2] (the code itself or its first two principal components),
    one dot per example coloured by its label, written as PNG at ``path``."""
    from PIL import Image, ImageDraw

    from ..io import atomic_write_bytes

    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"codes must be [N, 2]; got {codes.shape}")
    margin = 12
    low, high = np.percentile(codes, 0.5, axis=0), np.percentile(codes, 99.5, axis=0)
    xy = (codes - low) / np.maximum(high - low, 1e-12)
    xy = margin + np.clip(xy, 0, 1) * (size - 2 * margin)
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for (px, py), label in zip(xy, labels, strict=True):
        colour = tuple(int(v) for v in PALETTE[int(label) % len(PALETTE)]) if label >= 0 else (0, 0, 0)
        draw.ellipse((px - 1.5, size - py - 1.5, px + 1.5, size - py + 1.5), fill=colour)
    for k in range(min(10, int(labels.max()) + 1) if len(labels) else 0):
        y0 = 4 + 12 * k
        draw.rectangle((size - 40, y0, size - 32, y0 + 8), fill=tuple(int(v) for v in PALETTE[k]))
        draw.text((size - 28, y0 - 2), str(k), fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())


def principal_plane(codes: np.ndarray) -> np.ndarray:
    """Codes [N, K] projected on their first two principal components (K = 2: returned as they are)."""
    if codes.shape[1] == 2:
        return codes
    centred = codes - codes.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T

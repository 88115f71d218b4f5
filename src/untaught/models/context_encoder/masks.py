"""Hole masks of context encoders: 1 inside the hole (pixels to fill), 0 in the context.

=========  =====================================================================================
center     one ``hole`` x ``hole`` square in the middle of the image (Pathak et al.'s central region)
block      four squares of side ``hole // 2`` at uniform random positions (random block dropout;
           together they cover at most as much as the central hole)
region     a random blob-shaped region: a coarse random field (one value per 16 x 16 pixels)
           upsampled bilinearly and thresholded at its own quantile, so that the hole covers
           exactly ``hole**2`` pixels, the area of the central hole (random region dropout)
=========  =====================================================================================

All take their randomness from an explicit generator and return float ``[B, 1, H, W]``.

References:
    Pathak, Krähenbühl, Donahue, Darrell, Efros. Context Encoders: Feature Learning by Inpainting.
    CVPR 2016, section 3.3.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

MaskKind = Literal["center", "block", "region"]
MASKS: tuple[str, ...] = ("center", "block", "region")


def check_hole(hole: int, height: int, width: int) -> None:
    if not 1 <= hole <= min(height, width):
        raise ValueError(
            f"hole must be a side in [1, {min(height, width)}] pixels for {width}x{height} images; got {hole}"
        )


def center_mask(batch: int, height: int, width: int, hole: int) -> torch.Tensor:
    """The central ``hole`` x ``hole`` square, top-left corner at ((H - hole) // 2, (W - hole) // 2)."""
    check_hole(hole, height, width)
    mask = torch.zeros(batch, 1, height, width)
    top, left = (height - hole) // 2, (width - hole) // 2
    mask[:, :, top : top + hole, left : left + hole] = 1
    return mask


def block_mask(
    batch: int, height: int, width: int, hole: int, generator: torch.Generator | None, blocks: int = 4
) -> torch.Tensor:
    """``blocks`` squares of side ``max(1, hole // 2)`` inside the image at uniform random positions."""
    check_hole(hole, height, width)
    side = max(1, hole // 2)
    tops = torch.randint(0, height - side + 1, (batch, blocks), generator=generator)
    lefts = torch.randint(0, width - side + 1, (batch, blocks), generator=generator)
    rows = torch.arange(height)[None, None, :, None]
    cols = torch.arange(width)[None, None, None, :]
    inside = (
        (rows >= tops[:, :, None, None])
        & (rows < tops[:, :, None, None] + side)
        & (cols >= lefts[:, :, None, None])
        & (cols < lefts[:, :, None, None] + side)
    )
    return inside.any(1, keepdim=True).float()


def region_mask(batch: int, height: int, width: int, hole: int, generator: torch.Generator | None) -> torch.Tensor:
    """Random blobs covering exactly ``hole * hole`` pixels of each image."""
    check_hole(hole, height, width)
    coarse = torch.rand(batch, 1, max(2, height // 16), max(2, width // 16), generator=generator)
    field = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False).flatten(1)
    # ties are broken by a tiny deterministic ramp, so that exactly hole**2 pixels are selected
    field = field + torch.arange(height * width) * 1e-9
    top = field.topk(hole * hole, dim=1).indices
    mask = torch.zeros(batch, height * width).scatter_(1, top, 1.0)
    return mask.view(batch, 1, height, width)


def make_masks(
    kind: str, batch: int, height: int, width: int, hole: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Masks of ``kind`` ('center', 'block', 'region'): float [batch, 1, height, width], 1 = hole."""
    if kind == "center":
        return center_mask(batch, height, width, hole)
    if kind == "block":
        return block_mask(batch, height, width, hole, generator)
    if kind == "region":
        return region_mask(batch, height, width, hole, generator)
    raise ValueError(f"mask must be one of {MASKS}; got {kind!r}")

"""Squeezing and the multi-scale architecture of RealNVP and Glow.

:class:`Squeeze` turns [B, C, H, W] into [B, 4C, H/2, W/2] (each 2x2 block of pixels becomes four
channels; a permutation, log|det| 0). :class:`MultiScale` runs a list of blocks and after every
block but the last factors out half of the channels: they go straight to the latent (modelled as
standard normal), while the other half goes on to the next block (RealNVP, section 3.6). The
output is the flat latent ``z`` [B, C * H * W]: the factored-out parts in order, then the last
block's output.

References:
    Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP. ICLR 2017. https://arxiv.org/abs/1605.08803
    Kingma, Dhariwal. Glow. NeurIPS 2018. https://arxiv.org/abs/1807.03039
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .transforms import Pair, Transform


class Squeeze(Transform):
    """[B, C, H, W] -> [B, 4C, H/2, W/2] (H and W even); output channel ``4c + 2i + j`` holds
    pixel ``(2h + i, 2w + j)`` of input channel ``c``."""

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        b, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze needs an even height and width; got input shape {tuple(x.shape)}")
        y = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)
        return y, x.new_zeros(b)

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        b, c4, h, w = y.shape
        x = y.view(b, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c4 // 4, 2 * h, 2 * w)
        return x, y.new_zeros(b)


def squeezed(shape: Sequence[int]) -> tuple[int, int, int]:
    """The shape after :class:`Squeeze`: (C, H, W) -> (4C, H/2, W/2)."""
    c, h, w = shape
    return 4 * c, h // 2, w // 2


class MultiScale(Transform):
    """Blocks with factoring-out: x [B, *shape] -> z [B, prod(shape)].

    Args:
        blocks: transforms run one after the other; block ``i`` maps shape ``shapes[i]`` to ``shapes[i + 1]``.
        shapes: the input shape of every block, then the last block's output shape (len(blocks) + 1).
            After block ``i`` (not the last), the first half of the channels of ``shapes[i + 1]`` is
            factored out, so block ``i + 1`` receives (C/2, H, W).
    """

    def __init__(self, blocks: Sequence[Transform], shapes: Sequence[tuple[int, ...]]) -> None:
        super().__init__()
        if len(shapes) != len(blocks) + 1:
            raise ValueError(f"shapes must have len(blocks) + 1 = {len(blocks) + 1} entries; got {len(shapes)}")
        self.blocks = nn.ModuleList(blocks)
        self.shapes = [tuple(s) for s in shapes]

    def _out_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the latent pieces, in the order they are written to z."""
        pieces = []
        for s in self.shapes[1:-1]:
            pieces.append((s[0] // 2, *s[1:]))
        pieces.append(self.shapes[-1])
        return pieces

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        total = x.new_zeros(x.shape[0])
        parts = []
        h = x
        for i, block in enumerate(self.blocks):
            h, ladj = block(h, context)
            total = total + ladj
            if i < len(self.blocks) - 1:
                half = h.shape[1] // 2
                parts.append(h[:, :half].flatten(1))
                h = h[:, half:]
        parts.append(h.flatten(1))
        return torch.cat(parts, 1), total

    def inverse(self, z: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        pieces = self._out_shapes()
        sizes = [math.prod(s) for s in pieces]
        if z.shape[1] != sum(sizes):
            raise ValueError(f"z must have shape (B, {sum(sizes)}); got {tuple(z.shape)}")
        chunks = [c.reshape(z.shape[0], *s) for c, s in zip(z.split(sizes, 1), pieces, strict=True)]
        total = z.new_zeros(z.shape[0])
        h = chunks[-1]
        for i in range(len(self.blocks) - 1, -1, -1):
            if i < len(self.blocks) - 1:
                h = torch.cat([chunks[i], h], 1)
            h, ladj = self.blocks[i].inverse(h, context)
            total = total + ladj
        return h, total

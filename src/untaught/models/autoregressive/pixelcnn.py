"""PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu, 2016): masked convolutions over pixels.

    x [B, C, H, W] --7x7 conv, mask A--> [B, F, H, W] --residual blocks (mask B)--> ReLU, 1x1, ReLU,
    1x1 --> parameters [B, C, H, W, P]

A residual block is ReLU, 1x1 (F -> F/2), ReLU, 3x3 mask B, ReLU, 1x1 (F/2 -> F), plus the input
(Fig. 5 of the paper). Mask A hides the current pixel from the first layer, mask B lets later
layers see their own position, so the output at (i, j) depends on pixels before (i, j) in raster
order only; with C = 3 channel groups make R -> G -> B within a pixel. Stacked masked 3x3 kernels
never reach the pixels up and to the right of the current one beyond a growing triangle: the
*blind spot*, visible with ``untaught audit`` (Gated PixelCNN removes it).

Sampling: the naive sampler runs the whole network once per dimension (H W C passes); the cached
sampler keeps every masked convolution's input and computes each layer only at the pixel being
generated, so a 28x28 image costs about as much as two or three full passes. Both draw the same
samples for the same generator.

References:
    van den Oord, Kalchbrenner, Kavukcuoglu. Pixel Recurrent Neural Networks. ICML 2016.
    https://arxiv.org/abs/1601.06759
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...nn.causal_conv import MaskedConv1x1, MaskedConv2d
from ..base import ModelConfig, check_fields
from .conditionals import AutoregressiveModel


@dataclass
class PixelCNNConfig(ModelConfig):
    """PixelCNN hyperparameters (defaults: pytorch-generative's MNIST PixelCNN).

    Attributes:
        blocks: residual blocks after the first (mask A) convolution.
        channels: F, channels of the residual stream (the blocks' 3x3 layers use F/2).
        head: channels of the hidden 1x1 layer of the output head.
        kernel: size of the first, mask A, convolution (odd).
        mixtures: 0 for a categorical (or Bernoulli) per sub-pixel; K > 0 for a mixture of K
            discretized logistics (PixelCNN++'s likelihood, for many levels).
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 2
    blocks: int = 15
    channels: int = 32
    head: int = 32
    kernel: int = 7
    mixtures: int = 0

    def __post_init__(self) -> None:
        check_fields(self, [("shape", len(self.shape) == 3, "(C, H, W) images")])
        colors = self.shape[0]
        checks = [
            ("blocks", self.blocks >= 0, "an integer >= 0"),
            ("channels", self.channels >= 2 * colors and self.channels % 2 == 0, f"even and >= {2 * colors}"),
            ("head", self.head >= colors, f">= the {colors} colour channels"),
            ("kernel", self.kernel >= 1 and self.kernel % 2 == 1, "odd and >= 1"),
            ("mixtures", self.mixtures >= 0, "an integer >= 0 (0: categorical)"),
        ]
        check_fields(self, checks)


class ResidualBlock(nn.Module):
    """ReLU, 1x1 (F -> F/2), ReLU, 3x3 mask B, ReLU, 1x1 (F/2 -> F), plus the input: [B, F, H, W]."""

    def __init__(self, channels: int, colors: int) -> None:
        super().__init__()
        half = channels // 2
        self.reduce = MaskedConv1x1(channels, half, colors)
        self.conv = MaskedConv2d.pixelcnn(half, half, 3, "B", colors)
        self.expand = MaskedConv1x1(half, channels, colors)

    def forward(self, x: torch.Tensor, taps: list[torch.Tensor] | None = None) -> torch.Tensor:
        t = F.relu(self.reduce(F.relu(x)))
        if taps is not None:
            taps.append(t)
        return x + self.expand(F.relu(self.conv(t)))

    def step(self, x: torch.Tensor, cache: torch.Tensor, i: int, j: int) -> torch.Tensor:
        """The block at pixel (i, j) only: x [n, F] -> [n, F], through the 3x3 layer's cache."""
        t = F.relu(self.reduce.vector(F.relu(x)))
        self.conv.write(cache, t, i, j)
        return x + self.expand.vector(F.relu(self.conv.at(cache, i, j)))


class PixelCNN(AutoregressiveModel):
    """PixelCNN over images ``config.shape`` = (C, H, W) with ``config.levels`` levels.

    ``log_prob(x)``: uint8 [B, C, H, W] -> [B] nats, exact. ``sample(n)`` -> uint8 [n, C, H, W].
    """

    Config = PixelCNNConfig
    name = "pixelcnn"
    description = "PixelCNN: masked convolutions A/B, residual blocks, R->G->B (van den Oord 2016)"
    config: PixelCNNConfig

    def __init__(self, config: PixelCNNConfig) -> None:
        super().__init__(config)
        colors = config.shape[0]
        self.input = MaskedConv2d.pixelcnn(colors, config.channels, config.kernel, "A", colors)
        self.blocks = nn.ModuleList(ResidualBlock(config.channels, colors) for _ in range(config.blocks))
        self.hidden = MaskedConv1x1(config.channels, config.head, colors)
        self.out = MaskedConv1x1(config.head, colors * self.params_per_dim, colors)

    def _head(self, y: torch.Tensor) -> torch.Tensor:
        return self.out.vector(F.relu(self.hidden.vector(F.relu(y))))

    def conditionals(self, h: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """h float [B, C, H, W] in [0, 1] -> parameters [B, C, H, W, P]."""
        return self._forward(h)

    def _forward(self, h: torch.Tensor, taps: list[torch.Tensor] | None = None) -> torch.Tensor:
        y = self.input(2 * h - 1)
        for block in self.blocks:
            y = block(y, taps)
        out = self._head(y.permute(0, 2, 3, 1))  # [B, H, W, C * P]
        b, height, width, _ = out.shape
        return out.view(b, height, width, h.shape[1], self.params_per_dim).permute(0, 3, 1, 2, 4)

    def _sample_cached(
        self, x: torch.Tensor, u: torch.Tensor, start: int, temperature: float, condition: torch.Tensor | None
    ) -> torch.Tensor:
        """Each layer computed at the generated pixel only, from caches of its input."""
        n, (colors, height, width) = len(x), self.config.shape
        like = self.input.weight
        image = self.input.cache(n, height, width, like)
        caches = [block.conv.cache(n, height, width, like) for block in self.blocks]
        if start:  # fill the caches over the given part with one full pass
            taps: list[torch.Tensor] = []
            self._forward(self.scale(x), taps)
            self.input.write_rows(image, 2 * self.scale(x) - 1)
            for block, cache, t in zip(self.blocks, caches, taps, strict=True):
                block.conv.write_rows(cache, t)
        for pos in range(start, self.config.dims):
            pixel, c = divmod(pos, colors)
            i, j = divmod(pixel, width)
            y = self.input.at(image, i, j)
            for block, cache in zip(self.blocks, caches, strict=True):
                y = block.step(y, cache, i, j)
            params = self._head(y).view(n, colors, self.params_per_dim)[:, c]
            x[:, c, i, j] = self.draw(params, u[:, pos], temperature)
            self.input.write(image, 2 * self.scale(x[:, :, i, j]) - 1, i, j)  # seen by later positions
        return x

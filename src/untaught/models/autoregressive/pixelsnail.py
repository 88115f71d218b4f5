"""PixelSNAIL (Chen et al., 2018): causal convolutions for the neighbourhood, causal self-attention
over all earlier pixels for the long range.

    x --mask-A convolution--> [B, F, H, W] --blocks--> ELU, 1x1, ELU, 1x1 --> parameters [B, 1, H, W, P]

A block is ``residuals`` gated residual layers, ``z + W (tanh(a) * sigmoid(b))`` with ``(a, b)`` a
3x3 mask-B convolution of ELU(z), then an attention layer: every pixel's query (from its features
plus a learned position embedding) attends to the keys and values of the pixels strictly before it
in raster order, computed from their features *and their own values* (so every earlier pixel is
within reach), and to a learned *null* key/value pair (so the first pixel attends to something);
the result, through a 1x1 convolution, is added to the features. Strict masking keeps output (i, j)
a function of earlier pixels only, whatever the features at (i, j) already hold.

Images with one channel (C = 1). Sampling: the cached sampler computes the convolutions at the
new pixel from caches of their inputs, and the attention of the new pixel against cached keys and
values; it draws the naive sampler's samples for the same generator.

References:
    Chen, Mishra, Rohaninejad, Abbeel. PixelSNAIL: An Improved Autoregressive Generative Model.
    ICML 2018. https://arxiv.org/abs/1712.09763
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...nn.causal_conv import MaskedConv2d
from ..base import ModelConfig, check_fields
from .conditionals import AutoregressiveModel
from .gated_pixelcnn import gate


@dataclass
class PixelSNAILConfig(ModelConfig):
    """PixelSNAIL hyperparameters.

    Attributes:
        blocks: residual stacks, each followed by an attention layer.
        residuals: gated residual layers per block.
        channels: F, feature channels.
        key: channels of queries and keys.
        value: channels of values.
        head: channels of the hidden 1x1 layer of the output head.
        kernel: size of the first, mask A, convolution (odd).
        mixtures: 0: categorical / Bernoulli; K > 0: discretized logistic mixture.
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 2
    blocks: int = 4
    residuals: int = 2
    channels: int = 64
    key: int = 16
    value: int = 32
    head: int = 32
    kernel: int = 5
    mixtures: int = 0

    def __post_init__(self) -> None:
        if len(self.shape) != 3 or self.shape[0] != 1:
            raise ValueError(f"shape must be (1, H, W): PixelSNAIL here models one-channel images; got {self.shape}")
        names = ("blocks", "residuals", "channels", "key", "value", "head")
        check_fields(self, [(name, getattr(self, name) >= 1, ">= 1") for name in names])
        check_fields(
            self,
            [
                ("kernel", self.kernel >= 1 and self.kernel % 2 == 1, "odd and >= 1"),
                ("mixtures", self.mixtures >= 0, ">= 0"),
            ],
        )


class CausalAttention(nn.Module):
    """Attention of every pixel to the strictly earlier ones and a learned null slot: [B, F, H, W]."""

    def __init__(self, channels: int, key: int, value: int, height: int, width: int) -> None:
        super().__init__()
        self.position = nn.Parameter(torch.randn(channels, height, width) * 0.02)
        self.q = nn.Linear(channels, key)
        self.k, self.v = nn.Linear(channels + 1, key), nn.Linear(channels + 1, value)  # features and the pixel
        self.null_k = nn.Parameter(torch.zeros(key))
        self.null_v = nn.Parameter(torch.zeros(value))
        self.out = nn.Linear(value, channels)
        self.scale = 1 / math.sqrt(key)

    def forward(self, x: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
        """x: features [B, F, H, W]; pixels: the image [B, 1, H, W] (scaled to [-1, 1])."""
        b, c, h, w = x.shape
        z = (x + self.position).flatten(2).transpose(1, 2)  # [B, HW, F]
        zp = torch.cat([z, pixels.flatten(2).transpose(1, 2)], -1)
        q, k, v = self.q(z), self.k(zp), self.v(zp)
        scores = q @ k.transpose(1, 2) * self.scale  # [B, HW, HW]
        earlier = torch.ones(h * w, h * w, dtype=torch.bool, device=x.device).tril(-1)
        scores = scores.masked_fill(~earlier, float("-inf"))
        null = (q @ self.null_k * self.scale).unsqueeze(-1)  # [B, HW, 1]
        weights = torch.softmax(torch.cat([null, scores], -1), -1)
        a = weights[..., :1] * self.null_v + weights[..., 1:] @ v
        return x + self.out(a).transpose(1, 2).view(b, c, h, w)

    def step(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, p: int, i: int, j: int) -> torch.Tensor:
        """Pixel p = (i, j) only: x [n, F]; ``keys`` [n, HW, key], ``values`` [n, HW, value] hold the
        earlier pixels' (:meth:`store` adds this pixel's once its value is drawn)."""
        q = self.q(x + self.position[:, i, j])
        scores = torch.einsum("nk,npk->np", q, keys[:, :p]) * self.scale
        null = (q @ self.null_k * self.scale).unsqueeze(-1)
        weights = torch.softmax(torch.cat([null, scores], -1), -1)
        a = weights[:, :1] * self.null_v + torch.einsum("np,npv->nv", weights[:, 1:], values[:, :p])
        return x + self.out(a)

    def store(
        self, x: torch.Tensor, pixel: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, p: int, i: int, j: int
    ) -> None:
        """Key and value of pixel p from its features x [n, F] and its value ``pixel`` [n, 1]."""
        zp = torch.cat([x + self.position[:, i, j], pixel], -1)
        keys[:, p], values[:, p] = self.k(zp), self.v(zp)


class GatedResidual(nn.Module):
    """z + W (tanh(a) * sigmoid(b)), (a, b) = 3x3 mask-B convolution of ELU(z): [B, F, H, W]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = MaskedConv2d.pixelcnn(channels, 2 * channels, 3, "B")
        self.proj = nn.Linear(channels, channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        g = gate(self.conv(F.elu(z)))
        return z + self.proj(g.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def step(self, z: torch.Tensor, cache: torch.Tensor, i: int, j: int) -> torch.Tensor:
        self.conv.write(cache, F.elu(z), i, j)
        return z + self.proj(gate(self.conv.at(cache, i, j)))


class PixelSNAIL(AutoregressiveModel):
    """PixelSNAIL over one-channel images ``config.shape`` = (1, H, W).

    ``log_prob(x)``: uint8 [B, 1, H, W] -> [B] nats, exact. ``sample(n)`` -> uint8 [n, 1, H, W].
    """

    Config = PixelSNAILConfig
    name = "pixelsnail"
    description = "PixelSNAIL: gated causal convolutions + causal self-attention over earlier pixels (Chen 2018)"
    config: PixelSNAILConfig

    def __init__(self, config: PixelSNAILConfig) -> None:
        super().__init__(config)
        _, h, w = config.shape
        f = config.channels
        self.input = MaskedConv2d.pixelcnn(1, f, config.kernel, "A")
        self.residual = nn.ModuleList(
            nn.ModuleList(GatedResidual(f) for _ in range(config.residuals)) for _ in range(config.blocks)
        )
        self.attention = nn.ModuleList(CausalAttention(f, config.key, config.value, h, w) for _ in range(config.blocks))
        self.hidden = nn.Linear(f, config.head)
        self.out = nn.Linear(config.head, self.params_per_dim)

    def _head(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(F.elu(self.hidden(F.elu(z))))

    def conditionals(self, h: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """h float [B, 1, H, W] in [0, 1] -> parameters [B, 1, H, W, P]."""
        pixels = 2 * h - 1
        z = self.input(pixels)
        for layers, attention in zip(self.residual, self.attention, strict=True):
            for layer in layers:
                z = layer(z)
            z = attention(z, pixels)
        return self._head(z.permute(0, 2, 3, 1)).unsqueeze(1)

    def _sample_cached(
        self, x: torch.Tensor, u: torch.Tensor, start: int, temperature: float, condition: torch.Tensor | None
    ) -> torch.Tensor:
        """Convolutions from input caches, attention against cached keys and values, pixel by pixel."""
        n, (_, height, width) = len(x), self.config.shape
        like, hw = self.out.weight, height * width
        image = self.input.cache(n, height, width, like)
        self.input.write_rows(image, 2 * self.scale(x) - 1)  # given pixels; the others are rewritten
        convs = [[layer.conv.cache(n, height, width, like) for layer in layers] for layers in self.residual]
        keys = [like.new_zeros(n, hw, self.config.key) for _ in self.attention]
        values = [like.new_zeros(n, hw, self.config.value) for _ in self.attention]
        for p in range(hw):
            i, j = divmod(p, width)
            z = self.input.at(image, i, j)
            before_attention = []
            for b, (layers, attention) in enumerate(zip(self.residual, self.attention, strict=True)):
                for layer, cache in zip(layers, convs[b], strict=True):
                    z = layer.step(z, cache, i, j)
                before_attention.append(z)
                z = attention.step(z, keys[b], values[b], p, i, j)
            if p >= start:
                x[:, 0, i, j] = self.draw(self._head(z), u[:, p], temperature)
            pixel = 2 * self.scale(x[:, :, i, j]) - 1  # [n, 1]
            self.input.write(image, pixel, i, j)
            for b, attention in enumerate(self.attention):  # this pixel's keys, for the later ones
                attention.store(before_attention[b], pixel, keys[b], values[b], p, i, j)
        return x

"""WaveNet-style model of sequences: stacks of dilated causal 1-D convolutions (van den Oord et al. 2016).

For sequences stored as [1, 1, T] (e.g. the ``python-chars`` dataset):

    x --causal conv, kernel k, shifted by one--> [B, F, T] --gated residual layers--> skips -->
    ReLU, 1x1, ReLU, 1x1 --> parameters [B, T, P]

A gated residual layer: ``g = tanh(W_f *_d z) * sigmoid(W_g *_d z)`` with a causal convolution of
dilation d (1, 2, 4, ... restarting every ``cycle`` layers), then ``z + W_r g`` and a skip ``W_s g``.
The receptive field is ``1 + (k - 1) * sum(dilations)`` steps before t. Output t depends on
``x[<t]`` only (the first convolution is shifted by one step).

Sampling: the cached sampler (Fast WaveNet, Paine et al. 2016) keeps every layer's input and
computes each layer at the new step only; it draws the naive sampler's samples for the same seed.

References:
    van den Oord et al. WaveNet: A Generative Model for Raw Audio. arXiv:1609.03499, 2016.
    Paine et al. Fast Wavenet Generation Algorithm. arXiv:1611.09482, 2016.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...nn.causal_conv import CausalConv1d
from ..base import ModelConfig, check_fields
from .conditionals import AutoregressiveModel
from .gated_pixelcnn import gate


@dataclass
class WaveNetConfig(ModelConfig):
    """WaveNet hyperparameters.

    Attributes:
        layers: gated residual layers.
        cycle: dilations 1, 2, ..., 2**(cycle - 1), repeated.
        channels: F, residual channels.
        kernel: kernel size of every causal convolution.
    """

    shape: tuple[int, ...] = (1, 1, 64)
    levels: int | None = 128
    layers: int = 8
    cycle: int = 6
    channels: int = 64
    kernel: int = 2

    def __post_init__(self) -> None:
        if len(self.shape) != 3 or self.shape[0] != 1 or self.shape[1] != 1:
            raise ValueError(f"shape must be (1, 1, T) sequences; got {self.shape}")
        check_fields(
            self,
            [
                ("layers", self.layers >= 1, ">= 1"),
                ("cycle", self.cycle >= 1, ">= 1"),
                ("channels", self.channels >= 1, ">= 1"),
                ("kernel", self.kernel >= 1, ">= 1"),
            ],
        )


class WaveNet(AutoregressiveModel):
    """Dilated causal convolutions over sequences [1, 1, T] with ``config.levels`` levels.

    ``log_prob(x)``: uint8 [B, 1, 1, T] -> [B] nats, exact. ``sample(n)`` -> uint8 [n, 1, 1, T].
    """

    Config = WaveNetConfig
    name = "wavenet"
    description = "WaveNet: gated stacks of dilated causal 1-D convolutions over sequences (van den Oord 2016)"
    config: WaveNetConfig

    def __init__(self, config: WaveNetConfig) -> None:
        super().__init__(config)
        f, k = config.channels, config.kernel
        self.input = CausalConv1d(1, f, k, shift=1)
        self.convs = nn.ModuleList(CausalConv1d(f, 2 * f, k, 2 ** (i % config.cycle)) for i in range(config.layers))
        self.residual = nn.ModuleList(nn.Linear(f, f) for _ in range(config.layers))
        self.skip = nn.ModuleList(nn.Linear(f, f) for _ in range(config.layers))
        self.hidden = nn.Linear(f, f)
        self.out = nn.Linear(f, self.params_per_dim)

    @property
    def receptive_field(self) -> int:
        """Steps before t that output t can see."""
        return 1 + sum(c.dilation * (c.kernel - 1) for c in [self.input, *self.convs])

    def _head(self, skip: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.hidden(F.relu(skip))))

    def conditionals(self, h: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """h float [B, 1, 1, T] in [0, 1] -> parameters [B, 1, 1, T, P]."""
        z = self.input(2 * h.flatten(2) - 1)  # [B, F, T]
        skip = 0
        for conv, res, sk in zip(self.convs, self.residual, self.skip, strict=True):
            g = gate(conv(z)).transpose(1, 2)  # [B, T, F]
            skip = skip + sk(g)
            z = z + res(g).transpose(1, 2)
        return self._head(skip).view(*h.shape, self.params_per_dim)

    def _sample_cached(
        self, x: torch.Tensor, u: torch.Tensor, start: int, temperature: float, condition: torch.Tensor | None
    ) -> torch.Tensor:
        """Every layer at the new step only, from caches of its inputs (Fast WaveNet)."""
        n, length = len(x), self.config.dims
        like = self.out.weight
        first = self.input.cache(n, length, like)
        caches = [conv.cache(n, length, like) for conv in self.convs]
        flat = x.view(n, -1)
        for t in range(length):
            if t:
                self.input.write(first, 2 * self.scale(flat[:, t - 1 : t]) - 1, t - 1)
            z = self.input.at(first, t)
            skip = 0
            for conv, cache, res, sk in zip(self.convs, caches, self.residual, self.skip, strict=True):
                conv.write(cache, z, t)
                g = gate(conv.at(cache, t))
                skip = skip + sk(g)
                z = z + res(g)
            if t >= start:
                flat[:, t] = self.draw(self._head(skip), u[:, t], temperature)
        return x

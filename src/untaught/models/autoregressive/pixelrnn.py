"""PixelRNN with Row LSTM layers (van den Oord, Kalchbrenner & Kavukcuoglu, 2016), one-channel images.

A Row LSTM layer runs an LSTM down the rows of the image, all pixels of a row at once:

    gates_i = K_is * z_i  +  K_ss * h_{i-1}          [B, 4H, W]   (input, forget, output, cell)
    c_i = sigmoid(f) c_{i-1} + sigmoid(i) tanh(g),  h_i = sigmoid(o) tanh(c_i)

``K_is`` is a 1 x k convolution along row i of the layer's input, masked (mask A in the first
layer: only pixels to the left; mask B later: up to the current one); ``K_ss`` a 1 x k convolution of
the previous row's states. Pixel (i, j) thus sees a triangle above it (the Row LSTM's receptive
field in the paper's Fig. 4) and the pixels to its left; layers are stacked with residual
connections, then ReLU, 1x1, ReLU, 1x1 give the parameters [B, 1, H, W, P].

The Diagonal BiLSTM of the paper is not implemented. Sampling: the cached sampler runs every
layer's LSTM at the new pixel only, from the stored states of the row above and a cache of the row's
inputs; it draws the naive sampler's samples for the same generator.

References:
    van den Oord, Kalchbrenner, Kavukcuoglu. Pixel Recurrent Neural Networks. ICML 2016.
    https://arxiv.org/abs/1601.06759
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...nn.causal_conv import MaskedConv2d, causal_mask
from ..base import ModelConfig
from .conditionals import AutoregressiveModel


@dataclass
class PixelRNNConfig(ModelConfig):
    """Row LSTM PixelRNN hyperparameters.

    Attributes:
        layers: Row LSTM layers.
        hidden: H, LSTM state channels.
        kernel: width k of the input-to-state and state-to-state convolutions (odd).
        head: channels of the hidden 1x1 layer of the output head.
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 2
    layers: int = 2
    hidden: int = 32
    kernel: int = 3
    head: int = 32

    def __post_init__(self) -> None:
        if len(self.shape) != 3 or self.shape[0] != 1:
            raise ValueError(f"shape must be (1, H, W): this PixelRNN models one-channel images; got {self.shape}")
        if self.layers < 1 or self.hidden < 1 or self.head < 1 or self.kernel < 1 or self.kernel % 2 == 0:
            raise ValueError(
                f"need layers, hidden, head >= 1 and an odd kernel; got {self.layers}, {self.hidden}, "
                f"{self.head}, {self.kernel}"
            )


class RowLSTM(nn.Module):
    """One Row LSTM layer: input [B, in, H, W] -> states [B, H_s, H, W]."""

    def __init__(self, in_channels: int, hidden: int, kernel: int, first: bool) -> None:
        super().__init__()
        p = kernel // 2
        groups = torch.zeros(in_channels, dtype=torch.long), torch.zeros(4 * hidden, dtype=torch.long)
        mask = causal_mask((1, kernel), (0, p), "A" if first else "B", *groups)
        self.input_to_state = MaskedConv2d(in_channels, 4 * hidden, (1, kernel), (0, 0, p, p), mask)
        self.state_to_state = nn.Parameter(torch.empty(4 * hidden, hidden, kernel))
        nn.init.uniform_(self.state_to_state, -1 / math.sqrt(hidden * kernel), 1 / math.sqrt(hidden * kernel))
        self.hidden, self.pad = hidden, p

    @staticmethod
    def _cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        i, f, o, g = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, _, height, width = z.shape
        into = self.input_to_state(z)  # [B, 4H, H, W]: all rows at once
        h = c = into.new_zeros(b, self.hidden, width)
        states = []
        for i in range(height):
            gates = into[:, :, i] + F.conv1d(h, self.state_to_state, padding=self.pad)
            h, c = self._cell(gates, c)
            states.append(h)
        return torch.stack(states, 2)

    def step(
        self, z: torch.Tensor, cache: torch.Tensor, hs: torch.Tensor, cs: torch.Tensor, i: int, j: int
    ) -> torch.Tensor:
        """Pixel (i, j): layer input z [n, in] -> state [n, H_s]. ``hs`` [n, H_s, H, W + 2p] (zero
        borders) and ``cs`` [n, H_s, H, W] hold the states computed so far."""
        self.input_to_state.write(cache, z, i, j)
        gates = self.input_to_state.at(cache, i, j)
        if i:
            above = hs[:, :, i - 1, j : j + 2 * self.pad + 1]  # [n, H_s, k] of the row above
            gates = gates + above.flatten(1) @ self.state_to_state.flatten(1).T
        c_prev = cs[:, :, i - 1, j] if i else torch.zeros_like(cs[:, :, 0, j])
        h, c = self._cell(gates, c_prev)
        hs[:, :, i, j + self.pad], cs[:, :, i, j] = h, c
        return h


class PixelRNN(AutoregressiveModel):
    """Row LSTM PixelRNN over one-channel images (1, H, W) with ``config.levels`` levels.

    ``log_prob(x)``: uint8 [B, 1, H, W] -> [B] nats, exact. ``sample(n)`` -> uint8 [n, 1, H, W].
    """

    Config = PixelRNNConfig
    name = "pixelrnn"
    description = "PixelRNN with Row LSTM layers: LSTMs down the rows, masked 1xk convolutions (van den Oord 2016)"
    config: PixelRNNConfig

    def __init__(self, config: PixelRNNConfig) -> None:
        super().__init__(config)
        hid = config.hidden
        self.rows = nn.ModuleList(
            RowLSTM(1 if i == 0 else hid, hid, config.kernel, first=i == 0) for i in range(config.layers)
        )
        self.hidden_layer = nn.Linear(hid, config.head)
        self.out = nn.Linear(config.head, self.params_per_dim)

    def _head(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.hidden_layer(F.relu(z))))

    def conditionals(self, h: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """h float [B, 1, H, W] in [0, 1] -> parameters [B, 1, H, W, P]."""
        z = self.rows[0](2 * h - 1)
        for layer in self.rows[1:]:
            z = z + layer(z)  # residual
        return self._head(z.permute(0, 2, 3, 1)).unsqueeze(1)

    def _sample_cached(
        self, x: torch.Tensor, u: torch.Tensor, start: int, temperature: float, condition: torch.Tensor | None
    ) -> torch.Tensor:
        """Each layer's LSTM at the new pixel only, from the row above's stored states."""
        n, (_, height, width) = len(x), self.config.shape
        like, hid, p = self.out.weight, self.config.hidden, self.config.kernel // 2
        caches = [layer.input_to_state.cache(n, height, width, like) for layer in self.rows]
        hs = [like.new_zeros(n, hid, height, width + 2 * p) for _ in self.rows]
        cs = [like.new_zeros(n, hid, height, width) for _ in self.rows]
        for pos in range(height * width):
            i, j = divmod(pos, width)
            pixel_left = 2 * self.scale(x[:, :, i, j - 1]) - 1 if j else None
            if pixel_left is not None:  # the first layer's input: the pixel to the left, now known
                self.rows[0].input_to_state.write(caches[0], pixel_left, i, j - 1)
            z = self.rows[0].step(torch.zeros_like(x[:, :, i, j], dtype=like.dtype), caches[0], hs[0], cs[0], i, j)
            for k, layer in enumerate(self.rows[1:], start=1):
                z = z + layer.step(z, caches[k], hs[k], cs[k], i, j)
            if pos >= start:
                x[:, 0, i, j] = self.draw(self._head(z), u[:, pos], temperature)
            if j == width - 1:  # the row's last pixel, for completeness of the first layer's cache
                self.rows[0].input_to_state.write(caches[0], 2 * self.scale(x[:, :, i, j]) - 1, i, j)
        return x

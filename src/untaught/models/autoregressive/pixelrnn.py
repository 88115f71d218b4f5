"""PixelRNN (van den Oord, Kalchbrenner & Kavukcuoglu, 2016) with Row LSTM or Diagonal BiLSTM
layers (``layer = "row" | "diagonal"``), one-channel images.

A Row LSTM layer runs an LSTM down the rows of the image, all pixels of a row at once:

    gates_i = K_is * z_i  +  K_ss * h_{i-1}          [B, 4H, W]   (input, forget, output, cell)
    c_i = sigmoid(f) c_{i-1} + sigmoid(i) tanh(g),  h_i = sigmoid(o) tanh(c_i)

``K_is`` is a 1 x k convolution along row i of the layer's input, masked (mask A in the first
layer: only pixels to the left; mask B later: up to the current one); ``K_ss`` a 1 x k convolution of
the previous row's states. Pixel (i, j) thus sees a triangle above it (the Row LSTM's receptive
field in the paper's Fig. 4) and the pixels to its left.

A Diagonal BiLSTM layer (Sec. 3.2) runs two LSTMs along the diagonals. The input map is *skewed*
(row i shifted right by i), so that a column of the skewed map is a diagonal of the image; an
LSTM then runs over the skewed columns, left to right, with a 1x1 input-to-state convolution and a
2x1 state-to-state convolution over the previous column (rows i-1 and i), and the states are
*unskewed*. State (i, j) thus depends on the states (i-1, j) and (i, j-1): on the whole rectangle
above and to the left. The right-to-left direction is the same on the mirrored image, covering the
rectangle above and to the right, and its output is shifted down one row before it is added, so
that (i, j) sees only rows above from it: together every earlier pixel, no blind spot. The states
read from outside the image are zero. The first layer reads the image itself: its left-to-right
input-to-state sees the pixel to the left (1 x 2 kernel, mask A), its right-to-left one the pixel
(the shift makes it earlier); later layers use 1x1 convolutions, as in the paper.

Layers are stacked with residual connections, then ReLU, 1x1, ReLU, 1x1 give the parameters
[B, 1, H, W, P]. Sampling: the cached sampler runs every layer's LSTM at the new pixel only, from
the stored states of the row above and a cache of the layer's inputs (the Diagonal BiLSTM's
right-to-left states of a row once that row is complete); it draws the naive sampler's samples for
the same generator.

References:
    van den Oord, Kalchbrenner, Kavukcuoglu. Pixel Recurrent Neural Networks. ICML 2016.
    https://arxiv.org/abs/1601.06759
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ...nn.causal_conv import MaskedConv2d, causal_mask
from ..base import ModelConfig, check_fields
from .conditionals import AutoregressiveModel


@dataclass
class PixelRNNConfig(ModelConfig):
    """PixelRNN hyperparameters.

    Attributes:
        layer: "row" (Row LSTM) or "diagonal" (Diagonal BiLSTM).
        layers: LSTM layers.
        hidden: H, LSTM state channels.
        kernel: width k of the Row LSTM's input-to-state and state-to-state convolutions (odd; the
            Diagonal BiLSTM's are 1x1 and 2x1).
        head: channels of the hidden 1x1 layer of the output head.
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 2
    layer: Literal["row", "diagonal"] = "row"
    layers: int = 2
    hidden: int = 32
    kernel: int = 3
    head: int = 32

    def __post_init__(self) -> None:
        if len(self.shape) != 3 or self.shape[0] != 1:
            raise ValueError(f"shape must be (1, H, W): this PixelRNN models one-channel images; got {self.shape}")
        if self.layer not in ("row", "diagonal"):
            raise ValueError(f"layer must be 'row' or 'diagonal'; got {self.layer!r}")
        check_fields(
            self,
            [
                ("layers", self.layers >= 1, ">= 1"),
                ("hidden", self.hidden >= 1, ">= 1"),
                ("head", self.head >= 1, ">= 1"),
                ("kernel", self.kernel >= 1 and self.kernel % 2 == 1, "odd and >= 1"),
            ],
        )


def lstm_cell(gates: torch.Tensor, c: torch.Tensor, dim: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """LSTM update from pre-activations ``gates`` (input, forget, output, cell; 4H along ``dim``) and
    the previous cell ``c`` (H along ``dim``): (h, c)."""
    i, f, o, g = gates.chunk(4, dim)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


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

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, _, height, width = z.shape
        into = self.input_to_state(z).unbind(2)  # H rows [B, 4H, W], all at once (unbind: one gradient buffer)
        h = c = into[0].new_zeros(b, self.hidden, width)
        states = []
        for i in range(height):
            gates = into[i] + F.conv1d(h, self.state_to_state, padding=self.pad)
            h, c = lstm_cell(gates, c)
            states.append(h)
        return torch.stack(states, 2)

    # -- cached sampling: start, then step / write per pixel, finish_row per row --------------------
    def start(self, n: int, height: int, width: int, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """The sampler's state: the input cache and the states so far, ``h`` [n, H_s, H, W + 2p] (zero
        borders) and ``c`` [n, H_s, H, W]."""
        hid, p = self.hidden, self.pad
        return {
            "input": self.input_to_state.cache(n, height, width, like),
            "h": like.new_zeros(n, hid, height, width + 2 * p),
            "c": like.new_zeros(n, hid, height, width),
        }

    def write(self, state: dict[str, torch.Tensor], z: torch.Tensor, i: int, j: int) -> None:
        """Store the layer's input at (i, j): z [n, in]."""
        self.input_to_state.write(state["input"], z, i, j)

    def step(self, state: dict[str, torch.Tensor], z: torch.Tensor | None, i: int, j: int) -> torch.Tensor:
        """The output at (i, j) [n, H_s]; z [n, in] is the input there (None: not known yet, for the
        first layer, whose kernel does not see it)."""
        if z is not None:
            self.write(state, z, i, j)
        hs, cs = state["h"], state["c"]
        gates = self.input_to_state.at(state["input"], i, j)
        if i:
            above = hs[:, :, i - 1, j : j + 2 * self.pad + 1]  # [n, H_s, k] of the row above
            gates = gates + above.flatten(1) @ self.state_to_state.flatten(1).T
        c_prev = cs[:, :, i - 1, j] if i else torch.zeros_like(cs[:, :, 0, j])
        h, c = lstm_cell(gates, c_prev)
        hs[:, :, i, j + self.pad], cs[:, :, i, j] = h, c
        return h

    def finish_row(self, state: dict[str, torch.Tensor], i: int) -> None:
        """Nothing to do once a row is complete: every state was computed at its pixel."""


def skew(x: torch.Tensor) -> torch.Tensor:
    """Shift row i right by i: [..., H, W] -> [..., H, W + H - 1], zeros elsewhere (column t of the
    result is the diagonal i + j = t)."""
    height, width = x.shape[-2:]
    index = torch.arange(width + height - 1, device=x.device)[None, :] - torch.arange(height, device=x.device)[:, None]
    padded = F.pad(x, (height - 1, height - 1))  # column j + H - 1 holds column j
    return padded.gather(-1, (index + height - 1).expand(*x.shape[:-1], -1))


def unskew(x: torch.Tensor, width: int) -> torch.Tensor:
    """The inverse of :func:`skew`: [..., H, W + H - 1] -> [..., H, W]."""
    height = x.shape[-2]
    index = torch.arange(width, device=x.device)[None, :] + torch.arange(height, device=x.device)[:, None]
    return x.gather(-1, index.expand(*x.shape[:-1], -1))


class DiagonalBiLSTM(nn.Module):
    """One Diagonal BiLSTM layer (see the module doc): input [B, in, H, W] -> [B, H_s, H, W], the
    left-to-right states plus the right-to-left states of the row above."""

    def __init__(self, in_channels: int, hidden: int, first: bool) -> None:
        super().__init__()
        if first:  # kernel [left pixel, pixel]: left-to-right gates see the left one, right-to-left the pixel
            mask = torch.zeros(8 * hidden, in_channels, 1, 2)
            mask[: 4 * hidden, :, 0, 0] = 1
            mask[4 * hidden :, :, 0, 1] = 1
            self.input_to_state = MaskedConv2d(in_channels, 8 * hidden, (1, 2), (0, 0, 1, 0), mask)
        else:
            self.input_to_state = MaskedConv2d(in_channels, 8 * hidden, (1, 1), (0, 0, 0, 0))
        # per direction, the 2x1 state-to-state kernel over the previous column: [state above | state beside]
        self.state_to_state = nn.Parameter(torch.empty(2, 4 * hidden, 2 * hidden))
        nn.init.uniform_(self.state_to_state, -1 / math.sqrt(2 * hidden), 1 / math.sqrt(2 * hidden))
        self.hidden = hidden

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, _, height, width = z.shape
        l2r, r2l = self.input_to_state(z).chunk(2, 1)  # [B, 4H, H, W] each
        # [2, 4H, B, H, W + H - 1] (direction first, right-to-left mirrored), zero outside the image, so
        # (no bias in the state-to-state kernel) the states left of the image stay zero; those right of
        # it are never read. Columns unbound once: one gradient buffer, not one per step.
        columns = skew(torch.stack([l2r, r2l.flip(-1)]).transpose(1, 2)).unbind(-1)
        h = c = l2r.new_zeros(2, self.hidden, b, height)
        states = []
        for into in columns:  # one skewed column (image diagonal) at a time
            above = F.pad(h, (1, 0))[..., :-1]  # state (i - 1, t - 1) for row i
            prev = torch.cat([above, h], 1).view(2, 2 * self.hidden, b * height)
            recurrent = torch.bmm(self.state_to_state, prev).view(2, 4 * self.hidden, b, height)
            h, c = lstm_cell(into + recurrent, c)
            states.append(h)
        out = unskew(torch.stack(states, -1), width).transpose(1, 2)  # [2, B, H_s, H, W]
        return out[0] + F.pad(out[1].flip(-1), (0, 0, 1, 0))[:, :, :-1]

    # -- cached sampling ------------------------------------------------------------------------------
    def start(self, n: int, height: int, width: int, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """The sampler's state: the input cache, and both directions' states ``h``, ``c``
        [2, n, H_s, H + 1, W + 2] with (i, j) at (i + 1, j + 1) (zero borders)."""
        return {
            "input": self.input_to_state.cache(n, height, width, like),
            "h": like.new_zeros(2, n, self.hidden, height + 1, width + 2),
            "c": like.new_zeros(2, n, self.hidden, height + 1, width + 2),
        }

    def write(self, state: dict[str, torch.Tensor], z: torch.Tensor, i: int, j: int) -> None:
        """Store the layer's input at (i, j): z [n, in]."""
        self.input_to_state.write(state["input"], z, i, j)

    def step(self, state: dict[str, torch.Tensor], z: torch.Tensor | None, i: int, j: int) -> torch.Tensor:
        """The output at (i, j) [n, H_s]: the left-to-right state there (from (i - 1, j) and (i, j - 1))
        plus the right-to-left state at (i - 1, j) (its row is complete). z: as for RowLSTM.step."""
        if z is not None:
            self.write(state, z, i, j)
        hs, cs = state["h"], state["c"]
        gates = self.input_to_state.at(state["input"], i, j)[:, : 4 * self.hidden]
        prev = torch.cat([hs[0, :, :, i, j + 1], hs[0, :, :, i + 1, j]], 1)  # above, left
        h, c = lstm_cell(gates + prev @ self.state_to_state[0].T, cs[0, :, :, i + 1, j])
        hs[0, :, :, i + 1, j + 1], cs[0, :, :, i + 1, j + 1] = h, c
        return h + hs[1, :, :, i, j + 1]

    def finish_row(self, state: dict[str, torch.Tensor], i: int) -> None:
        """The right-to-left states of row i, right to left, once the layer's input row i is cached."""
        hs, cs = state["h"], state["c"]
        gates = self.input_to_state.row(state["input"], i)[:, 4 * self.hidden :]  # [n, 4H, W]
        for j in range(gates.shape[-1] - 1, -1, -1):
            prev = torch.cat([hs[1, :, :, i, j + 1], hs[1, :, :, i + 1, j + 2]], 1)  # above, right
            h, c = lstm_cell(gates[:, :, j] + prev @ self.state_to_state[1].T, cs[1, :, :, i + 1, j + 2])
            hs[1, :, :, i + 1, j + 1], cs[1, :, :, i + 1, j + 1] = h, c


class PixelRNN(AutoregressiveModel):
    """PixelRNN (Row LSTM or Diagonal BiLSTM layers) over one-channel images (1, H, W) with
    ``config.levels`` levels.

    ``log_prob(x)``: uint8 [B, 1, H, W] -> [B] nats, exact. ``sample(n)`` -> uint8 [n, 1, H, W].
    """

    Config = PixelRNNConfig
    name = "pixelrnn"
    description = "PixelRNN: Row LSTM or Diagonal BiLSTM (--layer diagonal) layers, residual (van den Oord 2016)"
    config: PixelRNNConfig

    @classmethod
    def variant(cls, config: dict[str, Any]) -> str:
        layer = config.get("layer", "row")
        return {"row": "Row LSTM", "diagonal": "Diagonal BiLSTM"}.get(layer, str(layer))

    def __init__(self, config: PixelRNNConfig) -> None:
        super().__init__(config)
        hid = config.hidden
        self.rows = nn.ModuleList(
            RowLSTM(1 if i == 0 else hid, hid, config.kernel, first=i == 0)
            if config.layer == "row"
            else DiagonalBiLSTM(1 if i == 0 else hid, hid, first=i == 0)
            for i in range(config.layers)
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
        """Each layer's LSTM at the new pixel only, from the stored states of the rows above."""
        n, (_, height, width) = len(x), self.config.shape
        like = self.out.weight
        states = [layer.start(n, height, width, like) for layer in self.rows]
        for i in range(height):
            for j in range(width):
                z = self.rows[0].step(states[0], None, i, j)  # the first layer does not see pixel (i, j)
                for layer, state in zip(self.rows[1:], states[1:], strict=True):
                    z = z + layer.step(state, z, i, j)
                if i * width + j >= start:
                    x[:, 0, i, j] = self.draw(self._head(z), u[:, i * width + j], temperature)
                self.rows[0].write(states[0], 2 * self.scale(x[:, :, i, j]) - 1, i, j)  # seen by later pixels
            for layer, state in zip(self.rows, states, strict=True):
                layer.finish_row(state, i)
        return x

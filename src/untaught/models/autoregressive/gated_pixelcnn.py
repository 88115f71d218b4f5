"""Gated PixelCNN (van den Oord et al., 2016): two stacks without a blind spot, gated units,
class conditioning.

Every layer holds a *vertical* stack, which sees all the rows above the current pixel
((k//2 + 1) x k kernels over the rows up to the current one, shifted down one row before use), and
a *horizontal* stack, which sees the pixels to the left in the current row (1 x (k//2 + 1)
kernels, mask A in the first layer) plus the vertical stack through a 1x1 link. Together they
cover the whole causal field: no blind spot (compare ``untaught audit`` of a PixelCNN). Units
are gated, ``y = tanh(f) * sigmoid(g)``, and with ``num_classes`` > 0 a learned class embedding is
added to every ``f`` and ``g`` (the class-conditional PixelCNN of the paper):

    v_l   = W_v * v_{l-1}                      (vertical convolution, 2F channels)
    v'_l  = gate(v_l + e_v[y])
    h_l   = gate(W_h * h_{l-1} + W_link shift_down(v_l) + e_h[y]),  skip_l = W_s h_l
    h'_l  = h_{l-1} + W_r h_l                  (no residual in the first layer)
    parameters = 1x1(ReLU(1x1(ReLU(sum_l skip_l))))                       [B, C, H, W, P]

With C = 3 the horizontal stack and the head carry colour groups (R -> G -> B); the vertical
stack sees only rows above, which every colour may use.

Sampling: the cached sampler computes the vertical stacks of a row once, when the row above is
complete, and the horizontal stack at the generated pixel only; it draws the naive sampler's
samples for the same generator.

References:
    van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves, Kavukcuoglu. Conditional Image
    Generation with PixelCNN Decoders. NeurIPS 2016. https://arxiv.org/abs/1606.05328
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...nn.causal_conv import MaskedConv1x1, MaskedConv2d, causal_mask, color_groups
from ..base import ModelConfig
from .conditionals import AutoregressiveModel


@dataclass
class GatedPixelCNNConfig(ModelConfig):
    """Gated PixelCNN hyperparameters (defaults: pytorch-generative's MNIST Gated PixelCNN).

    Attributes:
        layers: gated layers after the first one (whose kernel is ``kernel``; the others are 3).
        channels: F, channels of each stack.
        head: channels of the hidden 1x1 layer of the output head.
        kernel: kernel size of the first layer (odd).
        num_classes: > 0 for a class-conditional model (labels 0 .. num_classes-1).
        mixtures: 0 for a categorical (or Bernoulli) per sub-pixel; K > 0 for a mixture of K
            discretized logistics (PixelCNN++'s likelihood, for many levels).
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 2
    layers: int = 10
    channels: int = 128
    head: int = 32
    kernel: int = 7
    num_classes: int = 0
    mixtures: int = 0

    def __post_init__(self) -> None:
        if len(self.shape) != 3:
            raise ValueError(f"shape must be (C, H, W) images; got {self.shape}")
        colors = self.shape[0]
        checks = [
            ("layers", self.layers >= 0, "an integer >= 0"),
            ("channels", self.channels >= colors, f">= the {colors} colour channels"),
            ("head", self.head >= colors, f">= the {colors} colour channels"),
            ("kernel", self.kernel >= 3 and self.kernel % 2 == 1, "odd and >= 3"),
            ("num_classes", self.num_classes >= 0, "an integer >= 0 (0: unconditional)"),
            ("mixtures", self.mixtures >= 0, "an integer >= 0 (0: categorical)"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}; got {getattr(self, name)}")


def gate(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """tanh(first half) * sigmoid(second half) along ``dim``: [.., 2F, ..] -> [.., F, ..]."""
    f, g = x.chunk(2, dim)
    return torch.tanh(f) * torch.sigmoid(g)


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """Row i of the result is row i - 1 of x (zeros in row 0): [B, C, H, W]."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


class GatedLayer(nn.Module):
    """One layer of both stacks. ``first``: the input layer (mask A, no residual)."""

    def __init__(self, in_channels: int, channels: int, kernel: int, colors: int, first: bool) -> None:
        super().__init__()
        p = kernel // 2
        self.vertical = MaskedConv2d(in_channels, 2 * channels, (p + 1, kernel), (p, 0, p, p))
        self.link = MaskedConv1x1(2 * channels, 2 * channels)
        mask = causal_mask(
            (1, p + 1),
            (0, p),
            "A" if first else "B",
            color_groups(in_channels, colors),
            color_groups(2 * channels, colors, 2),
        )
        self.horizontal = MaskedConv2d(in_channels, 2 * channels, (1, p + 1), (0, 0, p, 0), mask)
        self.skip = MaskedConv1x1(channels, channels, colors)
        self.residual = None if first else MaskedConv1x1(channels, channels, colors)

    def forward(
        self, v: torch.Tensor, h: torch.Tensor, cond: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """v, h: [B, in, H, W] -> (v', h', skip), each [B, F, H, W]."""
        cv, ch = (0, 0) if cond is None else (cond[0][:, :, None, None], cond[1][:, :, None, None])
        vc = self.vertical(v)
        gated = gate(self.horizontal(h) + self.link(shift_down(vc)) + ch)
        h_out = gated if self.residual is None else h + self.residual(gated)
        return gate(vc + cv), h_out, self.skip(gated)


class GatedPixelCNN(AutoregressiveModel):
    """Gated PixelCNN over images ``config.shape`` = (C, H, W) with ``config.levels`` levels.

    ``log_prob(x, condition=y)``: uint8 [B, C, H, W] (and int64 labels [B] if class-conditional)
    -> [B] nats, exact. ``sample(n, condition=y)`` -> uint8 [n, C, H, W].
    """

    Config = GatedPixelCNNConfig
    name = "gated-pixelcnn"
    description = "Gated PixelCNN: vertical + horizontal stacks (no blind spot), gates, classes (van den Oord 2016)"
    config: GatedPixelCNNConfig

    def __init__(self, config: GatedPixelCNNConfig) -> None:
        super().__init__(config)
        colors, f = config.shape[0], config.channels
        self.layers = nn.ModuleList(
            GatedLayer(colors if i == 0 else f, f, config.kernel if i == 0 else 3, colors, first=i == 0)
            for i in range(config.layers + 1)
        )
        if config.num_classes:
            self.embed_v = nn.Parameter(torch.zeros(config.layers + 1, config.num_classes, 2 * f))
            self.embed_h = nn.Parameter(torch.zeros(config.layers + 1, config.num_classes, 2 * f))
        self.hidden = MaskedConv1x1(f, config.head, colors)
        self.out = MaskedConv1x1(config.head, colors * self.params_per_dim, colors)

    # -- conditioning -----------------------------------------------------------------------------
    def _labels(self, condition: torch.Tensor | int | None, n: int, for_sampling: bool) -> torch.Tensor | None:
        k = self.config.num_classes
        if not k:
            return None  # an unconditional model ignores the labels the engine passes
        device = self.out.weight.device
        if condition is None:
            if not for_sampling:
                raise ValueError(f"this model is class-conditional ({k} classes): pass condition=labels [B]")
            return torch.arange(n, device=device) % k  # samples cycle through the classes
        y = torch.as_tensor(condition, device=device).long()
        y = y.expand(n) if y.dim() == 0 else y
        if y.shape != (n,) or (n and (int(y.min()) < 0 or int(y.max()) >= k)):
            shown = f"shape {tuple(y.shape)}, values in [{int(y.min())}, {int(y.max())}]" if y.numel() else "none"
            raise ValueError(f"condition must be {n} class labels in [0, {k}); got {shown}")
        return y

    def _cond(self, y: torch.Tensor | None, layer: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        return None if y is None else (self.embed_v[layer][y], self.embed_h[layer][y])

    # -- network ----------------------------------------------------------------------------------
    def _head(self, skip: torch.Tensor) -> torch.Tensor:
        return self.out.vector(F.relu(self.hidden.vector(F.relu(skip))))

    def conditionals(self, h: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """h float [B, C, H, W] in [0, 1] (labels [B] if class-conditional) -> parameters [B, C, H, W, P]."""
        y = self._labels(condition, len(h), for_sampling=False)
        v = hs = 2 * h - 1
        skip = 0
        for index, layer in enumerate(self.layers):
            v, hs, s = layer(v, hs, self._cond(y, index))
            if index == 0:  # channels-last activations: oneDNN's faster convolutions on CPU
                v, hs = (t.contiguous(memory_format=torch.channels_last) for t in (v, hs))
            skip = skip + s
        out = self._head(skip.permute(0, 2, 3, 1))  # [B, H, W, C * P]
        b, height, width, _ = out.shape
        return out.view(b, height, width, h.shape[1], self.params_per_dim).permute(0, 3, 1, 2, 4)

    # -- protocol ---------------------------------------------------------------------------------
    def loss(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None, condition: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Mean NLL of the batch in nats; ``condition``: labels [B] (used if class-conditional)."""
        return self._loss(x, condition)

    def log_prob(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Exact log p(x) (or log p(x | y) if class-conditional) in nats: [B]."""
        return self._log_prob(x, condition)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        condition: torch.Tensor | int | None = None,
        given: torch.Tensor | None = None,
        known: int = 0,
        fast: bool = True,
    ) -> torch.Tensor:
        """``n`` samples, uint8 [n, C, H, W]; ``condition``: a label or labels [n] (class-conditional
        models; None cycles through the classes). Other arguments: see AutoregressiveModel.sample."""
        y = self._labels(condition, n, for_sampling=True)
        return self._sample(n, temperature, generator, y, given, known, fast)

    def _sample_cached(
        self, x: torch.Tensor, u: torch.Tensor, start: int, temperature: float, condition: torch.Tensor | None
    ) -> torch.Tensor:
        """Vertical stacks row by row (once the row above is complete); horizontal stack per pixel."""
        n, (colors, height, width) = len(x), self.config.shape
        like, f = self.out.weight, self.config.channels
        y = condition
        conds = [self._cond(y, i) for i in range(len(self.layers))]
        v_in = [layer.vertical.cache(n, height, width, like) for layer in self.layers]
        h_in = [layer.horizontal.cache(n, height, width, like) for layer in self.layers]
        v_pre = like.new_zeros(len(self.layers), n, 2 * f, height, width)  # vertical conv outputs
        image = 2 * self.scale(x) - 1
        self.layers[0].vertical.write_rows(v_in[0], image)
        self.layers[0].horizontal.write_rows(h_in[0], image)
        first_row = start // (width * colors)
        for i in range(height):
            if i >= 1:  # row i - 1 of every vertical stack, now that image row i - 1 is complete
                self._vertical_row(i - 1, v_in, v_pre, conds)
            if i < first_row:
                continue
            for j in range(width):
                for c in range(colors):
                    pos = (i * width + j) * colors + c
                    if pos < start:  # a given pixel: only fill the horizontal caches with it
                        if c == colors - 1:
                            self._horizontal_at(i, j, h_in, v_pre, conds)
                        continue
                    params = self._horizontal_at(i, j, h_in, v_pre, conds).view(n, colors, -1)[:, c]
                    x[:, c, i, j] = self.draw(params, u[:, pos], temperature)
                    pixel = 2 * self.scale(x[:, :, i, j]) - 1  # seen by later positions
                    self.layers[0].vertical.write(v_in[0], pixel, i, j)
                    self.layers[0].horizontal.write(h_in[0], pixel, i, j)
        return x

    def _vertical_row(self, r: int, v_in: list, v_pre: torch.Tensor, conds: list) -> None:
        for index, layer in enumerate(self.layers):
            vc = layer.vertical.row(v_in[index], r)  # [n, 2F, W]
            v_pre[index, :, :, r] = vc
            if index + 1 < len(self.layers):
                cv = 0 if conds[index] is None else conds[index][0][:, :, None]
                self.layers[index + 1].vertical.write_row(v_in[index + 1], gate(vc + cv), r)

    def _horizontal_at(self, i: int, j: int, h_in: list, v_pre: torch.Tensor, conds: list) -> torch.Tensor:
        skip = 0
        h = None
        for index, layer in enumerate(self.layers):
            if index:
                layer.horizontal.write(h_in[index], h, i, j)
            above = v_pre[index, :, :, i - 1, j] if i else torch.zeros_like(v_pre[index, :, :, 0, 0])
            pre = layer.horizontal.at(h_in[index], i, j) + layer.link.vector(above)
            if conds[index] is not None:
                pre = pre + conds[index][1]
            gated = gate(pre)
            skip = skip + layer.skip.vector(gated)
            h = gated if layer.residual is None else h + layer.residual.vector(gated)
        return self._head(skip)

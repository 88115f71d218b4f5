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

With ``lowres`` = f > 0 the model is conditioned on the image itself downsampled f times (each
f x f block's mean level, rounded): ``log_prob(x)`` is ``log p(x | lowres(x))`` and
``sample(n, lowres=small)`` turns small images into full-size ones (super-resolution as in Dahl et
al. 2017, Pixel Recursive Super Resolution, with this network as the prior). The small image,
upsampled and passed through a 3x3 convolution, enters every gate through 1x1 convolutions.

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
from ..base import ModelConfig, check_fields
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
        lowres: f > 0 conditions on the image downsampled by f (H and W divisible by f).
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
    lowres: int = 0
    mixtures: int = 0

    def __post_init__(self) -> None:
        check_fields(self, [("shape", len(self.shape) == 3, "(C, H, W) images")])
        colors = self.shape[0]
        checks = [
            ("layers", self.layers >= 0, "an integer >= 0"),
            ("channels", self.channels >= colors, f">= the {colors} colour channels"),
            ("head", self.head >= colors, f">= the {colors} colour channels"),
            ("kernel", self.kernel >= 3 and self.kernel % 2 == 1, "odd and >= 3"),
            ("num_classes", self.num_classes >= 0, "an integer >= 0 (0: unconditional)"),
            ("mixtures", self.mixtures >= 0, "an integer >= 0 (0: categorical)"),
            (
                "lowres",
                self.lowres >= 0
                and (not self.lowres or (self.shape[1] % self.lowres == 0 == self.shape[2] % self.lowres)),
                f"an integer >= 0 dividing the image size {self.shape[1]}x{self.shape[2]}",
            ),
        ]
        check_fields(self, checks)


def gate(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """tanh(first half) * sigmoid(second half) along ``dim``: [.., 2F, ..] -> [.., F, ..]."""
    f, g = x.chunk(2, dim)
    return torch.tanh(f) * torch.sigmoid(g)


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """Row i of the result is row i - 1 of x (zeros in row 0): [B, C, H, W]."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def _row(t: torch.Tensor, r: int) -> torch.Tensor:
    """Row r of a broadcastable condition [B, 2F, H or 1, W or 1]: [B, 2F, W or 1]."""
    return t[:, :, min(r, t.shape[2] - 1)]


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
        cv, ch = (0, 0) if cond is None else cond
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

    @classmethod
    def variant(cls, config: dict[str, Any]) -> str:
        given = []
        if config.get("num_classes"):
            given.append("the class")
        if config.get("lowres"):
            given.append(f"the image / {config['lowres']}")
        return "NLL given " + " and ".join(given) if given else ""

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
        if config.lowres:
            self._image_condition_layers(colors)
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

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        """The low-resolution image: uint8 [B, C, H, W] -> uint8 [B, C, H/f, W/f], each f x f block's
        mean level, rounded (``lowres`` = f)."""
        f = self.config.lowres
        if not f:
            raise ValueError("this model has no low-resolution conditioning (lowres = 0)")
        return F.avg_pool2d(x.double(), f).round().to(torch.uint8)

    def _small(self, low: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """Check a low-resolution condition (None: a flat mid-level image, as for samples.png)."""
        if not self.config.lowres:
            if low is not None:
                raise ValueError("lowres images given to a model without low-resolution conditioning")
            return None
        c, h, w = self.config.shape
        f = self.config.lowres
        if low is None:
            low = torch.full((n, c, h // f, w // f), (self.config.levels - 1) // 2, dtype=torch.uint8)
        expected = (n, c, h // f, w // f)
        if tuple(low.shape) != expected or low.is_floating_point() or int(low.max()) >= self.config.levels:
            raise ValueError(
                f"lowres must be integer levels of shape {expected} in [0, {self.config.levels}); got "
                f"{low.dtype} {tuple(low.shape)}"
            )
        return low.to(self.out.weight.device)

    def _image_condition_layers(self, in_channels: int) -> None:
        """The image condition's 3x3 input convolution (``in_channels`` -> F) and, per layer, the 1x1
        convolutions that add it to the vertical and horizontal gates (F -> 2F)."""
        f, n = self.config.channels, len(self.layers)
        self.lowres_in = nn.Conv2d(in_channels, f, 3, padding=1)
        self.lowres_v = nn.ModuleList(nn.Conv2d(f, 2 * f, 1) for _ in range(n))
        self.lowres_h = nn.ModuleList(nn.Conv2d(f, 2 * f, 1) for _ in range(n))

    def _image_condition_features(self, low: torch.Tensor) -> torch.Tensor:
        """The small image [B, C, H/f, W/f] as features [B, F, H, W]: upsampled f times (nearest),
        3x3 convolution, ReLU. A subclass conditioned on something else overrides this."""
        big = F.interpolate(2 * self.scale(low) - 1, scale_factor=self.config.lowres, mode="nearest")
        return F.relu(self.lowres_in(big))

    def _conds(self, y: torch.Tensor | None, low: torch.Tensor | None) -> list:
        """Per layer, what the condition adds to the vertical and horizontal gates: broadcastable
        [B, 2F, H or 1, W or 1] pairs, or None."""
        if y is None and low is None:
            return [None] * len(self.layers)
        out = []
        if low is not None:
            s = self._image_condition_features(low)
        for index in range(len(self.layers)):
            cv = ch = 0
            if y is not None:
                cv = cv + self.embed_v[index][y][:, :, None, None]
                ch = ch + self.embed_h[index][y][:, :, None, None]
            if low is not None:
                cv = cv + self.lowres_v[index](s)
                ch = ch + self.lowres_h[index](s)
            out.append((cv, ch))
        return out

    # -- network ----------------------------------------------------------------------------------
    def _head(self, skip: torch.Tensor) -> torch.Tensor:
        return self.out.vector(F.relu(self.hidden.vector(F.relu(skip))))

    def conditionals(self, h: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """h float [B, C, H, W] in [0, 1] (labels [B] if class-conditional) -> parameters [B, C, H, W, P]."""
        labels, low = condition if isinstance(condition, tuple) else (condition, None)
        y = self._labels(labels, len(h), for_sampling=False)
        if self.config.lowres and low is None:  # held fixed: rounding passes no gradient to h
            low = self.downsample((h.detach() * (self.config.levels - 1)).round())
        conds = self._conds(y, low)
        v = hs = 2 * h - 1
        skip = 0
        for index, layer in enumerate(self.layers):
            v, hs, s = layer(v, hs, conds[index])
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
        return self._loss(x, (condition, self.downsample(x) if self.config.lowres else None))

    def log_prob(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, lowres: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Exact log p(x) in nats: [B]; given the labels if class-conditional, and given the
        low-resolution image (default: ``downsample(x)``) if ``lowres`` > 0."""
        if self.config.lowres and lowres is None:
            lowres = self.downsample(self.check_data(x))
        return self._log_prob(x, (condition, self._small(lowres, len(x))))

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        condition: torch.Tensor | int | None = None,
        lowres: torch.Tensor | None = None,
        given: torch.Tensor | None = None,
        known: int = 0,
        fast: bool = True,
    ) -> torch.Tensor:
        """``n`` samples, uint8 [n, C, H, W]; ``condition``: a label or labels [n] (class-conditional
        models; None cycles through the classes); ``lowres``: uint8 [n, C, H/f, W/f], the small images
        to enlarge (models with ``lowres`` = f; None: a flat mid-level image). Other arguments: see
        AutoregressiveModel.sample."""
        y = self._labels(condition, n, for_sampling=True)
        return self._sample(n, temperature, generator, (y, self._small(lowres, n)), given, known, fast)

    def _sample_cached(
        self, x: torch.Tensor, u: torch.Tensor, start: int, temperature: float, condition: torch.Tensor | None
    ) -> torch.Tensor:
        """Vertical stacks row by row (once the row above is complete); horizontal stack per pixel."""
        n, (colors, height, width) = len(x), self.config.shape
        like, f = self.out.weight, self.config.channels
        y, low = condition
        conds = self._conds(y, low)
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
                cv = 0 if conds[index] is None else _row(conds[index][0], r)
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
                ch = conds[index][1]
                pre = pre + ch[:, :, min(i, ch.shape[2] - 1), min(j, ch.shape[3] - 1)]
            gated = gate(pre)
            skip = skip + layer.skip.vector(gated)
            h = gated if layer.residual is None else h + layer.residual.vector(gated)
        return self._head(skip)

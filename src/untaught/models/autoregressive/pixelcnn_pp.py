"""PixelCNN++ (Salimans, Karpathy, Chen & Kingma, 2017): a two-stream PixelCNN with down- and
up-sampling, long-range skip connections and a discretized logistic mixture likelihood.

Two streams run side by side, as in the paper's code (openai/pixel-cnn), without masks on the
channels and without a blind spot:

    u   the stream *above*: 2 x 3 convolutions over the rows above and the current one, shifted
        down one row at the input, so u(i, j) sees rows < i only (as wide as the receptive field);
    ul  the stream *above and to the left*: 2 x 2 convolutions over (i-1 .. i, j-1 .. j), its
        input seeing (i-1, j-1 .. j+1) and (i, j-1), plus u through a 1x1 link in every block,
        so ul(i, j) sees every pixel before (i, j) in raster order and nothing at or after it.

Both streams go through ``scales`` resolutions (U-Net-like): at each, ``resnets`` gated resnet
blocks; between resolutions a stride-2 convolution (2 x 3 for u, 2 x 2 for ul) on the way down and
a stride-2 transposed convolution on the way up. Every output of the way down is kept and fed, in
reverse order, to the blocks of the way up (long-range skip connections: u's to u's blocks, u's and
ul's to ul's). A gated resnet block (with concat_elu(x) = elu([x, -x])):

    c = conv(concat_elu(x)) + 1x1(concat_elu(aux));  c = dropout(concat_elu(c))
    a, b = conv(c);  x + a * sigmoid(b)

The input is the image scaled to [-1, 1] plus a channel of ones (the zero padding of the borders
is then told apart from grey). The output is, per pixel, the parameters of a mixture of K
discretized logistics over the pixel's C channels with the linear channel coefficients (G's mean on
R, B's on R and G): :func:`untaught.distributions.logistic_mixture.channel_conditionals` turns it
into each channel's exact conditional given the earlier channels, so R -> G -> B within a pixel
comes from the likelihood alone. Weight normalisation and Polyak averaging of the paper are not
used (plain Adam through the engine). Dropout acts in the training loss only (masks from the
training step's generator); ``log_prob`` is always the exact likelihood.

Sampling: naive (one network pass per sub-pixel) or cached (``fast=True``). The cached sampler
computes one row at a time: at the start of image row i the stream above for row i at every
resolution whose row changes there (scale s when i is a multiple of 2^s), and at every pixel the
stream to the left for the current row of those resolutions only, every convolution reading the
rows above from caches of its input (coarser rows whose value is final come from the transposed
convolutions' caches). Both samplers draw the same samples for the same generator.

References:
    Salimans, Karpathy, Chen, Kingma. PixelCNN++: Improving the PixelCNN with Discretized Logistic
    Mixture Likelihood and Other Modifications. ICLR 2017. https://arxiv.org/abs/1701.05517
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...distributions import logistic_mixture
from ...nn.causal_conv import MaskedConv2d, ShiftedConvTranspose2d
from ..base import ModelConfig, check_fields
from .conditionals import AutoregressiveModel


@dataclass
class PixelCNNPPConfig(ModelConfig):
    """PixelCNN++ hyperparameters (defaults: the paper's CIFAR-10 model).

    Attributes:
        channels: filters of both streams at every resolution.
        resnets: gated resnet blocks per resolution on the way down (the way up has one more per
            resolution, except at the coarsest, as in the paper).
        scales: resolutions (1: no down-sampling; 3: H, H/2, H/4).
        mixtures: K, logistic components of the per-pixel mixture.
        dropout: dropout probability inside every gated resnet block (training only).
    """

    shape: tuple[int, ...] = (3, 32, 32)
    levels: int | None = 256
    channels: int = 160
    resnets: int = 5
    scales: int = 3
    mixtures: int = 10
    dropout: float = 0.5

    def __post_init__(self) -> None:
        check_fields(self, [("shape", len(self.shape) == 3, "(C, H, W) images")])
        checks = [
            ("channels", self.channels >= 1, "an integer >= 1"),
            ("resnets", self.resnets >= 1, "an integer >= 1"),
            ("scales", self.scales >= 1, "an integer >= 1"),
            ("mixtures", self.mixtures >= 1, "an integer >= 1 (PixelCNN++ always uses the logistic mixture)"),
            ("dropout", 0 <= self.dropout < 1, "a probability in [0, 1)"),
        ]
        check_fields(self, checks)


def concat_elu(x: torch.Tensor) -> torch.Tensor:
    """elu([x, -x]) along the channels: [B, F, ...] -> [B, 2F, ...] (Salimans et al. 2017)."""
    return F.elu(torch.cat([x, -x], 1))


def _above(in_channels: int, out_channels: int, stride: int = 1) -> MaskedConv2d:
    """The stream above's 2 x 3 convolution: rows i-1 .. i, columns j-1 .. j+1."""
    return MaskedConv2d(in_channels, out_channels, (2, 3), (1, 0, 1, 1), stride=stride)


def _above_left(in_channels: int, out_channels: int, stride: int = 1) -> MaskedConv2d:
    """The stream above-left's 2 x 2 convolution: rows i-1 .. i, columns j-1 .. j."""
    return MaskedConv2d(in_channels, out_channels, (2, 2), (1, 0, 1, 0), stride=stride)


class _Whole:
    """How the network is run on whole images (training, log_prob): every layer on every position;
    dropout with probability ``p`` (> 0 only for the training loss), masks from ``generator``."""

    def __init__(self, sizes: list[tuple[int, int]], top: int, p: float, generator: torch.Generator | None) -> None:
        self.sizes, self.top, self.p, self.generator = sizes, top, p, generator

    def conv(self, layer: MaskedConv2d, x: torch.Tensor, scale: int) -> torch.Tensor:
        return layer(x)

    def up(self, layer: ShiftedConvTranspose2d, x: torch.Tensor | None, scale: int) -> torch.Tensor:
        return layer(x, self.sizes[scale - 1])

    def dropout(self, x: torch.Tensor) -> torch.Tensor:
        if not self.p:
            return x
        if self.generator is None:
            return F.dropout(x, self.p)
        keep = torch.rand(x.shape, generator=self.generator, dtype=x.dtype, device=self.generator.device) >= self.p
        return x * keep.to(x.device) / (1 - self.p)


class _Rows:
    """How the cached sampler runs the network: one row per resolution, [n, F, 1, w] tensors.

    At image row ``row`` the current row of scale s is ``row >> s``; a layer writes its input row
    into its cache (a zero-padded copy of its whole input) and computes its output row from the
    cached rows. ``top`` is the coarsest scale whose row changes at this image row; coarser rows
    are read from the caches of the transposed convolutions that leave them.
    """

    def __init__(self, sizes: list[tuple[int, int]], n: int, like: torch.Tensor) -> None:
        self.sizes, self.n, self.like = sizes, n, like
        self.caches: dict[nn.Module, torch.Tensor] = {}
        self.row = self.top = 0

    def at(self, row: int) -> None:
        """Move to image row ``row``."""
        self.row = row
        self.top = 0
        while self.top + 1 < len(self.sizes) and row % (2 ** (self.top + 1)) == 0:
            self.top += 1

    def _cache(self, layer: nn.Module, scale: int) -> torch.Tensor:
        if layer not in self.caches:
            self.caches[layer] = layer.cache(self.n, *self.sizes[scale], self.like)
        return self.caches[layer]

    def write(self, layer: MaskedConv2d, x: torch.Tensor, scale: int, row: int) -> None:
        """Store row ``row`` of the input of ``layer`` (at ``scale``): x [n, in, 1, w]."""
        layer.write_row(self._cache(layer, scale), x[:, :, 0], row)

    def conv(self, layer: MaskedConv2d, x: torch.Tensor, scale: int) -> torch.Tensor:
        r = self.row >> scale
        self.write(layer, x, scale, r)
        return layer.row(self.caches[layer], r // layer.stride)[:, :, None]

    def up(self, layer: ShiftedConvTranspose2d, x: torch.Tensor | None, scale: int) -> torch.Tensor:
        """Row ``row >> (scale - 1)`` of the up-sampling of scale ``scale``; x: its input's current row
        [n, in, 1, w] (None: read the cached row, final since that scale's row last changed)."""
        cache = self._cache(layer, scale)
        if x is not None:
            layer.write_row(cache, x[:, :, 0], self.row >> scale)
        return layer.row(cache, self.row >> (scale - 1), self.sizes[scale - 1][1])[:, :, None]

    def dropout(self, x: torch.Tensor) -> torch.Tensor:
        return x  # no dropout when sampling


class GatedResnet(nn.Module):
    """x + a * sigmoid(b) with (a, b) = conv(dropout(concat_elu(conv(concat_elu(x)) + 1x1(concat_elu(aux)))));
    ``conv`` is :func:`_above` or :func:`_above_left`; x: [B, F, H, W], aux: [B, aux, H, W] or None."""

    def __init__(self, channels: int, conv: Any, aux: int) -> None:
        super().__init__()
        self.conv1 = conv(2 * channels, channels)
        self.link = nn.Conv2d(2 * aux, channels, 1) if aux else None
        self.conv2 = conv(2 * channels, 2 * channels)
        with torch.no_grad():  # the paper's init_scale 0.1: every block starts near the identity
            self.conv2.weight.mul_(0.1)

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None, run: _Whole | _Rows, scale: int) -> torch.Tensor:
        c = run.conv(self.conv1, concat_elu(x), scale)
        if self.link is not None:
            c = c + self.link(concat_elu(aux))
        c = run.dropout(concat_elu(c))
        a, b = run.conv(self.conv2, c, scale).chunk(2, 1)
        return x + a * torch.sigmoid(b)


class PixelCNNPP(AutoregressiveModel):
    """PixelCNN++ over images ``config.shape`` = (C, H, W) with ``config.levels`` levels.

    ``log_prob(x)``: uint8 [B, C, H, W] -> [B] nats, exact. ``sample(n)`` -> uint8 [n, C, H, W].
    """

    Config = PixelCNNPPConfig
    name = "pixelcnn++"
    description = "PixelCNN++: two streams, down/up-sampling with skips, RGB logistic mixture (Salimans 2017)"
    config: PixelCNNPPConfig

    def __init__(self, config: PixelCNNPPConfig) -> None:
        super().__init__(config)
        colors, f, s, r = config.shape[0], config.channels, config.scales, config.resnets
        # the input: the rows above for u (kernel 3 x 3, its current row closed: shifted down one row);
        # for ul the row above (j-1 .. j+1) and the pixel to the left (2 x 3, mask [[1, 1, 1], [1, 0, 0]])
        above = torch.ones(f, colors + 1, 3, 3)
        above[:, :, 2] = 0
        self.u_in = MaskedConv2d(colors + 1, f, (3, 3), (2, 0, 1, 1), above)
        left = torch.ones(f, colors + 1, 2, 3)
        left[:, :, 1, 1:] = 0
        self.ul_in = MaskedConv2d(colors + 1, f, (2, 3), (1, 0, 1, 1), left)
        self.down_u = nn.ModuleList(nn.ModuleList(GatedResnet(f, _above, 0) for _ in range(r)) for _ in range(s))
        self.down_ul = nn.ModuleList(nn.ModuleList(GatedResnet(f, _above_left, f) for _ in range(r)) for _ in range(s))
        self.shrink_u = nn.ModuleList(_above(f, f, stride=2) for _ in range(s - 1))
        self.shrink_ul = nn.ModuleList(_above_left(f, f, stride=2) for _ in range(s - 1))
        ups = [r if k == s - 1 else r + 1 for k in range(s)]
        self.up_u = nn.ModuleList(nn.ModuleList(GatedResnet(f, _above, f) for _ in range(m)) for m in ups)
        self.up_ul = nn.ModuleList(nn.ModuleList(GatedResnet(f, _above_left, 2 * f) for _ in range(m)) for m in ups)
        self.grow_u = nn.ModuleList(ShiftedConvTranspose2d(f, f, 3, 1) for _ in range(s - 1))
        self.grow_ul = nn.ModuleList(ShiftedConvTranspose2d(f, f, 2, 0) for _ in range(s - 1))
        self.out = nn.Conv2d(f, logistic_mixture.joint_params(config.mixtures, colors), 1)
        self._dropout: tuple[torch.Generator | None] | None = None  # (dropout's generator,) inside loss()

    def _sizes(self) -> list[tuple[int, int]]:
        _, h, w = self.config.shape
        sizes = [(h, w)]
        for _ in range(self.config.scales - 1):
            h, w = (h + 1) // 2, (w + 1) // 2
            sizes.append((h, w))
        return sizes

    # -- network ------------------------------------------------------------------------------------
    def _stream_above(self, xp: torch.Tensor, run: _Whole | _Rows) -> tuple[list, list]:
        """u on the way down (the skip list: input, blocks, down-samplings) and on the way up."""
        u = run.conv(self.u_in, xp, 0)
        down = [u]
        for s in range(run.top + 1):
            for block in self.down_u[s]:
                u = block(u, None, run, s)
                down.append(u)
            if s < run.top:
                u = run.conv(self.shrink_u[s], u, s)
                down.append(u)
            elif s + 1 < self.config.scales:  # (rows only) the coarser row, due later, reads this one
                run.write(self.shrink_u[s], u, s, run.row >> s)
        skips = list(down)
        u = skips.pop() if run.top == self.config.scales - 1 else run.up(self.grow_u[run.top], None, run.top + 1)
        up = []
        for s in range(run.top, -1, -1):
            for block in self.up_u[s]:
                u = block(u, skips.pop(), run, s)
                up.append(u)
            if s:
                u = run.up(self.grow_u[s - 1], u, s)
        return down, up

    def _stream_left(self, xp: torch.Tensor, down: list, up: list, run: _Whole | _Rows) -> torch.Tensor:
        """ul, given the stream above; returns the pixel parameters [B, K (1 + 2C + C(C-1)/2), H, W]."""
        ul = run.conv(self.ul_in, xp, 0)
        skips = [ul]
        for s in range(run.top + 1):
            for block in self.down_ul[s]:
                ul = block(ul, down[len(skips)], run, s)
                skips.append(ul)
            if s < run.top:
                ul = run.conv(self.shrink_ul[s], ul, s)
                skips.append(ul)
            elif s + 1 < self.config.scales:
                run.write(self.shrink_ul[s], ul, s, run.row >> s)
        ul = skips.pop() if run.top == self.config.scales - 1 else run.up(self.grow_ul[run.top], None, run.top + 1)
        k = 0
        for s in range(run.top, -1, -1):
            for block in self.up_ul[s]:
                ul = block(ul, torch.cat([up[k], skips.pop()], 1), run, s)
                k += 1
            if s:
                ul = run.up(self.grow_ul[s - 1], ul, s)
        return self.out(F.elu(ul))

    def _input(self, h: torch.Tensor) -> torch.Tensor:
        """[B, C, ...] in [0, 1] -> [B, C + 1, ...]: the image in [-1, 1] and a channel of ones."""
        return torch.cat([2 * h - 1, torch.ones_like(h[:, :1])], 1)

    def conditionals(self, h: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """h float [B, C, H, W] in [0, 1] -> every sub-pixel's conditional [B, C, H, W, 3K]."""
        p, generator = (self.config.dropout, *self._dropout) if self._dropout and self.training else (0.0, None)
        run = _Whole(self._sizes(), self.config.scales - 1, p, generator)
        xp = self._input(h)
        pixel = self._stream_left(xp, *self._stream_above(xp, run), run)  # [B, P, H, W]
        levels = (h * (self.config.levels - 1)).permute(0, 2, 3, 1)  # [B, H, W, C]
        return logistic_mixture.channel_conditionals(pixel.permute(0, 2, 3, 1), levels, self.config.levels).permute(
            0, 3, 1, 2, 4
        )

    def loss(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        """Mean NLL of the batch in nats (and bits/dim); in training mode with dropout, its masks drawn
        from ``generator``. ``log_prob`` never drops units: it is the model's exact likelihood."""
        self._dropout = (generator,)
        try:
            return self._loss(x)
        finally:
            self._dropout = None

    # -- cached sampling ------------------------------------------------------------------------------
    def _sample_cached(
        self, x: torch.Tensor, u: torch.Tensor, start: int, temperature: float, condition: torch.Tensor | None
    ) -> torch.Tensor:
        """Row by row: the stream above once per row, the stream to the left once per pixel."""
        n, (colors, height, width) = len(x), self.config.shape
        levels = self.config.levels
        run = _Rows(self._sizes(), n, self.out.weight)
        xp = self._input(self.scale(x))  # [n, C + 1, H, W], refreshed as pixels are drawn
        for i in range(height):
            run.at(i)
            if i:  # row i - 1 is complete: the input layers see all of it
                for layer in (self.u_in, self.ul_in):
                    run.write(layer, xp[:, :, i - 1 : i], 0, i - 1)
            down, up = self._stream_above(xp[:, :, i : i + 1], run)
            todo = [j for j in range(width) if (i * width + j + 1) * colors > start]  # pixels with a free channel
            for j in todo or [width - 1]:  # a given row: one pass fills the caches
                pixel = self._stream_left(xp[:, :, i : i + 1], down, up, run)[:, :, 0, j]  # [n, P]
                for c in range(colors):
                    pos = (i * width + j) * colors + c
                    if pos < start:
                        continue
                    params = logistic_mixture.channel_conditionals(pixel, x[:, :, i, j].to(pixel.dtype), levels)
                    x[:, c, i, j] = self.draw(params[:, c], u[:, pos], temperature)
                xp[:, :colors, i, j] = 2 * self.scale(x[:, :, i, j]) - 1
        return x

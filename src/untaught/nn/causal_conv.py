"""Masked (causal) 2-D convolutions for pixel models, with the caches of fast sampling.

:class:`MaskedConv2d` is a convolution with an explicit, asymmetric zero padding and a 0/1 mask
on its weight, so that every kind of causal kernel is one class: PixelCNN's masks A and B
(k x k, the centre excluded or included), Gated PixelCNN's vertical stack ((k//2 + 1) x k, the rows
above and the current one) and horizontal stack (1 x (k//2 + 1), the pixels to the left).

Colour channels: with ``colors`` = 3 the channels of every layer are split into three groups
(R, G, B); at the centre of the kernel an output of group g sees inputs of groups < g (mask A) or
<= g (mask B), so that R -> G -> B within a pixel (van den Oord et al. 2016, Fig. 2).

Fast sampling (in the spirit of Ramachandran et al. 2017, Fast Generation for Convolutional
Autoregressive Models): a sampler keeps, for each masked convolution, a zero-padded cache of its
input (:meth:`MaskedConv2d.cache`); when a pixel is generated it writes the layer's input at that
pixel into the cache (:meth:`MaskedConv2d.write`) and computes the output at that pixel only
(:meth:`MaskedConv2d.at`) or for one whole row (:meth:`MaskedConv2d.row`). Positions the mask
excludes may hold stale values: their weights are zero. :class:`ShiftedConvTranspose2d` is
PixelCNN++'s causal up-sampling, with the same row cache.

References:
    van den Oord, Kalchbrenner, Kavukcuoglu. Pixel Recurrent Neural Networks. ICML 2016.
    van den Oord et al. Conditional Image Generation with PixelCNN Decoders. NeurIPS 2016.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

MaskType = Literal["A", "B"]


def color_groups(channels: int, colors: int, halves: int = 1) -> torch.Tensor:
    """The colour group (0 .. colors-1) of each of ``channels`` channels: contiguous blocks.

    With ``halves`` = 2 the channels are two stacked halves (the two inputs of a gate, or a value
    and its gate), each split into ``colors`` blocks, so channel q and q + channels/2 share a group.
    """
    if channels % halves or channels // halves < colors:
        raise ValueError(
            f"channels must split into {halves} halves of at least colors={colors} channels; got {channels}"
        )
    per = channels // halves
    return (torch.arange(channels) % per) * colors // per


def causal_mask(
    kernel: tuple[int, int],
    centre: tuple[int, int],
    mask_type: MaskType,
    in_groups: torch.Tensor,
    out_groups: torch.Tensor,
) -> torch.Tensor:
    """A [out, in, kh, kw] 0/1 mask: kernel positions in rows above ``centre``'s row, or in its row
    to the left of it, are open; the centre is open from input group gi to output group go when
    gi < go (mask A) or gi <= go (mask B); positions after the centre are closed."""
    kh, kw = kernel
    ci, cj = centre
    rows = torch.arange(kh)[:, None]
    cols = torch.arange(kw)[None, :]
    before = (rows < ci) | ((rows == ci) & (cols < cj))  # [kh, kw]
    at = (rows == ci) & (cols == cj)
    go, gi = out_groups[:, None], in_groups[None, :]
    centre_open = (gi < go) if mask_type == "A" else (gi <= go)  # [out, in]
    return (before[None, None] | (at[None, None] & centre_open[:, :, None, None])).float()


class MaskedConv2d(nn.Module):
    """A 2-D convolution with zero padding ``pad = (top, bottom, left, right)``, a fixed mask and a
    ``stride`` (both directions).

    x: [B, in, H, W] -> [B, out, (H + top + bottom - kh) // stride + 1, (W + left + right - kw) //
    stride + 1]. ``mask`` [out, in, kh, kw] (None: all open) is a non-persistent buffer: it is
    rebuilt from the config, never saved.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int],
        pad: tuple[int, int, int, int],
        mask: torch.Tensor | None = None,
        bias: bool = True,
        stride: int = 1,
    ) -> None:
        super().__init__()
        kh, kw = kernel
        if stride < 1:
            raise ValueError(f"stride must be >= 1; got {stride}")
        self.kernel, self.pad, self.stride = (kh, kw), pad, stride
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kh, kw))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        if mask is not None and tuple(mask.shape) != tuple(self.weight.shape):
            raise ValueError(f"mask must have shape {tuple(self.weight.shape)}; got {tuple(mask.shape)}")
        self.register_buffer("mask", mask, persistent=False)
        # fan-in of the open weights only, so that masked kernels start at the scale of dense ones
        fan_in = float(mask[0].sum()) if mask is not None and mask[0].sum() > 0 else in_channels * kh * kw
        nn.init.uniform_(self.weight, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    @classmethod
    def pixelcnn(
        cls, in_channels: int, out_channels: int, size: int, mask_type: MaskType, colors: int = 1, out_halves: int = 1
    ) -> MaskedConv2d:
        """PixelCNN's ``size`` x ``size`` convolution with mask A or B, 'same' padding (``out_halves``:
        see :func:`color_groups`)."""
        if size % 2 != 1:
            raise ValueError(f"size must be odd; got {size}")
        p = size // 2
        mask = causal_mask(
            (size, size),
            (p, p),
            mask_type,
            color_groups(in_channels, colors),
            color_groups(out_channels, colors, out_halves),
        )
        return cls(in_channels, out_channels, (size, size), (p, p, p, p), mask)

    def masked_weight(self) -> torch.Tensor:
        return self.weight if self.mask is None else self.weight * self.mask.to(self.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom, left, right = self.pad
        if top == bottom and left == right:  # the convolution pads itself: no padded copy of x
            return F.conv2d(x, self.masked_weight(), self.bias, self.stride, padding=(top, left))
        return F.conv2d(F.pad(x, (left, right, top, bottom)), self.masked_weight(), self.bias, self.stride)

    # -- caches for fast sampling ---------------------------------------------------------------
    def cache(self, n: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
        """A zero input cache [n, in, top + height + bottom, left + width + right] (like's dtype/device)."""
        top, bottom, left, right = self.pad
        return like.new_zeros(n, self.weight.shape[1], top + height + bottom, left + width + right)

    def write(self, cache: torch.Tensor, value: torch.Tensor, i: int, j: int) -> None:
        """Store the layer's input at pixel (i, j): ``value`` [n, in]."""
        cache[:, :, i + self.pad[0], j + self.pad[2]] = value

    def write_row(self, cache: torch.Tensor, value: torch.Tensor, i: int) -> None:
        """Store the layer's input for row i: ``value`` [n, in, W]."""
        left = self.pad[2]
        cache[:, :, i + self.pad[0], left : left + value.shape[-1]] = value

    def write_rows(self, cache: torch.Tensor, value: torch.Tensor) -> None:
        """Store the layer's input for a whole image (or its top rows): ``value`` [n, in, h, W]."""
        top, left = self.pad[0], self.pad[2]
        cache[:, :, top : top + value.shape[-2], left : left + value.shape[-1]] = value

    def at(self, cache: torch.Tensor, i: int, j: int) -> torch.Tensor:
        """The output at pixel (i, j) from the cached input: [n, out]."""
        kh, kw = self.kernel
        s = self.stride
        patch = cache[:, :, s * i : s * i + kh, s * j : s * j + kw].flatten(1)
        out = patch @ self.masked_weight().flatten(1).T
        return out if self.bias is None else out + self.bias

    def row(self, cache: torch.Tensor, i: int) -> torch.Tensor:
        """The output for the whole row i from the cached input: [n, out, W]."""
        kh, s = self.kernel[0], self.stride
        return F.conv2d(cache[:, :, s * i : s * i + kh], self.masked_weight(), self.bias, s)[:, :, 0]


class ShiftedConvTranspose2d(nn.Module):
    """PixelCNN++'s causal up-sampling: a transposed convolution with stride 2 and a 2 x kw kernel,
    cropped so that output row r comes from input row r // 2 only (kernel row r % 2) and output
    column c from input columns J with c = 2 J + q - ``left``, q < kw (Salimans et al. 2017).

    ``left`` = (kw - 1) // 2 centres the kernel (the stream above, 2 x 3); ``left`` = 0 keeps it at
    and left of the position (the stream above and to the left, 2 x 2). x: [B, in, h, w] ->
    [B, out, H, W] for a target ``size`` (H, W) with H <= 2 h, W <= 2 w + kw - 2 - left.
    """

    def __init__(self, in_channels: int, out_channels: int, width: int, left: int) -> None:
        super().__init__()
        if width < 1 or not 0 <= left < width:
            raise ValueError(f"need kernel width >= 1 and 0 <= left < width; got {width}, {left}")
        self.left = left
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels, 2, width))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        bound = 1 / math.sqrt(in_channels * 2 * width)
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        height, width = size
        out = F.conv_transpose2d(x, self.weight, self.bias, stride=2)
        return out[:, :, :height, self.left : self.left + width]

    def cache(self, n: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
        """A zero input cache [n, in, height, width] (the input's size; like's dtype/device)."""
        return like.new_zeros(n, self.weight.shape[0], height, width)

    def write_row(self, cache: torch.Tensor, value: torch.Tensor, i: int) -> None:
        """Store input row i: ``value`` [n, in, w]."""
        cache[:, :, i] = value

    def row(self, cache: torch.Tensor, r: int, width: int) -> torch.Tensor:
        """Output row r (``width`` columns) from the cached input: [n, out, width]."""
        q = r % 2
        out = F.conv_transpose2d(
            cache[:, :, r // 2 : r // 2 + 1], self.weight[:, :, q : q + 1], self.bias, stride=(1, 2)
        )
        return out[:, :, 0, self.left : self.left + width]


class MaskedConv1x1(MaskedConv2d):
    """A 1x1 convolution with colour groups (mask B: group g sees groups <= g); ``at`` on vectors."""

    def __init__(self, in_channels: int, out_channels: int, colors: int = 1, in_halves: int = 1, out_halves: int = 1):
        mask = None
        if colors > 1:
            mask = causal_mask(
                (1, 1),
                (0, 0),
                "B",
                color_groups(in_channels, colors, in_halves),
                color_groups(out_channels, colors, out_halves),
            )
        super().__init__(in_channels, out_channels, (1, 1), (0, 0, 0, 0), mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.masked_weight(), self.bias)

    def vector(self, x: torch.Tensor) -> torch.Tensor:
        """The same map on per-pixel vectors x [n, in] -> [n, out] (or on [..., in])."""
        return F.linear(x, self.masked_weight().flatten(1), self.bias)


class CausalConv1d(nn.Module):
    """A dilated causal 1-D convolution (WaveNet): output t sees inputs t - dilation * (k - 1) .. t
    (``shift`` = 1: t - 1 - dilation * (k - 1) .. t - 1, for the first layer). x: [B, in, T] -> [B, out, T].

    Fast generation (Paine et al. 2016, Fast Wavenet): :meth:`cache` holds the layer's input,
    :meth:`write` stores the input at step t, :meth:`at` computes the output at step t only.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, dilation: int = 1, shift: int = 0) -> None:
        super().__init__()
        if kernel < 1 or dilation < 1 or shift not in (0, 1):
            raise ValueError(f"need kernel >= 1, dilation >= 1, shift 0 or 1; got {kernel}, {dilation}, {shift}")
        self.kernel, self.dilation, self.shift = kernel, dilation, shift
        self.pad = dilation * (kernel - 1) + shift  # zeros on the left
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        bound = 1 / math.sqrt(in_channels * kernel)
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.pad, 0))
        if self.shift:
            x = x[..., :-1]
        return F.conv1d(x, self.weight, self.bias, dilation=self.dilation)

    def cache(self, n: int, length: int, like: torch.Tensor) -> torch.Tensor:
        """A zero input cache [n, in, pad + length]."""
        return like.new_zeros(n, self.weight.shape[1], self.pad + length)

    def write(self, cache: torch.Tensor, value: torch.Tensor, t: int) -> None:
        """Store the layer's input at step t: ``value`` [n, in]."""
        cache[:, :, self.pad + t] = value

    def at(self, cache: torch.Tensor, t: int) -> torch.Tensor:
        """The output at step t from the cached input: [n, out]."""
        first = t + self.pad - self.shift - self.dilation * (self.kernel - 1)
        taps = cache[:, :, first : first + self.dilation * (self.kernel - 1) + 1 : self.dilation]  # [n, in, k]
        return taps.flatten(1) @ self.weight.flatten(1).T + self.bias

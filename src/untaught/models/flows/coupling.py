"""Coupling layers (NICE, RealNVP, Glow): half the variables transform the other half.

With a binary mask ``b`` (1 = variables that are kept and condition the rest),

    y = b * x + (1 - b) * (x * exp(log s(b * x)) + t(b * x))          (affine; additive: log s = 0)

whose Jacobian is triangular with diagonal ``exp(log s)`` on the transformed half, so
``log|det| = sum((1 - b) * log s)``; the inverse is as cheap: ``x = b * y + (1 - b) * (y - t) * exp(-log s)``
with ``t, s`` computed from ``b * y = b * x``. Masks: halves of a vector, RealNVP's spatial
checkerboard and channel-wise masks for images.

Scale parameterisations (``scale``): 'tanh' = ``a * tanh(h)`` with a learned ``a`` per variable
(RealNVP's stable scale), 'sigmoid' = ``sigmoid(h + 2)`` (Glow), 'exp' = ``exp(h)`` unrestricted.
The conditioner's last layer starts at zero, so an affine ('tanh') or additive coupling starts as
the identity.

References:
    Dinh, Krueger, Bengio. NICE. 2014. https://arxiv.org/abs/1410.8516
    Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP. ICLR 2017. https://arxiv.org/abs/1605.08803
    Kingma, Dhariwal. Glow. NeurIPS 2018. https://arxiv.org/abs/1807.03039
"""

from __future__ import annotations

import itertools
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .transforms import Pair, Transform, batch_sum

Scale = Literal["tanh", "sigmoid", "exp"]


# -- masks ---------------------------------------------------------------------------------------
def half_mask(dims: int, parity: int) -> torch.Tensor:
    """[D] mask keeping the first ceil(D/2) features (parity 0) or the others (parity 1)."""
    mask = torch.arange(dims) < (dims + 1) // 2
    return (mask if parity % 2 == 0 else ~mask).float()


def checkerboard_mask(shape: tuple[int, int, int], parity: int) -> torch.Tensor:
    """[C, H, W] spatial checkerboard: 1 where ``(i + j + parity)`` is even (same for every channel)."""
    c, h, w = shape
    ij = torch.arange(h)[:, None] + torch.arange(w)[None, :]
    return ((ij + parity) % 2 == 0).float().expand(c, h, w).clone()


def channel_mask(shape: tuple[int, int, int], parity: int) -> torch.Tensor:
    """[C, H, W] channel-wise mask: the first C/2 channels (parity 0) or the others (parity 1)."""
    c, h, w = shape
    if c < 2:
        raise ValueError(f"a channel-wise mask needs at least 2 channels; got shape {shape}")
    mask = (torch.arange(c) < c // 2)[:, None, None].expand(c, h, w)
    return (mask if parity % 2 == 0 else ~mask).float().clone()


# -- conditioners --------------------------------------------------------------------------------
class MLP(nn.Module):
    """Conditioner for vectors: [B, I] (+ context [B, K]) -> [B, O]; ReLU, last layer zero.

    ReLUs run in place on the fresh outputs of the linear layers (whose backward does not need
    them): one allocation less per layer, about a third of the MLP's time on a CPU at batch 1000.
    """

    def __init__(self, inputs: int, hidden: tuple[int, ...], outputs: int, context: int = 0) -> None:
        super().__init__()
        sizes = (inputs + context, *hidden)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.out = nn.Linear(sizes[-1], outputs)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        h = x if context is None else torch.cat([x, context], 1)
        for layer in self.layers:
            h = layer(h).relu_()
        return self.out(h)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.conv2(self.conv1(F.relu(h)).relu_())  # h itself is kept for the sum


class ConvNet(nn.Module):
    """Conditioner for images: [B, I, H, W] (+ context [B, K], broadcast as K constant channels)
    -> [B, O, H, W].

    Glow's NN (conv 3x3, ReLU, conv 1x1, ReLU, zero-initialised conv 3x3) with ``blocks`` residual
    blocks (RealNVP-style) in the middle.
    """

    def __init__(self, inputs: int, hidden: int, outputs: int, blocks: int = 0, context: int = 0) -> None:
        super().__init__()
        self.inp = nn.Conv2d(inputs + context, hidden, 3, padding=1)
        self.mid = nn.Conv2d(hidden, hidden, 1)
        self.blocks = nn.Sequential(*(ResidualBlock(hidden) for _ in range(blocks)))
        self.out = nn.Conv2d(hidden, outputs, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if context is not None:
            x = torch.cat([x, context[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
        h = self.mid(self.inp(x).relu_()).relu_()  # in place on fresh convolution outputs, as in MLP
        return self.out(self.blocks(h).relu_() if len(self.blocks) else h)


# -- the layer -----------------------------------------------------------------------------------
class Coupling(Transform):
    """Affine or additive coupling with a fixed mask.

    When the mask selects whole features of a vector or whole channels of an image, the layer
    gathers the kept part and the conditioner sees only it and predicts only the transformed part
    (half the work of a masked network); a spatial (checkerboard) mask runs the conditioner on
    ``x * mask`` over the full tensor, as RealNVP does.

    Args:
        mask: 0/1 tensor of the event shape ([D] or [C, H, W]); 1 marks the conditioning half.
        net: conditioner ``(kept, context) -> params``: ``kept`` is [B, n_kept] / [B, C_kept, H, W]
            (split masks) or ``x * mask`` (checkerboard); ``params`` holds the shift then the scale
            pre-activation (affine) or the shift only (additive) of the transformed part, i.e.
            ``outputs(mask, affine)`` features or channels. Build one with :meth:`vector` / :meth:`image`.
        affine: False = NICE's additive coupling (volume preserving, ladj 0).
        scale: 'tanh', 'sigmoid' or 'exp' (see the module docstring).
    """

    def __init__(self, mask: torch.Tensor, net: nn.Module, *, affine: bool = True, scale: Scale = "tanh") -> None:
        super().__init__()
        if scale not in ("tanh", "sigmoid", "exp"):
            raise ValueError(f"scale must be 'tanh', 'sigmoid' or 'exp'; got {scale!r}")
        mask = mask.float()
        rows = mask.reshape(mask.shape[0], -1)
        self.split = bool(torch.all(rows == rows[:, :1]))  # whole features / channels
        if not 0 < int(rows[:, 0].sum()) < mask.shape[0] and self.split:
            raise ValueError("the mask must keep some and transform some features or channels")
        self.register_buffer("mask", mask)
        self.register_buffer("kept", torch.nonzero(rows[:, 0] > 0).flatten())
        self.register_buffer("free", torch.nonzero(rows[:, 0] == 0).flatten())
        # kept part first (or last) along dimension 1: split and concatenate instead of gather/scatter
        n = len(self.kept)
        self.kept_first = bool(self.split and torch.equal(self.kept, torch.arange(n)))
        self.kept_last = bool(self.split and torch.equal(self.free, torch.arange(mask.shape[0] - n)))
        self.net, self.affine, self.scale = net, affine, scale
        if affine and scale == "tanh":
            shape = (len(self.free), *mask.shape[1:]) if self.split else mask.shape
            self.tanh_scale = nn.Parameter(torch.ones(shape))

    @staticmethod
    def outputs(mask: torch.Tensor, affine: bool = True) -> int:
        """Features (vectors) or channels (images) the conditioner must output for ``mask``."""
        rows = mask.reshape(mask.shape[0], -1)
        split = bool(torch.all(rows == rows[:, :1]))
        n = int((rows[:, 0] == 0).sum()) if split else mask.shape[0]
        return (2 if affine else 1) * n

    @staticmethod
    def inputs(mask: torch.Tensor) -> int:
        rows = mask.reshape(mask.shape[0], -1)
        return int((rows[:, 0] > 0).sum()) if bool(torch.all(rows == rows[:, :1])) else mask.shape[0]

    @classmethod
    def vector(
        cls,
        mask: torch.Tensor,
        hidden: tuple[int, ...],
        context: int = 0,
        *,
        affine: bool = True,
        scale: Scale = "tanh",
    ) -> Coupling:
        """A coupling on [B, D] with an :class:`MLP` conditioner of hidden sizes ``hidden``."""
        return cls(mask, MLP(cls.inputs(mask), hidden, cls.outputs(mask, affine), context), affine=affine, scale=scale)

    @classmethod
    def image(
        cls,
        mask: torch.Tensor,
        hidden: int,
        blocks: int = 0,
        context: int = 0,
        *,
        affine: bool = True,
        scale: Scale = "tanh",
    ) -> Coupling:
        """A coupling on [B, C, H, W] with a :class:`ConvNet` conditioner of ``hidden`` channels."""
        net = ConvNet(cls.inputs(mask), hidden, cls.outputs(mask, affine), blocks, context)
        return cls(mask, net, affine=affine, scale=scale)

    def _shift_log_scale(self, kept: torch.Tensor, context: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Shift and log-scale of the transformed part (split masks) or of everything (zero where kept)."""
        out = self.net(kept, context)
        if not self.affine:
            return (out, torch.zeros_like(out)) if self.split else (out * (1 - self.mask), torch.zeros_like(out))
        shift, h = out.view(out.shape[0], 2, out.shape[1] // 2, *out.shape[2:]).unbind(1)
        if self.scale == "tanh":
            log_scale = self.tanh_scale * torch.tanh(h)
        elif self.scale == "sigmoid":
            log_scale = F.logsigmoid(h + 2.0)
        else:
            log_scale = h
        if self.split:
            return shift, log_scale
        free = 1 - self.mask
        return shift * free, log_scale * free

    def _couple(self, x: torch.Tensor, context: torch.Tensor | None, sign: float) -> Pair:
        if self.split:
            n = len(self.kept)
            if self.kept_first or self.kept_last:
                # split (not slicing): its backward is one concatenation, not a zero-filled tensor per part
                a, b = x.split([n, x.shape[1] - n], 1) if self.kept_first else x.split([x.shape[1] - n, n], 1)[::-1]
            else:
                a, b = x.index_select(1, self.kept), x.index_select(1, self.free)
            shift, log_scale = self._shift_log_scale(a, context)
            b = b * log_scale.exp() + shift if sign > 0 else (b - shift) * (-log_scale).exp()
            ladj = sign * batch_sum(log_scale)
            if self.kept_first or self.kept_last:
                return torch.cat([a, b] if self.kept_first else [b, a], 1), ladj
            y = torch.empty_like(x)
            y[:, self.kept] = a
            y[:, self.free] = b
            return y, sign * batch_sum(log_scale)
        shift, log_scale = self._shift_log_scale(x * self.mask, context)
        y = x * log_scale.exp() + shift if sign > 0 else (x - shift) * (-log_scale).exp()
        return y, sign * batch_sum(log_scale)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return self._couple(x, context, 1.0)

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return self._couple(y, context, -1.0)

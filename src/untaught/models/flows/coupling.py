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

Flow++'s logistic-mixture CDF coupling (``mixtures`` K > 0) first maps each transformed variable
through ``sigmoid^-1(MixLogCDF(x; pi, mu, s))`` with K components whose parameters the conditioner
also outputs, then applies the affine map: ``log|det|`` adds ``log MixLogCDF' - log F - log(1 - F)``
per variable, and the inverse undoes the mixture by bisection (it is monotone). With the
conditioner's zero start every component is logistic(0, 1), so this coupling starts as the
identity too.

References:
    Dinh, Krueger, Bengio. NICE. 2014. https://arxiv.org/abs/1410.8516
    Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP. ICLR 2017. https://arxiv.org/abs/1605.08803
    Kingma, Dhariwal. Glow. NeurIPS 2018. https://arxiv.org/abs/1807.03039
    Ho, Chen, Srinivas, Duan, Abbeel. Flow++. ICML 2019. https://arxiv.org/abs/1902.00275
"""

from __future__ import annotations

import itertools
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .cdf import logit_mixture, logit_mixture_inverse
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


def with_context(x: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
    """An image conditioner's input: x [B, I, H, W] and the context as K more channels, either a
    vector [B, K] (broadcast as constant channels) or a feature map [B, K, H, W]."""
    if context is None:
        return x
    if context.dim() == 2:
        context = context[:, :, None, None].expand(-1, -1, *x.shape[2:])
    return torch.cat([x, context], 1)


class ConvNet(nn.Module):
    """Conditioner for images: [B, I, H, W] (+ context [B, K] or [B, K, H, W], see
    :func:`with_context`) -> [B, O, H, W].

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
        # ReLU in place on fresh convolution outputs, as in MLP
        h = self.mid(self.inp(with_context(x, context)).relu_()).relu_()
        return self.out(self.blocks(h).relu_() if len(self.blocks) else h)


# -- the layer -----------------------------------------------------------------------------------
Mixture = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # logits, means, log-scales [..., K]


class Coupling(Transform):
    """Affine or additive coupling with a fixed mask, optionally with Flow++'s mixture CDF.

    When the mask selects whole features of a vector or whole channels of an image, the layer
    gathers the kept part and the conditioner sees only it and predicts only the transformed part
    (half the work of a masked network); a spatial (checkerboard) mask runs the conditioner on
    ``x * mask`` over the full tensor, as RealNVP does.

    Args:
        mask: 0/1 tensor of the event shape ([D] or [C, H, W]); 1 marks the conditioning half.
        net: conditioner ``(kept, context) -> params``: ``kept`` is [B, n_kept] / [B, C_kept, H, W]
            (split masks) or ``x * mask`` (checkerboard); ``params`` holds, for the n transformed
            features or channels (all C channels for a checkerboard), n shifts, then n scale
            pre-activations (affine), then K * n mixture logits, K * n means and K * n log-scales
            (``mixtures`` K > 0): ``outputs(mask, affine, mixtures)`` features or channels. Build
            one with :meth:`vector` / :meth:`image`, or pass any network with that output.
        affine: False = NICE's additive coupling (volume preserving without a mixture).
        scale: 'tanh', 'sigmoid' or 'exp' (see the module docstring).
        mixtures: K logistic components of Flow++'s CDF map before the affine one (0: none).
        iterations: bisection steps of the mixture's inverse.
    """

    def __init__(
        self,
        mask: torch.Tensor,
        net: nn.Module,
        *,
        affine: bool = True,
        scale: Scale = "tanh",
        mixtures: int = 0,
        iterations: int = 100,
    ) -> None:
        super().__init__()
        if scale not in ("tanh", "sigmoid", "exp"):
            raise ValueError(f"scale must be 'tanh', 'sigmoid' or 'exp'; got {scale!r}")
        if mixtures < 0 or iterations < 1:
            raise ValueError(f"need mixtures >= 0 and iterations >= 1; got {mixtures}, {iterations}")
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
        self.mixtures, self.iterations = mixtures, iterations
        if affine and scale == "tanh":
            shape = (len(self.free), *mask.shape[1:]) if self.split else mask.shape
            self.tanh_scale = nn.Parameter(torch.ones(shape))

    @staticmethod
    def outputs(mask: torch.Tensor, affine: bool = True, mixtures: int = 0) -> int:
        """Features (vectors) or channels (images) the conditioner must output for ``mask``."""
        rows = mask.reshape(mask.shape[0], -1)
        split = bool(torch.all(rows == rows[:, :1]))
        n = int((rows[:, 0] == 0).sum()) if split else mask.shape[0]
        return (1 + int(affine) + 3 * mixtures) * n

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
        mixtures: int = 0,
    ) -> Coupling:
        """A coupling on [B, D] with an :class:`MLP` conditioner of hidden sizes ``hidden``."""
        net = MLP(cls.inputs(mask), hidden, cls.outputs(mask, affine, mixtures), context)
        return cls(mask, net, affine=affine, scale=scale, mixtures=mixtures)

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

    def _params(
        self, kept: torch.Tensor, context: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, Mixture | None]:
        """Shift, log-scale and mixture parameters of the transformed part (split masks) or of
        everything (checkerboard: shift and log-scale zero where kept)."""
        out = self.net(kept, context)
        n = out.shape[1] // (1 + int(self.affine) + 3 * self.mixtures)
        parts = out.view(out.shape[0], -1, n, *out.shape[2:])
        shift = parts[:, 0]
        if not self.affine:
            log_scale = torch.zeros_like(shift)
        elif self.scale == "tanh":
            log_scale = self.tanh_scale * torch.tanh(parts[:, 1])
        elif self.scale == "sigmoid":
            log_scale = F.logsigmoid(parts[:, 1] + 2.0)
        else:
            log_scale = parts[:, 1]
        mixture = None
        if self.mixtures:
            k = self.mixtures
            logits, means, log_scales = parts[:, -3 * k :].unflatten(1, (3, k)).movedim(2, -1).unbind(1)
            mixture = (logits, means, log_scales.clamp(min=-7.0))  # Flow++'s floor on the log-scales
        if not self.split:
            free = 1 - self.mask
            shift, log_scale = shift * free, log_scale * free
        return shift, log_scale, mixture

    def _transform(self, b: torch.Tensor, kept: torch.Tensor, context: torch.Tensor | None, sign: float) -> Pair:
        """The transformed part ``b`` (or all of x for a checkerboard, whose kept entries are
        restored by the caller) mapped forwards (sign 1) or backwards, and the elementwise log|det|
        of the map that was run."""
        shift, log_scale, mixture = self._params(kept, context)
        ladj = sign * log_scale
        if sign > 0:
            if mixture is not None:
                b, log_derivative = logit_mixture(b, *mixture)
                ladj = ladj + log_derivative
            return b * log_scale.exp() + shift, ladj
        b = (b - shift) * (-log_scale).exp()
        if mixture is not None:
            b = logit_mixture_inverse(b, *mixture, iterations=self.iterations)
            ladj = ladj - logit_mixture(b, *mixture)[1]
        return b, ladj

    def _couple(self, x: torch.Tensor, context: torch.Tensor | None, sign: float) -> Pair:
        if self.split:
            n = len(self.kept)
            if self.kept_first or self.kept_last:
                # split (not slicing): its backward is one concatenation, not a zero-filled tensor per part
                a, b = x.split([n, x.shape[1] - n], 1) if self.kept_first else x.split([x.shape[1] - n, n], 1)[::-1]
            else:
                a, b = x.index_select(1, self.kept), x.index_select(1, self.free)
            b, ladj = self._transform(b, a, context, sign)
            if self.kept_first or self.kept_last:
                return torch.cat([a, b] if self.kept_first else [b, a], 1), batch_sum(ladj)
            y = torch.empty_like(x)
            y[:, self.kept] = a
            y[:, self.free] = b
            return y, batch_sum(ladj)
        y, ladj = self._transform(x, x * self.mask, context, sign)
        if self.mixtures:  # the mixture map ran on the kept entries too: keep them as they were
            kept = self.mask.bool()
            y, ladj = torch.where(kept, x, y), torch.where(kept, 0.0, ladj)
        return y, batch_sum(ladj)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return self._couple(x, context, 1.0)

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return self._couple(y, context, -1.0)

"""Flow++ (Ho et al. 2019): logistic-mixture CDF couplings, attention conditioners, variational
dequantisation.

Every flow step is actnorm, an invertible 1x1 convolution (Glow's, LU-parameterised; left out on
one channel) and a coupling whose transformed half goes through
``sigmoid^-1(MixLogCDF(x; pi, mu, s)) * exp(a) + b`` (:class:`~.coupling.Coupling` with
``mixtures`` K), its parameters from an :class:`AttentionNet` on the other half: gated residual
convolutions and multi-head self-attention over all positions, each followed by layer norm.

On images the flow follows the paper's CIFAR-10 layout: ``steps = (a, b, c)`` means ``a``
checkerboard steps, a squeeze, ``b`` channel-mask steps, an unsqueeze, ``c`` checkerboard steps.
With ``scales`` > 1 every scale but the last runs ``a`` checkerboard steps, a squeeze and ``b``
channel steps, then factors out half of the channels (RealNVP's multi-scale architecture). On
vectors it is ``sum(steps)`` steps of actnorm, invertible linear map and half-mask coupling with
an MLP conditioner.

Variational dequantisation (``dequantization`` 'variational', the default for discrete data): the
noise ``u`` in x's cell comes from a conditional flow, ``eps ~ N(0, I)``, ``v = g(eps; h(x))``,
``u = sigmoid(v)``, ``y = (x + u) / levels``, where ``g`` is a small stack of the same steps (a
checkerboard or half mask each) whose conditioners also read ``h(x)``, features of the data from
another attention network (an MLP on vectors). Then

    log q(y | x) = log N(eps) - log|det dv/deps| - sum log sigmoid'(v) + D log(levels)

and ``log P(x) >= E_q[log p(y) - log q(y | x)]`` (nats), which ``loss`` maximises (one draw) and
``log_prob`` reports, importance-weighted over ``iwae_k`` draws: a lower bound, like the uniform
one (``dequantization`` 'uniform'), only tighter once q is trained.

Not here, against the paper: weight normalisation and data-dependent initialisation of the
conditioners, dropout in the attention, the sizes (CIFAR-10: 96 channels, 10 blocks, 32
components), and the Polyak averaging of the weights.

References:
    Ho, Chen, Srinivas, Duan, Abbeel. Flow++: Improving Flow-Based Generative Models with
    Variational Dequantization and Architecture Design. ICML 2019. https://arxiv.org/abs/1902.00275
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..autoregressive.pixelcnn_pp import concat_elu
from ..base import check_fields
from .actnorm import ActNorm
from .coupling import MLP, Coupling, channel_mask, checkerboard_mask, half_mask, with_context
from .flow import Flow, FlowConfig, check_multiscale_shape
from .invconv import LUInvertibleConv1x1
from .multiscale import MultiScale, Squeeze, squeezed
from .transforms import Compose, Inverse, Transform, batch_sum


# -- the conditioner -----------------------------------------------------------------------------
class GatedConv(nn.Module):
    """``h + a * sigmoid(g)`` with ``(a, g) = conv1x1(dropout(concat_elu(conv3x3(concat_elu(h)))))``:
    [B, C, H, W] -> [B, C, H, W] (the gated residual convolution of PixelCNN++ and Flow++)."""

    def __init__(self, channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2 * channels, channels, 3, padding=1)
        self.gate = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        a, g = self.gate(self.dropout(concat_elu(self.conv(concat_elu(h))))).chunk(2, 1)
        return h + a * torch.sigmoid(g)


class SelfAttention(nn.Module):
    """Multi-head self-attention over the H * W positions of [B, C, H, W], gated and residual:
    ``h + a * sigmoid(g)`` with ``(a, g) = conv1x1(attention(q, k, v))``, q, k, v 1x1 convolutions
    of h split into ``heads`` heads of C / heads channels."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"hidden channels ({channels}) must be divisible by heads ({heads})")
        self.heads = heads
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, 2 * channels, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, c, height, width = h.shape
        q, k, v = self.qkv(h).view(b, 3, self.heads, c // self.heads, height * width).transpose(-1, -2).unbind(1)
        o = F.scaled_dot_product_attention(q, k, v)  # [B, heads, HW, C / heads]
        a, g = self.out(o.transpose(-1, -2).reshape(b, c, height, width)).chunk(2, 1)
        return h + a * torch.sigmoid(g)


class ChannelNorm(nn.LayerNorm):
    """Layer norm over the channels of [B, C, H, W], at every position."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return super().forward(h.movedim(1, -1)).movedim(-1, 1)


class AttentionNet(nn.Module):
    """Flow++'s conditioner: [B, I, H, W] (+ context [B, K] or [B, K, H, W]) -> [B, O, H, W].

    A 3x3 convolution to ``hidden`` channels, ``blocks`` blocks of (gated convolution, layer norm,
    self-attention with ``heads`` heads, layer norm; ``heads`` 0 leaves attention out), and a
    zero-initialised 3x3 convolution to the outputs (so a coupling starts as the identity).
    """

    def __init__(
        self, inputs: int, hidden: int, outputs: int, blocks: int, heads: int, context: int = 0, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.inp = nn.Conv2d(inputs + context, hidden, 3, padding=1)
        layers: list[nn.Module] = []
        for _ in range(blocks):
            layers += [GatedConv(hidden, dropout), ChannelNorm(hidden)]
            if heads:
                layers += [SelfAttention(hidden, heads), ChannelNorm(hidden)]
        self.blocks = nn.Sequential(*layers)
        self.out = nn.Conv2d(hidden, outputs, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.blocks(self.inp(with_context(x, context))))


# -- the model -----------------------------------------------------------------------------------
@dataclass
class FlowPlusPlusConfig(FlowConfig):
    """Flow++.

    Attributes:
        steps: images: (checkerboard steps, channel steps after a squeeze, checkerboard steps after
            the unsqueeze) per scale, the paper's CIFAR-10 (4, 2, 3); vectors: sum(steps) steps.
        scales: scales of the multi-scale architecture (images; 1 = no factoring out, as the paper).
        hidden: conditioner channels (images) or MLP width (vectors).
        blocks: gated-convolution (+ attention) blocks per conditioner; MLP depth on vectors.
        heads: attention heads per block; 0 = no attention.
        attention_positions: the largest H * W at which conditioners use self-attention; above it
            only the gated convolutions (attention costs (H W)^2 per head: at 28x28 it took most of
            a CPU training step; the default 256 keeps it at 16x16 and smaller).
        mixtures: K logistic components of every coupling's CDF.
        dropout: dropout in the gated convolutions (training only).
        dequantization: 'variational' (a learned q(u | x)) or 'uniform' (u ~ U[0, 1)^D).
        dequant_steps: steps of the dequantisation flow.
        features: channels (images) or features (vectors) of h(x), the dequantisation flow's context.
    """

    steps: tuple[int, ...] = (4, 2, 3)
    scales: int = 1
    hidden: int = 32
    blocks: int = 2
    heads: int = 4
    attention_positions: int = 256
    mixtures: int = 8
    dropout: float = 0.0
    dequantization: Literal["variational", "uniform"] = "variational"
    dequant_steps: int = 2
    features: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        heads_ok = self.heads == 0 or (self.heads > 0 and self.hidden % self.heads == 0)
        checks = [
            ("steps", len(self.steps) == 3 and min(self.steps) >= 0 and sum(self.steps) >= 1, "3 counts, not all 0"),
            ("scales", self.scales >= 1, "an integer >= 1"),
            ("hidden", self.hidden >= 1, "an integer >= 1"),
            ("blocks", self.blocks >= 1, "an integer >= 1"),
            ("heads", heads_ok, f"0 or a divisor of hidden={self.hidden}"),
            ("attention_positions", self.attention_positions >= 1, "an integer >= 1"),
            ("mixtures", self.mixtures >= 1, "an integer >= 1 (logistic components)"),
            ("dropout", 0 <= self.dropout < 1, "a probability in [0, 1)"),
            ("dequantization", self.dequantization in ("variational", "uniform"), "'variational' or 'uniform'"),
            ("dequant_steps", self.dequant_steps >= 1, "an integer >= 1"),
            ("features", self.features >= 1, "an integer >= 1"),
        ]
        check_fields(self, checks)
        squeezes = self.scales if self.steps[1] else self.scales - 1
        setting = f"steps={self.steps} with scales={self.scales}"
        check_multiscale_shape(self.shape, squeezes, setting, "Flow++", min_dims=2)


class FlowPlusPlus(Flow):
    """Flow++: log_prob [B] nats (a variational-dequantisation bound on discrete data, exact on
    continuous data), encode -> z [B, D], sample, interpolate."""

    Config = FlowPlusPlusConfig
    name = "flow++"
    description = "Flow++: mixture-CDF couplings, attention conditioners, variational dequantisation (Ho et al. 2019)"
    config: FlowPlusPlusConfig

    def __init__(self, config: FlowPlusPlusConfig) -> None:
        super().__init__(config)
        c = config
        shape = tuple(c.shape)
        if len(shape) == 1:
            masks = [half_mask(shape[0], i) for i in range(sum(c.steps))]
            self.transform = Compose(*(self._step(m, c.num_classes) for m in masks))
        else:
            self.transform = self._multiscale(shape)
        if c.levels is not None and c.dequantization == "variational":
            if len(shape) == 1:
                self.features = MLP(shape[0], (c.hidden,) * c.blocks, c.features)
                masks = [half_mask(shape[0], i) for i in range(c.dequant_steps)]
            else:
                self.features = AttentionNet(shape[0], c.hidden, c.features, 1, self._heads(shape), dropout=c.dropout)
                masks = [checkerboard_mask(shape, i) for i in range(c.dequant_steps)]
            self.dequantiser = Compose(*(self._step(m, c.features) for m in masks))

    def _heads(self, shape: tuple[int, ...]) -> int:
        """Attention heads of a conditioner on images of ``shape`` (C, H, W)."""
        return self.config.heads if shape[1] * shape[2] <= self.config.attention_positions else 0

    def _step(self, mask: torch.Tensor, context: int) -> Transform:
        """Actnorm, invertible 1x1 convolution (if more than one channel) and a mixture coupling."""
        c, channels = self.config, mask.shape[0]
        if mask.dim() == 1:
            coupling = Coupling.vector(mask, (c.hidden,) * c.blocks, context, mixtures=c.mixtures)
        else:
            outputs = Coupling.outputs(mask, True, c.mixtures)
            heads = self._heads(mask.shape)
            net = AttentionNet(Coupling.inputs(mask), c.hidden, outputs, c.blocks, heads, context, c.dropout)
            coupling = Coupling(mask, net, mixtures=c.mixtures)
        mixing = [LUInvertibleConv1x1(channels)] if channels > 1 else []
        return Compose(ActNorm(channels), *mixing, coupling)

    def _multiscale(self, shape: tuple[int, ...]) -> MultiScale:
        c, k = self.config, self.config.num_classes
        first, middle, last = c.steps
        shapes, blocks = [shape], []
        for scale in range(c.scales):
            final = scale == c.scales - 1
            layers = [self._step(checkerboard_mask(shape, i), k) for i in range(first)]
            if middle or not final:
                small = squeezed(shape)
                layers += [Squeeze()] + [self._step(channel_mask(small, i), k) for i in range(middle)]
            if final:
                if middle:
                    layers.append(Inverse(Squeeze()))
                layers += [self._step(checkerboard_mask(shape, i), k) for i in range(last)]
            else:
                shape = small
            blocks.append(Compose(*layers))
            shapes.append(shape)
            shape = (shape[0] // 2, *shape[1:])
        return MultiScale(blocks, shapes)

    def dequantise(self, x: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """y = (x + sigmoid(g(eps; h(x)))) / levels with eps ~ N(0, I) from ``generator``, and
        log q(y | x) [B] in nats (module docstring); uniform if ``dequantization`` is 'uniform'."""
        c = self.config
        if c.dequantization == "uniform":
            return super().dequantise(x, generator)
        levels = c.levels
        xf = x.to(self._device, self._dtype)
        eps = self._randn(tuple(x.shape), generator)
        v, ladj = self.dequantiser(eps, self.features((xf + 0.5) / levels - 0.5))
        log_q = self.base_log_prob(eps.flatten(1)) - ladj - batch_sum(F.logsigmoid(v) + F.logsigmoid(-v))
        # sigmoid(v) rounds to 1 for v beyond ~17 (float32): keep y inside the half-open cell, as dequantize does
        y = torch.minimum((xf + torch.sigmoid(v)) / levels, torch.nextafter((xf + 1) / levels, torch.zeros_like(xf)))
        return y, log_q + c.dims * math.log(levels)

"""Activation normalisation (Glow, section 3.1): a per-channel affine map, initialised from data.

``y = (x + bias) * exp(log_scale)`` per channel (dimension 1 of [B, C, H, W] or [B, D]), so
``log|det| = H * W * sum(log_scale)``. The first training batch sets ``bias = -mean`` and
``log_scale = -log(std)`` per channel, so that the output has zero mean and unit variance per
channel on that batch; under DDP the mean and second moment are averaged across ranks first, so
every rank starts from the same parameters.

References:
    Kingma, Dhariwal. Glow: Generative Flow with Invertible 1x1 Convolutions. NeurIPS 2018.
    https://arxiv.org/abs/1807.03039
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
from torch import nn

from .transforms import Pair, Transform


def _per_channel(x: torch.Tensor) -> torch.Tensor:
    """[B, C, ...] -> [C, B * ...]: every value of each channel in one row."""
    return x.transpose(0, 1).reshape(x.shape[1], -1)


class ActNorm(Transform):
    """Actnorm over ``channels`` channels; data-dependent initialisation on the first training call."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(False))
        self.eps = eps

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        """Set bias and scale so that ``x`` maps to zero mean, unit variance per channel."""
        values = _per_channel(x)
        moments = torch.stack([values.mean(1), values.pow(2).mean(1)])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(moments)
            moments /= dist.get_world_size()
        mean, square = moments
        std = (square - mean.pow(2)).clamp_min(0).sqrt()
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std + self.eps))
        self.initialized.fill_(True)

    def _shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (1, -1) + (1,) * (x.dim() - 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        if self.training and not bool(self.initialized):
            self.initialize(x)
        shape = self._shape(x)
        y = (x + self.bias.view(shape)) * self.log_scale.exp().view(shape)
        pixels = math.prod(x.shape[2:])
        return y, (pixels * self.log_scale.sum()).expand(x.shape[0])

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        shape = self._shape(y)
        x = y * (-self.log_scale).exp().view(shape) - self.bias.view(shape)
        pixels = math.prod(y.shape[2:])
        return x, (-pixels * self.log_scale.sum()).expand(y.shape[0])

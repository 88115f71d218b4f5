"""Invertible 1x1 convolution (Glow, section 3.2), plain and LU-parameterised.

``y[:, :, i, j] = W @ x[:, :, i, j]`` with a learned invertible ``W`` [C, C] (for vectors [B, D]:
``y = W x``), so ``log|det| = H * W * log|det W|``. The plain layer computes ``log|det W|`` with
``slogdet`` (O(C^3)); the LU layer keeps ``W = P L (U + diag(sign * exp(log_s)))`` with a fixed
permutation ``P``, unit lower-triangular ``L`` and strictly upper ``U``, so ``log|det W| = sum(log_s)``.
Both start from a random rotation (log|det| = 0).

References:
    Kingma, Dhariwal. Glow: Generative Flow with Invertible 1x1 Convolutions. NeurIPS 2018.
    https://arxiv.org/abs/1807.03039
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .transforms import Pair, Transform


def random_rotation(channels: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """An orthogonal [C, C] matrix with determinant +1 (QR of a Gaussian matrix)."""
    q, r = torch.linalg.qr(torch.randn(channels, channels, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))[None, :]
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q.float()


def _apply(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``W`` applied to dimension 1 of [B, C, ...]."""
    if x.dim() == 2:
        return x @ weight.T
    return F.conv2d(x, weight[:, :, None, None]) if x.dim() == 4 else torch.einsum("ij,bj...->bi...", weight, x)


class InvertibleConv1x1(Transform):
    """Plain 1x1 convolution with a free weight ``W`` [C, C]; ``weight`` gives the initial value."""

    def __init__(self, channels: int, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(random_rotation(channels) if weight is None else weight.clone())

    def matrix(self) -> torch.Tensor:
        return self.weight

    def log_abs_det(self) -> torch.Tensor:
        return torch.linalg.slogdet(self.weight)[1]

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        pixels = math.prod(x.shape[2:])
        return _apply(x, self.matrix()), (pixels * self.log_abs_det()).expand(x.shape[0])

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        pixels = math.prod(y.shape[2:])
        return _apply(y, torch.linalg.inv(self.matrix())), (-pixels * self.log_abs_det()).expand(y.shape[0])


class LUInvertibleConv1x1(InvertibleConv1x1):
    """1x1 convolution parameterised as ``W = P L (U + diag(sign * exp(log_s)))`` (Glow eq. 10).

    ``weight`` (default: a random rotation) is factorised once; ``P`` and ``sign`` stay fixed.
    """

    def __init__(self, channels: int, weight: torch.Tensor | None = None) -> None:
        Transform.__init__(self)
        w = random_rotation(channels) if weight is None else weight.detach()
        p, lower, upper = torch.linalg.lu(w.double())
        s = torch.diagonal(upper)
        self.register_buffer("perm", p.to(w.dtype))
        self.register_buffer("sign", torch.sign(s).to(w.dtype))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1).to(w.dtype))
        self.register_buffer("eye", torch.eye(channels, dtype=w.dtype))
        self.lower = nn.Parameter(torch.tril(lower, -1).to(w.dtype))
        self.upper = nn.Parameter(torch.triu(upper, 1).to(w.dtype))
        self.log_s = nn.Parameter(torch.log(s.abs()).to(w.dtype))

    def matrix(self) -> torch.Tensor:
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign * self.log_s.exp())
        return self.perm @ lower @ upper

    def log_abs_det(self) -> torch.Tensor:
        return self.log_s.sum()

"""Layers of the learned codecs: generalised divisive normalisation and the four transforms.

GDN (Ballé, Laparra, Simoncelli 2016) divides each channel by a learned norm of all channels at the
same position, ``y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)``; inverse GDN multiplies instead.
``beta`` and ``gamma`` stay positive through a squared parameterisation with a floor.

The transforms follow Ballé et al. (2018) at a CPU-sized width: analysis ``g_a`` (image -> latent
``y``, 4 stride-2 5x5 convolutions with GDN, 16x downsampling), synthesis ``g_s`` (the mirror, with
transposed convolutions and inverse GDN), hyper-analysis ``h_a`` (``y`` -> ``z``, 4x more) and
hyper-synthesis ``h_s`` (``z`` -> the parameters of ``p(y | z)``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

_PEDESTAL = 2.0**-18  # keeps the square-root parameterisation's gradient finite near zero


class GDN(nn.Module):
    """Generalised divisive normalisation over channels; ``inverse=True`` multiplies (IGDN).

    Input and output ``[B, C, H, W]``.
    """

    def __init__(self, channels: int, *, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1):
        super().__init__()
        self.inverse = inverse
        self.beta_floor = (beta_min + _PEDESTAL) ** 0.5
        self.beta_raw = nn.Parameter(torch.full((channels,), (1.0 + _PEDESTAL) ** 0.5))
        self.gamma_raw = nn.Parameter((gamma_init * torch.eye(channels) + _PEDESTAL) ** 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.beta_raw.clamp_min(self.beta_floor).square() - _PEDESTAL
        gamma = self.gamma_raw.clamp_min(_PEDESTAL**0.5).square() - _PEDESTAL
        norm = F.conv2d(x.square(), gamma[:, :, None, None], beta).sqrt()
        return x * norm if self.inverse else x / norm


def _conv(a: int, b: int, kernel: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(a, b, kernel, stride=stride, padding=kernel // 2)


def _deconv(a: int, b: int, kernel: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(a, b, kernel, stride=stride, padding=kernel // 2, output_padding=stride - 1)


def analysis(channels: int, latent: int, image_channels: int = 3) -> nn.Sequential:
    """``g_a``: [B, 3, H, W] in [0, 1] -> y [B, latent, H/16, W/16]."""
    return nn.Sequential(
        _conv(image_channels, channels), GDN(channels),
        _conv(channels, channels), GDN(channels),
        _conv(channels, channels), GDN(channels),
        _conv(channels, latent),
    )  # fmt: skip


def synthesis(channels: int, latent: int, image_channels: int = 3) -> nn.Sequential:
    """``g_s``: y_hat [B, latent, h, w] -> x_hat [B, 3, 16h, 16w] (about [0, 1], not clipped)."""
    return nn.Sequential(
        _deconv(latent, channels), GDN(channels, inverse=True),
        _deconv(channels, channels), GDN(channels, inverse=True),
        _deconv(channels, channels), GDN(channels, inverse=True),
        _deconv(channels, image_channels),
    )  # fmt: skip


def hyper_analysis(channels: int, latent: int) -> nn.Sequential:
    """``h_a``: y [B, latent, h, w] -> z [B, channels, h/4, w/4]."""
    return nn.Sequential(
        _conv(latent, channels, 3, 1), nn.LeakyReLU(inplace=True),
        _conv(channels, channels), nn.LeakyReLU(inplace=True),
        _conv(channels, channels),
    )  # fmt: skip


def hyper_synthesis(channels: int, latent: int, outputs: int) -> nn.Sequential:
    """``h_s``: z_hat [B, channels, h/4, w/4] -> [B, outputs * latent, h, w] (scales, or means and scales)."""
    return nn.Sequential(
        _deconv(channels, channels), nn.LeakyReLU(inplace=True),
        _deconv(channels, channels * 3 // 2), nn.LeakyReLU(inplace=True),
        _conv(channels * 3 // 2, outputs * latent, 3, 1),
    )  # fmt: skip

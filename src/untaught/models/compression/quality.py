"""Image quality for codec evaluation and training: PSNR and (MS-)SSIM in torch, per image.

Everything takes batches ``[B, C, H, W]`` of floating images (float64 for evaluation, any float for
a training loss) and returns one value per image ``[B]``; all of it is differentiable, so a codec
trained for MS-SSIM minimises ``1 - ms_ssim(x, x_hat, data_range=1.0).mean()`` on images in [0, 1].

SSIM (Wang, Bovik, Sheikh, Simoncelli 2004) as in the authors' reference code: an 11x11 Gaussian
window of sigma 1.5 (separable, normalised), only positions where the window fits ("valid"),
``K1 = 0.01``, ``K2 = 0.03``, population (not sample) variances, the mean of the SSIM map per
channel, then the mean over channels. MS-SSIM (Wang, Simoncelli, Bovik 2003): the contrast-structure
term at scales 1-4 and the full SSIM at scale 5, with weights 0.0448, 0.2856, 0.3001, 0.2363,
0.1333, a 2x2 average between scales (an odd last row or column is averaged with itself, as the
reference code's symmetric padding does), negative terms clipped to 0, per channel, then averaged
over channels (as TensorFlow's ``ssim_multiscale`` and ``pytorch_msssim``).

Small images: five scales need both sides >= 161 pixels (the window must fit at 1/16 scale). For
smaller images :func:`ms_ssim` uses as many scales as fit (:func:`ms_ssim_scales`), the last of
them with the full SSIM, and the first weights renormalised to sum to 1: a deviation from the paper
(which has no such rule), so values on images under 161 pixels are not comparable with 5-scale
values. Images under 11 pixels on a side have no SSIM and raise ValueError.

Evaluation convention (:func:`image_quality`): 8-bit RGB as float64 with ``data_range=255``,
one value per image, averaged over images by the caller.

References:
    Wang, Simoncelli, Bovik. Multiscale structural similarity for image quality assessment.
    Asilomar Conference on Signals, Systems and Computers, 2003.
    Wang, Bovik, Sheikh, Simoncelli. Image quality assessment: from error visibility to structural
    similarity. IEEE Transactions on Image Processing 13(4), 2004.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor) or t.dim() != 4 or not t.is_floating_point():
            given = f"{t.dtype} of shape {tuple(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{name} must be a floating tensor [B, C, H, W]; got {given}")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape; got {tuple(x.shape)} and {tuple(y.shape)}")


def gaussian_window() -> torch.Tensor:
    """The normalised 1-D Gaussian of :data:`WINDOW` taps and std :data:`SIGMA`: float64 ``[WINDOW]``."""
    taps = torch.arange(WINDOW, dtype=torch.float64) - (WINDOW - 1) / 2
    g = torch.exp(-(taps**2) / (2 * SIGMA**2))
    return g / g.sum()


def _blur(x: torch.Tensor, window: list[float]) -> torch.Tensor:
    """Separable Gaussian filter over the last two axes, valid positions only: ``[..., H-10, W-10]``.

    Float64 (evaluation): weighted sums of shifted views accumulated in place, many times faster on
    a CPU than a float64 convolution. Other dtypes (training losses): two depthwise convolutions,
    whose backward pass is far cheaper than that of the shifted sums.
    """
    if x.dtype != torch.float64:
        shape = x.shape
        flat = x.reshape(1, -1, *shape[-2:])  # every image plane a group of a depthwise convolution
        n = flat.shape[1]
        kernel = torch.tensor(window, dtype=x.dtype, device=x.device)
        flat = F.conv2d(flat, kernel.view(1, 1, -1, 1).expand(n, 1, -1, 1), groups=n)
        flat = F.conv2d(flat, kernel.view(1, 1, 1, -1).expand(n, 1, 1, -1), groups=n)
        return flat.reshape(*shape[:-2], *flat.shape[-2:])
    for axis in (-2, -1):
        size = x.shape[axis] - WINDOW + 1
        out = x.narrow(axis, 0, size) * window[0]
        for k in range(1, WINDOW):
            out.add_(x.narrow(axis, k, size), alpha=window[k])
        x = out
    return x


def _ssim_and_cs(x: torch.Tensor, y: torch.Tensor, data_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean contrast-structure term per image and channel: two ``[B, C]``."""
    window = gaussian_window().tolist()
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mu_x, mu_y, xx, yy, xy = _blur(torch.stack((x, y, x * x, y * y, x * y)), window)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return (luminance * cs).mean(dim=(2, 3)), cs.mean(dim=(2, 3))


def _check_size(height: int, width: int) -> None:
    if min(height, width) < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW}x{WINDOW} pixels (its window); got {height}x{width}")


def ssim(x: torch.Tensor, y: torch.Tensor, *, data_range: float = 255.0) -> torch.Tensor:
    """Single-scale SSIM of ``x`` and ``y`` ``[B, C, H, W]`` (values in ``[0, data_range]``): ``[B]``."""
    _check_pair(x, y)
    _check_size(*x.shape[-2:])
    return _ssim_and_cs(x, y, data_range)[0].mean(dim=1)


def ms_ssim_scales(height: int, width: int) -> int:
    """How many MS-SSIM scales (at most 5) fit an image of ``height`` x ``width`` pixels."""
    _check_size(height, width)
    scales, side = 1, min(height, width)
    while scales < len(MS_SSIM_WEIGHTS) and math.ceil(side / 2) >= WINDOW:
        scales, side = scales + 1, math.ceil(side / 2)
    return scales


def _power(base: torch.Tensor, exponent: float) -> torch.Tensor:
    """max(base, 0) ** exponent with a finite gradient everywhere (0 where base <= 0)."""
    positive = base > 0
    return torch.where(positive, base.clamp_min(torch.finfo(base.dtype).tiny) ** exponent, 0.0)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, *, data_range: float = 255.0) -> torch.Tensor:
    """MS-SSIM of ``x`` and ``y`` ``[B, C, H, W]`` (values in ``[0, data_range]``): ``[B]`` in [0, 1].

    Five scales for images of at least 161x161 pixels, fewer (weights renormalised) for smaller ones.
    """
    _check_pair(x, y)
    scales = ms_ssim_scales(*x.shape[-2:])
    weights = MS_SSIM_WEIGHTS[:scales]
    if scales < len(MS_SSIM_WEIGHTS):
        weights = tuple(w / sum(weights) for w in weights)
    value = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
    for scale, weight in enumerate(weights):
        full, cs = _ssim_and_cs(x, y, data_range)
        if scale == scales - 1:
            value = value * _power(full, weight)
        else:
            value = value * _power(cs, weight)
            x = F.avg_pool2d(x, 2, ceil_mode=True)
            y = F.avg_pool2d(y, 2, ceil_mode=True)
    return value.mean(dim=1)


def psnr(x: torch.Tensor, y: torch.Tensor, *, data_range: float = 255.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB over all channels and pixels: ``[B]`` (inf where x == y)."""
    _check_pair(x, y)
    mse = (x - y).square().mean(dim=(1, 2, 3))
    return 10 * torch.log10(data_range**2 / mse)


def ms_ssim_db(value: float | np.ndarray) -> float | np.ndarray:
    """MS-SSIM on a decibel scale, ``-10 log10(1 - value)`` (the convention of Ballé et al.)."""
    return -10 * np.log10(1 - np.asarray(value, dtype=np.float64))


def _as_batch(image: np.ndarray, name: str) -> torch.Tensor:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        given = f"{image.dtype} of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{name} must be a uint8 array [H, W] or [H, W, C]; got {given}")
    array = image[:, :, None] if image.ndim == 2 else image
    return torch.from_numpy(array.astype(np.float64)).permute(2, 0, 1)[None]


def image_quality(original: np.ndarray, reconstruction: np.ndarray) -> tuple[float, float]:
    """(PSNR in dB, MS-SSIM) of two 8-bit images uint8 ``[H, W, 3]`` (or ``[H, W]``), in float64."""
    x, y = _as_batch(original, "original"), _as_batch(reconstruction, "reconstruction")
    if x.shape != y.shape:
        raise ValueError(f"the reconstruction has shape {reconstruction.shape}; expected {original.shape}")
    return float(psnr(x, y)[0]), float(ms_ssim(x, y)[0])

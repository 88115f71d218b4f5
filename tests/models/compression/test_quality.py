"""PSNR, SSIM and MS-SSIM against independent references (scikit-image, pytorch_msssim) and properties."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from untaught.models.compression.quality import (
    MS_SSIM_WEIGHTS,
    image_quality,
    ms_ssim,
    ms_ssim_db,
    ms_ssim_scales,
    psnr,
    ssim,
)


def pair(h: int, w: int, amplitude: float, channels: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A smooth test pattern uint8 [h, w, channels] and a copy with deterministic pseudo-noise."""
    i, j, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(channels), indexing="ij")
    base = 128 + 60 * np.sin(i / 7 + c) * np.cos(j / 11) + 40 * np.sin((i + 2 * j) / 5)
    noise = (i * 7919 + j * 104729 + c * 31) % 61 - 30
    x = np.clip(base, 0, 255).astype(np.uint8)
    y = np.clip(base + amplitude * noise / 30, 0, 255).astype(np.uint8)
    return x, y


def batch(*images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(images).astype(np.float64)).permute(0, 3, 1, 2)


@pytest.mark.parametrize(("h", "w", "channels"), [(11, 11, 3), (37, 50, 3), (64, 64, 1), (120, 90, 3)])
def test_ssim_matches_scikit_image(h, w, channels):
    x, y = pair(h, w, 40, channels)
    expected = structural_similarity(
        x, y, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=-1
    )
    assert ssim(batch(x), batch(y)).item() == pytest.approx(expected, abs=1e-12)


# pytorch_msssim 1.0.0, ms_ssim(X, Y, data_range=255) on float64 inputs of these pairs (it agrees with
# TensorFlow's ssim_multiscale; its float32 window explains differences of ~1e-7)
@pytest.mark.parametrize(("h", "w", "amplitude", "reference"), [(192, 256, 20, 0.980055), (256, 176, 60, 0.875409)])
def test_ms_ssim_matches_pytorch_msssim(h, w, amplitude, reference):
    x, y = pair(h, w, amplitude)
    assert ms_ssim(batch(x), batch(y)).item() == pytest.approx(reference, abs=1e-6)


def test_ms_ssim_properties():
    x, y = pair(170, 180, 30)
    a, b = batch(x), batch(y)
    assert ms_ssim(a, a).item() == pytest.approx(1.0, abs=1e-12)
    assert ms_ssim(a, b).item() == pytest.approx(ms_ssim(b, a).item(), abs=1e-12)
    values = [ms_ssim(a, batch(pair(170, 180, amplitude)[1])).item() for amplitude in (5, 20, 60, 120)]
    assert all(u > v for u, v in itertools.pairwise(values)), values
    # one value per image, each independent of the others in the batch
    both = ms_ssim(torch.cat([a, a]), torch.cat([b, a]))
    assert both.tolist() == pytest.approx([ms_ssim(a, b).item(), 1.0], abs=1e-12)
    # the scale of the data does not matter when data_range follows it
    assert ms_ssim(a / 255, b / 255, data_range=1.0).item() == pytest.approx(ms_ssim(a, b).item(), abs=1e-12)


def test_float32_path_agrees_with_float64():
    # float64 blurs by shifted sums (evaluation), other dtypes by depthwise convolutions (training)
    x, y = pair(170, 180, 30)
    a, b = batch(x) / 255, batch(y) / 255
    for metric in (ssim, ms_ssim):
        single = metric(a.float(), b.float(), data_range=1.0).item()
        assert single == pytest.approx(metric(a, b, data_range=1.0).item(), abs=1e-5)


@pytest.mark.parametrize(
    ("side", "scales"), [(11, 1), (20, 1), (21, 2), (41, 3), (81, 4), (160, 4), (161, 5), (999, 5)]
)
def test_scales_that_fit(side, scales):
    assert ms_ssim_scales(side, side + 7) == scales
    assert ms_ssim_scales(side + 7, side) == scales


def test_small_images_renormalise_the_weights():
    x, y = pair(15, 30, 40)
    assert ms_ssim(batch(x), batch(y)).item() == pytest.approx(ssim(batch(x), batch(y)).item(), abs=1e-12)
    # two scales: cs at full size ** (w1 / (w1 + w2)) * SSIM at half size ** (w2 / (w1 + w2)), per channel
    x, y = pair(30, 44, 40)
    a, b = batch(x), batch(y)
    total = MS_SSIM_WEIGHTS[0] + MS_SSIM_WEIGHTS[1]
    half = torch.nn.functional.avg_pool2d
    per_channel = []
    for c in range(3):
        ac, bc = a[:, c : c + 1], b[:, c : c + 1]
        coarse = ssim(half(ac, 2), half(bc, 2)).item()
        per_channel.append(_cs(ac, bc) ** (MS_SSIM_WEIGHTS[0] / total) * coarse ** (MS_SSIM_WEIGHTS[1] / total))
    assert ms_ssim(a, b).item() == pytest.approx(float(np.mean(per_channel)), abs=1e-12)


def _cs(a: torch.Tensor, b: torch.Tensor) -> float:
    """The mean contrast-structure term, written out with numpy (one channel [1, 1, H, W])."""
    from scipy.ndimage import correlate1d

    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    g /= g.sum()

    def blur(v):
        return correlate1d(correlate1d(v, g, axis=0, mode="constant"), g, axis=1, mode="constant")[5:-5, 5:-5]

    x, y = a[0, 0].numpy(), b[0, 0].numpy()
    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c2 = (0.03 * 255) ** 2
    return float(np.mean((2 * cov + c2) / (vx + vy + c2)))


def test_gradient_is_finite_for_anticorrelated_images():
    x, _ = pair(64, 64, 0)
    a = (batch(x) / 255).requires_grad_()
    value = ms_ssim(a, 1 - a.detach(), data_range=1.0)
    assert value.item() == 0.0  # negative contrast-structure terms are clipped to 0
    (1 - value).sum().backward()
    assert torch.isfinite(a.grad).all()
    generator = torch.Generator().manual_seed(0)
    b = torch.rand(2, 3, 48, 40, generator=generator).requires_grad_()
    (1 - ms_ssim(b, torch.rand(2, 3, 48, 40, generator=generator), data_range=1.0)).mean().backward()
    assert torch.isfinite(b.grad).all() and b.grad.abs().sum() > 0


def test_psnr_and_image_quality():
    x, _ = pair(40, 30, 0)
    y = np.clip(x.astype(np.int16) + np.where(np.arange(30) % 2 == 0, 4, -4)[:, None], 0, 255).astype(np.uint8)
    mse = np.mean((x.astype(np.float64) - y) ** 2)
    assert psnr(batch(x), batch(y)).item() == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-12)
    assert math.isinf(psnr(batch(x), batch(x)).item())
    value_psnr, value_ms_ssim = image_quality(x, y)
    assert value_psnr == pytest.approx(psnr(batch(x), batch(y)).item(), abs=1e-12)
    assert value_ms_ssim == pytest.approx(ms_ssim(batch(x), batch(y)).item(), abs=1e-12)
    assert ms_ssim_db(0.99) == pytest.approx(20.0)


def test_bad_input_is_refused():
    x = torch.zeros(1, 3, 32, 32)
    with pytest.raises(ValueError, match="floating tensor"):
        ms_ssim(x.to(torch.uint8), x)
    with pytest.raises(ValueError, match="same shape"):
        ms_ssim(x, torch.zeros(1, 3, 32, 31))
    with pytest.raises(ValueError, match="at least 11x11"):
        ms_ssim(torch.zeros(1, 3, 10, 32), torch.zeros(1, 3, 10, 32))
    with pytest.raises(ValueError, match="uint8"):
        image_quality(np.zeros((16, 16, 3)), np.zeros((16, 16, 3)))
    with pytest.raises(ValueError, match="expected"):
        image_quality(np.zeros((16, 16, 3), np.uint8), np.zeros((16, 17, 3), np.uint8))

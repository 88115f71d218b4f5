"""WaveOne: low-bitrate perceptual compression (Rippel & Bourdev 2017), adapted to a CPU.

* Encoder: a pyramidal decomposition. The image and its 2x, 4x, ... averages each pass through a
  branch of strided convolutions that ends at 1/16 of the full resolution (interscale alignment),
  the branches are summed and mapped to a ``code``-channel tensor in [0, 1], quantised to ``bits``
  bits (straight-through rounding in training).
* Lossless coding: :mod:`.bitplanes` (bitplanes, checkerboard passes, adaptive binary contexts).
* Adaptive codelength regularisation: ``alpha * mean(log2(1 + q) + sum over 4 neighbours of
  log2(1 + |q - q_neighbour|))`` pushes the code towards zeros and smooth maps; ``alpha`` (a buffer,
  so it is checkpointed) is raised by ``alpha_step`` (relative) after every batch whose estimated
  rate is above ``target_bpp`` and lowered by as much otherwise, as the paper's controller does. The
  default step, 1%, let the shipped weights' code collapse (BENCHMARKS.md: alpha grew 34-fold in
  360 steps, faster than the rate responded); 0.1% kept the rate above the target instead.
* Decoder: resize-convolutions back to full resolution; the image is built coarse to fine, each
  scale adding its detail to the upsampled coarser image (pyramidal synthesis).
* Losses: ``1 - MS-SSIM`` plus ``l1_weight * L1`` plus ``adversarial_weight`` times the
  non-saturating GAN loss of a multiscale patch discriminator (images at 1, 1/2 and 1/4 scale),
  trained in the same step on the detached reconstruction.
* Rate control at test time: ``compress(x, bpp=...)`` codes the longest prefix of bitplane units
  that fits the budget, so any target rate is met from the same weights.

Adaptations to a CPU: one code resolution (1/16) instead of several, no per-scale learned weights
in the coder, a small discriminator, crops of 128 pixels.

References:
    Rippel, Bourdev. Real-time adaptive image compression. ICML 2017.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..base import ModelConfig, check_fields
from . import bitplanes
from .base import ImageCodec
from .container import CodecFileError, pack
from .quality import ms_ssim

_NEIGHBOURS = ((0, 1), (1, 0), (1, 1), (1, -1))


@dataclass
class WaveOneConfig(ModelConfig):
    """channels: width of the encoder branches and the decoder; code: channels of the code (1/16
    resolution); bits: bits per code value; scales: pyramid levels; target_bpp: the rate the
    codelength regulariser aims at in training and the default rate of ``compress``;
    l1_weight, adversarial_weight: weights of the L1 and GAN terms next to 1 - MS-SSIM;
    disc_channels: width of the discriminators; alpha_step: the codelength controller's relative
    change of alpha per batch; quality: the shipped level (0: not shipped)."""

    shape: tuple[int, ...] = (3, 128, 128)
    levels: int | None = 256
    channels: int = 64
    code: int = 32
    bits: int = 6
    scales: int = 3
    target_bpp: float = 0.1
    l1_weight: float = 1.0
    adversarial_weight: float = 0.01
    disc_channels: int = 32
    alpha_step: float = 0.01
    quality: int = 0

    def __post_init__(self) -> None:
        checks = [
            ("shape", len(self.shape) == 3 and self.shape[0] == 3, "(3, H, W): RGB images"),
            ("levels", self.levels == 256, "256 (8-bit images)"),
            ("channels", self.channels >= 1, "a positive integer"),
            ("code", self.code >= 1, "a positive integer"),
            ("bits", 1 <= self.bits <= 12, "in [1, 12]"),
            ("scales", 1 <= self.scales <= 4, "in [1, 4]"),
            ("target_bpp", self.target_bpp > 0, "a positive number of bits per pixel"),
            ("l1_weight", self.l1_weight >= 0, ">= 0"),
            ("adversarial_weight", self.adversarial_weight >= 0, ">= 0"),
            ("disc_channels", self.disc_channels >= 1, "a positive integer"),
            ("alpha_step", 0 < self.alpha_step < 1, "in (0, 1): alpha's relative change per batch"),
            ("quality", 0 <= self.quality < 256, "in [0, 255]"),
        ]
        check_fields(self, checks)


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


def widths(channels: int) -> list[int]:
    """Feature channels at 1, 1/2, 1/4, 1/8 and 1/16 resolution: halved per doubling of resolution
    (at least 4), so that full-resolution layers stay cheap on a CPU."""
    return [max(4, channels >> (4 - k)) if k < 4 else channels for k in range(5)]


def _branch(w: list[int], level: int) -> nn.Sequential:
    """The pyramid level at 1/2**level: [B, 3, h, w] -> [B, w[4], H/16, W/16] by strided convolutions."""
    layers: list[nn.Module] = [nn.Conv2d(3, w[level], 3, padding=1), _act()]
    for k in range(level, 4):
        layers += [nn.Conv2d(w[k], w[k + 1], 4, stride=2, padding=1), _act()]
    return nn.Sequential(*layers)


def _upsample(a: int, b: int) -> nn.Sequential:
    """A resize-convolution: nearest 2x upsampling, then a 3x3 convolution (no checkerboard)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(a, b, 3, padding=1), _act())


def _discriminator(width: int) -> nn.Sequential:
    """A patch discriminator: [B, 3, H, W] in [0, 1] -> logits [B, 1, H / 8, W / 8]."""
    return nn.Sequential(
        nn.Conv2d(3, width, 4, 2, 1), _act(),
        nn.Conv2d(width, 2 * width, 4, 2, 1), _act(),
        nn.Conv2d(2 * width, 2 * width, 4, 2, 1), _act(),
        nn.Conv2d(2 * width, 1, 3, 1, 1),
    )  # fmt: skip


class WaveOne(ImageCodec):
    Config = WaveOneConfig
    name = "codec-waveone"
    description = "WaveOne (Rippel & Bourdev 2017): pyramidal codec, bitplane coding, GAN loss, any target bpp"
    stride = 16

    def __init__(self, config: WaveOneConfig) -> None:
        super().__init__(config)
        c = config
        w = widths(c.channels)
        self.branches = nn.ModuleList(_branch(w, m) for m in range(c.scales))
        self.to_code = nn.Conv2d(c.channels, c.code, 3, padding=1)
        self.from_code = nn.Sequential(nn.Conv2d(c.code, c.channels, 3, padding=1), _act())
        self.ups = nn.ModuleList(_upsample(w[k + 1], w[k]) for k in (3, 2, 1, 0))
        self.heads = nn.ModuleList(nn.Conv2d(w[k], 3, 1) for k in reversed(range(c.scales)))
        self.discriminators = nn.ModuleList(_discriminator(c.disc_channels) for _ in range(3))
        self.register_buffer("alpha", torch.tensor(0.01, dtype=torch.float64))

    @property
    def top(self) -> int:
        return (1 << self.config.bits) - 1

    # -- networks ------------------------------------------------------------------------------
    def analyse(self, x: torch.Tensor) -> torch.Tensor:
        """Images [B, 3, H, W] in [0, 1] (H, W multiples of 16) -> code in [0, top], [B, code, H/16, W/16]."""
        features = sum(branch(F.avg_pool2d(x, 2**m) if m else x) for m, branch in enumerate(self.branches))
        return torch.sigmoid(self.to_code(features)) * self.top

    def synthesise(self, q: torch.Tensor) -> torch.Tensor:
        """Code [B, code, h, w] (values in [0, top]) -> images [B, 3, 16h, 16w], about [0, 1]."""
        h = self.from_code(q / self.top)
        image = None
        first_head = 4 - self.config.scales  # the heads sit on the last `scales` upsamplings
        for i, up in enumerate(self.ups):
            h = up(h)
            if i >= first_head:
                detail = self.heads[i - first_head](h)
                image = detail if image is None else F.interpolate(image, scale_factor=2, mode="bilinear") + detail
        return image + 0.5

    # -- training ------------------------------------------------------------------------------
    def codelength(self, q: torch.Tensor) -> torch.Tensor:
        """The paper's codelength proxy of a code [B, C, h, w], in bits per code value (a scalar)."""
        total = torch.log2(1 + q)
        for dy, dx in _NEIGHBOURS:
            shifted = torch.roll(q, shifts=(dy, dx), dims=(2, 3))
            total = total + torch.log2(1 + (q - shifted).abs())
        return total.mean()

    def estimate_bpp(self, q: torch.Tensor, pixels: int) -> float:
        """The bitplane coder's ideal rate of a batch of codes (tiled into one), in bits per pixel."""
        tiled = torch.cat(list(q.detach().round().long().cpu()), dim=-1).numpy()
        return bitplanes.estimate_bits(tiled, self.config.bits) / pixels

    def loss(self, x: torch.Tensor, *, generator: torch.Generator | None = None):
        """1 - MS-SSIM + l1 + alpha * codelength + GAN terms of uint8 crops [B, 3, H, W] (multiples
        of 16); metrics: bpp (estimated), ms_ssim, l1, alpha, and the GAN losses."""
        x = self.check_data(x).float() / 255
        y = self.analyse(x)
        q = y + (y.round() - y).detach()  # straight-through rounding
        x_hat = self.synthesise(q)
        similarity = ms_ssim(x_hat.clamp(0, 1), x, data_range=1.0).mean()
        l1 = (x_hat - x).abs().mean()
        length = self.codelength(q)
        bpp = self.estimate_bpp(q, x.shape[0] * x.shape[2] * x.shape[3])
        total = 1 - similarity + self.config.l1_weight * l1 + float(self.alpha) * length
        metrics = {"bpp": torch.tensor(bpp), "ms_ssim": similarity.detach(), "l1": l1.detach()}
        if self.training:
            self._steer(bpp, x.device)
            metrics["alpha"] = self.alpha.detach().float()
        if self.training and self.config.adversarial_weight > 0:
            real = [F.avg_pool2d(x, 2**s) if s else x for s in range(3)]
            fake = [F.avg_pool2d(x_hat, 2**s) if s else x_hat for s in range(3)]
            disc = adversarial = 0.0
            for d, r, f in zip(self.discriminators, real, fake, strict=True):
                real_logit, fake_logit = d(r), d(f.detach())
                disc = disc + F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
                disc = disc + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
                frozen = {k: v.detach() for k, v in d.named_parameters()}  # the generator's term trains no D
                gen_logit = torch.func.functional_call(d, frozen, (f,))
                adversarial = adversarial + F.binary_cross_entropy_with_logits(gen_logit, torch.ones_like(gen_logit))
            total = total + self.config.adversarial_weight * adversarial + disc
            metrics |= {"adversarial": adversarial.detach(), "disc": disc.detach()}
        return total, metrics

    def _steer(self, bpp: float, device: torch.device) -> None:
        """The adaptive codelength controller: alpha up ``alpha_step`` above the target rate, down
        below (the rate averaged over DDP ranks, so that every rank keeps the same alpha)."""
        rate = torch.tensor(bpp, dtype=torch.float64, device=device)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(rate)
            rate /= torch.distributed.get_world_size()
        step = 1 + self.config.alpha_step
        factor = step if float(rate) > self.config.target_bpp else 1 / step
        self.alpha.mul_(factor).clamp_(1e-5, 10.0)

    # -- coding ----------------------------------------------------------------------------------
    def _code(self, x: torch.Tensor) -> tuple[np.ndarray, tuple[int, int]]:
        prepared, pad = self.prepare(x)
        return self.analyse(prepared)[0].round().long().numpy(), pad

    @torch.no_grad()
    def compress(self, x: torch.Tensor, *, bpp: float | None = None) -> bytes:
        """A ``.utk`` file of the uint8 image ``x`` [1, C, H, W] of at most ``bpp`` bits per pixel
        (default: the model's ``target_bpp``); the header's bytes count in the budget."""
        target = self.config.target_bpp if bpp is None else bpp
        if not target > 0:
            raise ValueError(f"bpp must be a positive number of bits per pixel; got {bpp}")
        q, pad = self._code(x)
        header = self.header(x, pad)
        overhead = 8 * len(pack(header, [b""]))
        budget = int(target * x.shape[2] * x.shape[3]) - overhead
        stream, _ = bitplanes.encode(q, self.config.bits, max(budget, 0))
        return pack(header, [stream])

    @torch.no_grad()
    def decompress(self, data: bytes) -> torch.Tensor:
        """The uint8 image [1, C, H, W] of a ``.utk`` file made by this model."""
        header, streams, (h, w) = self.read(data)
        try:
            q = bitplanes.decode(streams[0], (self.config.code, h // 16, w // 16), self.config.bits)
        except bitplanes.BitplaneError as e:
            raise CodecFileError(f"the file's coded data is corrupt ({e})") from None
        x_hat = self.synthesise(torch.from_numpy(q).float()[None])
        return self.to_image(x_hat, header.channels, header.height, header.width)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, *, bpp: float | None = None) -> torch.Tensor:
        """What ``decompress(compress(x, bpp=bpp))`` gives (the same rate-controlled code)."""
        return self.decompress(self.compress(x, bpp=bpp))

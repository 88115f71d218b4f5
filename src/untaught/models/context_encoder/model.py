"""Context encoder (Pathak et al. 2016): fill a hole in an image from its surroundings.

``image with a hole (+ the mask as a 4th channel) -> convolutional encoder -> channel-wise fully
connected layer -> convolutional decoder -> the whole image``; only the pixels inside the hole are
used, pasted into the context. Training minimises

    reconstruction_weight * mean over hole pixels of (output - image)^2     (or its log per image)
  + adversarial_weight * -log D(filled image)              (the generator's adversarial term)
  + -log D(image) - log(1 - D(filled image))               (the discriminator's own loss)

in ONE loss for the engine's single optimizer: the discriminator's loss sees the filled image
detached (no gradient to the generator), and the generator's adversarial term calls the
discriminator with detached weights (``torch.func.functional_call``), so each network receives
only the gradient of its own objective. Validation and test measure the reconstruction term.

Layers: 4x4 stride-2 convolutions in the encoder (LeakyReLU 0.2, batch norm after the first), as
in the paper's DCGAN-style design, scaled down for a CPU. The decoder doubles the size by
resize-convolutions (nearest-neighbour upsampling, then a 3x3 convolution; ReLU and batch norm)
instead of the paper's transposed convolutions, whose uneven kernel overlap paints a checkerboard
into the fill (Odena, Dumoulin, Olah 2016). Batch norm pools its statistics over DDP ranks
(:class:`~untaught.nn.batchnorm.SyncBatchNorm2d`), so a DDP run follows the single-process run.
The channel-wise fully connected layer connects every position of the bottleneck to every other
position within each channel (``C * (hw)^2`` weights instead of ``(C hw)^2``), then a 1x1
convolution mixes the channels. With ``skips`` (not in the paper), each decoder layer also receives
the encoder's features of its input resolution (a U-Net: Ronneberger, Fischer, Brox 2015), so the
fill can continue the fine detail at the hole's border that the bottleneck has lost; the encoder
never sees the hole's pixels, so neither do the skips.

References:
    Pathak, Krähenbühl, Donahue, Darrell, Efros. Context Encoders: Feature Learning by Inpainting.
    CVPR 2016. https://arxiv.org/abs/1604.07379
    Odena, Dumoulin, Olah. Deconvolution and Checkerboard Artifacts. Distill 2016.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...nn.batchnorm import SyncBatchNorm2d
from ..base import Model, ModelConfig, check_fields
from .masks import MASKS, MaskKind, check_hole, make_masks

FILL = 0.5  # value of the hole pixels the encoder sees (mid-grey)


def random_mirror(u: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Images [B, C, H, W], each mirrored left-right with probability 1/2 (draws from ``generator``)."""
    flip = (torch.rand(len(u), generator=generator) < 0.5).to(u.device)
    return torch.where(flip[:, None, None, None], u.flip(-1), u)


class ChannelwiseLinear(nn.Module):
    """A fully connected layer over the spatial positions of each channel separately.

    [B, C, H, W] -> [B, C, H, W]: ``out[b, c] = W_c @ in[b, c] + b_c`` with ``W_c`` of size
    (H W) x (H W). Pathak et al. 2016, section 3.1.
    """

    def __init__(self, channels: int, positions: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(channels, positions, positions) / math.sqrt(positions))
        self.bias = nn.Parameter(torch.zeros(channels, positions))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, c, height, width = h.shape
        out = torch.einsum("cpq,bcq->bcp", self.weight, h.flatten(2)) + self.bias
        return out.view(b, c, height, width)


def hole_errors(out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: the sum of squared errors over the hole's pixels and channels, and their count ([B], [B])."""
    return (mask * (out - target) ** 2).sum((1, 2, 3)), mask.sum((1, 2, 3)) * out.shape[1]


def mse(sums: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all the batch's hole pixels, from :func:`hole_errors`."""
    return sums.sum() / counts.sum().clamp_min(1)


def log_mse(sums: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Mean over images of log(1e-5 + the image's MSE in its hole), from :func:`hole_errors`."""
    return torch.log(sums / counts.clamp_min(1) + 1e-5).mean()


# A convolution followed by batch norm has no bias: batch norm removes any constant, so its gradient
# would be zero up to rounding, and Adam would turn that rounding noise into full-size steps.
def _down(a: int, b: int, norm: bool) -> list[nn.Module]:
    return [nn.Conv2d(a, b, 4, 2, 1, bias=not norm), *([SyncBatchNorm2d(b)] if norm else []), nn.LeakyReLU(0.2)]


def _up(a: int, b: int, last: bool) -> list[nn.Module]:
    """Resize-convolution: [B, a, h, w] -> [B, b, 2h, 2w] (then batch norm and ReLU unless ``last``)."""
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(a, b, 3, 1, 1, bias=last)] + (
        [] if last else [SyncBatchNorm2d(b), nn.ReLU()]
    )


@dataclass
class ContextEncoderConfig(ModelConfig):
    """Context encoder hyperparameters.

    Attributes:
        mask: hole shape in training: 'center', 'block' or 'region' (see ``masks.py``).
        hole: side of the central hole in pixels (block squares have side hole // 2; region holes
            cover hole**2 pixels).
        channels: encoder channels, one 4x4 stride-2 convolution each (the decoder mirrors them);
            height and width must be divisible by 2 ** len(channels).
        disc_channels: discriminator channels (4x4 stride-2 convolutions, then a linear logit).
        reconstruction_weight, adversarial_weight: weights of the two generator terms
            (0.999 / 0.001 in the paper; adversarial_weight 0 trains without a discriminator).
        flip: in training, mirror each image left-right with probability 1/2 (augmentation).
        log_mse: the reconstruction term is the mean over images of log(MSE in the image's hole +
            1e-5), i.e. -ln(10) / 10 times the mean PSNR in the holes (capped at 50 dB), instead of the
            MSE over all hole pixels of the batch: the images whose fill is already good weigh as much
            as the hard ones, as in a mean of per-image PSNRs (not in the paper). The validation and
            test losses of the run are then this log-MSE (negative), not comparable with L2 runs'.
        skips: feed each decoder layer the encoder's features of the same resolution besides the
            previous layer's output (U-Net skip connections; not in the paper). ``encode`` then
            returns every encoder layer's features too (245,760 numbers for a 128x128 image with
            the default channels, against 4,096 for the bottleneck alone).
        mean_offset: add the logit of the context's mean colour (per image and channel) to the
            decoder's output logits, so the network learns the fill's departure from mean-fill
            instead of the absolute colour (not in the paper; without it, fills of flat regions
            came out visibly off the surrounding colour after 14 minutes of CPU training).
    """

    shape: tuple[int, ...] = (3, 128, 128)
    levels: int | None = 256
    mask: MaskKind = "center"
    hole: int = 64
    channels: tuple[int, ...] = (32, 64, 128, 128, 256)
    disc_channels: tuple[int, ...] = (32, 64, 128, 128)
    reconstruction_weight: float = 0.999
    adversarial_weight: float = 0.001
    flip: bool = True
    mean_offset: bool = True
    skips: bool = False
    log_mse: bool = False

    def __post_init__(self) -> None:
        check_fields(
            self,
            [
                ("shape", len(self.shape) == 3, "images (C, H, W)"),
                ("levels", self.levels is not None and self.levels >= 2, "the number of levels of the images"),
                ("mask", self.mask in MASKS, f"one of {MASKS}"),
            ],
        )
        check_hole(self.hole, self.shape[1], self.shape[2])
        scale = 2 ** max(len(self.channels), len(self.disc_channels))
        check_fields(
            self,
            [
                ("channels", bool(self.channels) and min(self.channels) >= 1, "one or more channel counts"),
                (
                    "disc_channels",
                    bool(self.disc_channels) and min(self.disc_channels) >= 1,
                    "one or more channel counts",
                ),
                (
                    "shape",
                    self.shape[1] % scale == 0 and self.shape[2] % scale == 0,
                    f"(C, H, W) with H, W divisible by {scale}",
                ),
                ("reconstruction_weight", self.reconstruction_weight > 0, "a positive weight"),
                ("adversarial_weight", self.adversarial_weight >= 0, "a weight >= 0"),
            ],
        )


class ContextEncoder(Model):
    """Context encoder over images ``config.shape`` with ``config.levels`` levels.

    ``inpaint(x, mask)``: uint8 [B, C, H, W] images and masks [B, 1, H, W] (1 = hole) -> uint8
    images with the hole filled and the context untouched.
    ``encode(x)``: the code of whole images (no hole), flattened: float [B, sum of ``code_shapes``'
    sizes] (the bottleneck's channels[-1] * h * w, then with skips every encoder layer's features).
    ``decode(z)``: codes -> predicted images, float [B, C, H, W] in [0, 1] (no context: the
    ``mean_offset`` is that of mid-grey, 0).
    """

    Config = ContextEncoderConfig
    name = "context-encoder"
    description = "Context encoder: inpainting with masked L2 + adversarial loss (Pathak et al. 2016)"
    config: ContextEncoderConfig

    def __init__(self, config: ContextEncoderConfig) -> None:
        super().__init__(config)
        c, h, w = config.shape
        chans = config.channels
        self.encoder = nn.ModuleList(
            nn.Sequential(*_down(a, b, norm=i > 0)) for i, (a, b) in enumerate(itertools.pairwise((c + 1, *chans)))
        )
        n = len(chans)
        self.bottleneck = (chans[-1], h >> n, w >> n)
        self.channelwise = ChannelwiseLinear(chans[-1], self.bottleneck[1] * self.bottleneck[2])
        self.mix = nn.Sequential(nn.Dropout(0.0), nn.Conv2d(chans[-1], chans[-1], 1), nn.ReLU())
        # the code: the bottleneck, then (with skips) the encoder's features, finest first
        self.code_shapes = [self.bottleneck] + (
            [(b, h >> (i + 1), w >> (i + 1)) for i, b in enumerate(chans)] if config.skips else []
        )
        ins, outs = tuple(reversed(chans)), (*reversed(chans[:-1]), c)
        self.decoder = nn.ModuleList(
            nn.Sequential(*_up(a * (2 if config.skips else 1), b, last=i == n - 1))
            for i, (a, b) in enumerate(zip(ins, outs, strict=True))
        )
        disc: list[nn.Module] = []
        for a, b in itertools.pairwise((c, *config.disc_channels)):
            disc += _down(a, b, norm=False)
        side = (h >> len(config.disc_channels)) * (w >> len(config.disc_channels))
        self.discriminator = nn.Sequential(*disc, nn.Flatten(), nn.Linear(config.disc_channels[-1] * side, 1))

    # -- pieces ------------------------------------------------------------------------------------
    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 levels [B, C, H, W] -> float intensities in [0, 1] in the weights' dtype."""
        x = self.check_data(x)
        return x.to(self.channelwise.weight.dtype) / (self.config.levels - 1)

    def masks(self, batch: int, generator: torch.Generator | None = None, kind: str | None = None) -> torch.Tensor:
        """Training masks of the configured kind (or ``kind``): float [batch, 1, H, W] on the model's device."""
        _, h, w = self.config.shape
        m = make_masks(kind or self.config.mask, batch, h, w, self.config.hole, generator)
        return m.to(device=self.channelwise.weight.device, dtype=self.channelwise.weight.dtype)

    def codes(self, u: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """The code of intensities ``u`` whose hole ``mask`` is hidden, shapes ``self.code_shapes``:
        the bottleneck [B, C', h, w], then (with skips) every encoder layer's output, finest first."""
        h = torch.cat([u * (1 - mask) + FILL * mask, mask], 1)
        skips = []
        for layer in self.encoder:
            h = layer(h)
            skips.append(h)
        return [self.mix(self.channelwise(h))] + (skips if self.config.skips else [])

    def logits(self, code: list[torch.Tensor]) -> torch.Tensor:
        """Decoder: the code's tensors -> output logits [B, C, H, W]."""
        h, skips = code[0], code[1:]
        for i, layer in enumerate(self.decoder):
            h = layer(torch.cat([h, skips[-1 - i]], 1) if skips else h)
        return h

    def predict(self, u: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The network's image [B, C, H, W] in [0, 1] for intensities ``u`` with hole ``mask``
        (with ``mean_offset``: the decoder's logits shifted by the logit of the context's mean colour)."""
        logits = self.logits(self.codes(u, mask))
        if self.config.mean_offset:
            keep = 1 - mask
            mean = (u * keep).sum((2, 3)) / keep.sum((2, 3)).clamp_min(1)  # [B, C], context pixels only
            logits = logits + torch.logit(mean.clamp(1e-3, 1 - 1e-3))[:, :, None, None]
        return torch.sigmoid(logits)

    def reconstruction_loss(self, out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error over the hole's pixels and channels: sum(mask * (out - target)^2) / (C * |hole|)."""
        return mse(*hole_errors(out, target, mask))

    def log_mse_loss(self, out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean over images of log(1e-5 + the image's MSE over its hole's pixels and channels)."""
        return log_mse(*hole_errors(out, target, mask))

    # -- protocol ----------------------------------------------------------------------------------
    def loss(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        u = self.inputs(x)
        if self.training and self.config.flip:
            u = random_mirror(u, generator)
        mask = self.masks(len(u), generator)
        out = self.predict(u, mask)
        errors = hole_errors(out, u, mask)  # once, for both the MSE and its per-image log
        recon = mse(*errors)
        fit = log_mse(*errors) if self.config.log_mse else recon
        total = self.config.reconstruction_weight * fit
        metrics = {"recon": recon.detach()}
        if self.training and self.config.adversarial_weight > 0:
            filled = u * (1 - mask) + out * mask
            real_logit = self.discriminator(u)
            fake_logit = self.discriminator(filled.detach())
            disc = F.binary_cross_entropy_with_logits(
                real_logit, torch.ones_like(real_logit)
            ) + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
            frozen = {k: v.detach() for k, v in self.discriminator.named_parameters()}
            gen_logit = torch.func.functional_call(self.discriminator, frozen, (filled,))
            adversarial = F.binary_cross_entropy_with_logits(gen_logit, torch.ones_like(gen_logit))
            total = total + self.config.adversarial_weight * adversarial + disc
            metrics |= {"adversarial": adversarial.detach(), "disc": disc.detach()}
        return total, metrics

    @torch.no_grad()
    def inpaint(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Fill the holes ``mask`` ([B, 1, H, W], nonzero = hole) of images ``x``: uint8 [B, C, H, W]."""
        u = self.inputs(x)
        if mask.shape != (u.shape[0], 1, *u.shape[2:]):
            raise ValueError(f"mask must have shape {(u.shape[0], 1, *u.shape[2:])}; got {tuple(mask.shape)}")
        m = (mask != 0).to(u.dtype)
        filled = u * (1 - m) + self.predict(u, m) * m
        out = (filled * (self.config.levels - 1)).round().clamp(0, self.config.levels - 1).to(torch.uint8)
        return torch.where(m.bool().expand_as(x), out, x.to(torch.uint8))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        u = self.inputs(x)
        return torch.cat([t.flatten(1) for t in self.codes(u, torch.zeros_like(u[:, :1]))], 1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        sizes = [math.prod(s) for s in self.code_shapes]
        if z.dim() != 2 or z.shape[1] != sum(sizes):
            raise ValueError(f"z must have shape (B, {sum(sizes)}) (the code of encode); got {tuple(z.shape)}")
        parts = z.to(self.channelwise.weight.dtype).split(sizes, 1)
        return torch.sigmoid(self.logits([t.view(len(z), *s) for t, s in zip(parts, self.code_shapes, strict=True)]))

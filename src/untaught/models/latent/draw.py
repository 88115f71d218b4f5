"""DRAW: Deep Recurrent Attentive Writer (Gregor et al. 2015).

A VAE whose encoder and decoder are LSTMs unrolled for T steps. At step t, with canvas
``c_{t-1}`` (logits) and error image ``x_hat = x - sigmoid(c_{t-1})``:

    r_t = read(x, x_hat, h_dec_{t-1})
    h_enc_t = LSTM_enc(h_enc_{t-1}, [r_t, h_dec_{t-1}])
    z_t ~ q(z_t | h_enc_t) = N(mu_t, sigma_t^2)           (prior p(z_t) = N(0, I))
    h_dec_t = LSTM_dec(h_dec_{t-1}, z_t)
    c_t = c_{t-1} + write(h_dec_t)

and ``p(x | z_1..T)`` is Bernoulli with logits ``c_T``. The loss is the negative ELBO,
``-log p(x | c_T) + sum_t KL(q(z_t | .) || N(0, I))``, in nats per image; ``log_prob`` is the IWAE
bound over whole sequences ``z_1..T`` (the importance weight is the product over steps).

Attention (``attention=True``): an N x N grid of Gaussian filters, placed by five numbers the
decoder emits: centre ``(g_X, g_Y)``, stride ``delta``, variance ``sigma^2`` and intensity
``gamma``; the filterbank ``F_X[i, a] ∝ exp(-(a - mu_X^i)^2 / (2 sigma^2))`` with
``mu_X^i = g_X + (i - N/2 - 1/2) delta`` is normalised over the image columns a (and ``F_Y``
likewise). read = ``gamma [F_Y x F_X^T, F_Y x_hat F_X^T]``; write = ``(1/gamma) F_Y^T w F_X``
for a patch w. Without attention, read is ``[x, x_hat]`` and write a linear map to the image.

References:
    Gregor, Danihelka, Graves, Rezende, Wierstra. DRAW: A Recurrent Neural Network For Image
    Generation. ICML 2015. https://arxiv.org/abs/1502.04623
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..base import ModelConfig, check_fields
from .bound import LatentVariableModel

LOG_2PI = math.log(2 * math.pi)


@dataclass
class DRAWConfig(ModelConfig):
    """DRAW hyperparameters (the paper's MNIST model: steps 64, 256-unit LSTMs, latent 100,
    read 2, write 5).

    Attributes:
        steps: T, the number of glimpses / canvas updates.
        encoder / decoder: LSTM sizes.
        latent: size of z_t at every step.
        attention: Gaussian read and write attention (else the whole image is read and written).
        read / write: N of the read and write filter grids (N x N glimpses and patches).
        iwae_k, eval_rows, eval_seed: as for the VAE (``log_prob`` is the IWAE bound).
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 2
    steps: int = 16
    encoder: int = 256
    decoder: int = 256
    latent: int = 100
    attention: bool = True
    read: int = 2
    write: int = 5
    iwae_k: int = 1
    eval_rows: int = 8192
    eval_seed: int = 0

    def __post_init__(self) -> None:
        if self.levels != 2 or len(self.shape) != 3:
            raise ValueError(
                f"DRAW models binary images (a Bernoulli canvas): shape (C, H, W) with levels 2; got shape "
                f"{tuple(self.shape)}, levels {self.levels} (use --binarize)"
            )
        names = ("steps", "encoder", "decoder", "latent", "read", "write", "iwae_k", "eval_rows")
        check_fields(self, [(name, getattr(self, name) >= 1, "an integer >= 1") for name in names])


def filterbank(centre: torch.Tensor, delta: torch.Tensor, log_var: torch.Tensor, n: int, size: int) -> torch.Tensor:
    """Gaussian filters along one image axis: [B, n, size], each row summing to 1 over the pixels.

    ``centre`` and ``delta`` [B] are in pixel units (pixels at positions 1..size); the filter i has
    mean ``centre + (i - n/2 - 1/2) delta`` (i = 1..n) and variance ``exp(log_var)``. The paper's
    normalisation ``Z_X = sum_a exp(-(a - mu^i)^2 / (2 sigma^2))`` makes each row a softmax.
    """
    i = torch.arange(1, n + 1, dtype=centre.dtype, device=centre.device)
    mu = centre.unsqueeze(1) + (i - n / 2 - 0.5) * delta.unsqueeze(1)  # [B, n]
    a = torch.arange(1, size + 1, dtype=centre.dtype, device=centre.device)
    return torch.softmax(-((a - mu.unsqueeze(2)) ** 2) / (2 * log_var.exp().view(-1, 1, 1)), dim=2)


class Attention(nn.Module):
    """Attention parameters from the decoder state: ``(g_X, g_Y, log sigma^2, log delta~, log gamma)``."""

    def __init__(self, hidden: int, n: int, height: int, width: int) -> None:
        super().__init__()
        self.n, self.height, self.width = n, height, width
        self.params = nn.Linear(hidden, 5)

    def filters(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """F_Y [B, N, H], F_X [B, N, W] and gamma [B] for decoder state h [B, hidden]."""
        gx, gy, log_var, log_delta, log_gamma = self.params(h).unbind(1)
        return self.filters_from(gx, gy, log_var, log_delta, log_gamma)

    def filters_from(
        self,
        gx: torch.Tensor,
        gy: torch.Tensor,
        log_var: torch.Tensor,
        log_delta: torch.Tensor,
        log_gamma: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The filterbanks for the paper's unconstrained parameters (each [B])."""
        h, w, n = self.height, self.width, self.n
        gx = (w + 1) / 2 * (gx + 1)
        gy = (h + 1) / 2 * (gy + 1)
        delta = (max(h, w) - 1) / max(n - 1, 1) * log_delta.exp()
        return filterbank(gy, delta, log_var, n, h), filterbank(gx, delta, log_var, n, w), log_gamma.exp()


def read_glimpse(image: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor) -> torch.Tensor:
    """``F_Y image F_X^T`` per channel: image [B, C, H, W], fy [B, N, H], fx [B, N, W] -> [B, C, N, N].

    Two batched matrix products over [B, ...] views, without broadcasting the filters per channel.
    """
    b, c, h, w = image.shape
    n = fy.shape[1]
    right = torch.bmm(image.reshape(b, c * h, w), fx.transpose(1, 2))  # [B, C*H, N]
    left = torch.bmm(fy, right.view(b, c, h, n).transpose(1, 2).reshape(b, h, c * n))  # [B, N, C*N]
    return left.view(b, n, c, n).transpose(1, 2)


def write_patch(patch: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor) -> torch.Tensor:
    """``F_Y^T patch F_X`` per channel: patch [B, C, N, N] -> [B, C, H, W]."""
    b, c, n, _ = patch.shape
    h, w = fy.shape[2], fx.shape[2]
    right = torch.bmm(patch.reshape(b, c * n, n), fx)  # [B, C*N, W]
    left = torch.bmm(fy.transpose(1, 2), right.view(b, c, n, w).transpose(1, 2).reshape(b, n, c * w))  # [B, H, C*W]
    return left.view(b, h, c, w).transpose(1, 2)


class DRAW(LatentVariableModel):
    """DRAW over binary images [C, H, W].

    ``loss(x)``: x uint8 [B, C, H, W] -> negative ELBO, nats per image (mean), with the
    reconstruction and KL as metrics. ``log_prob(x)`` -> [B] nats, the IWAE bound (lower bound).
    ``sample(n)`` -> uint8 [n, C, H, W]; ``canvases(n)`` -> the canvas sequence [T, n, C, H, W].
    """

    Config = DRAWConfig
    name = "draw"
    description = "DRAW: recurrent VAE with Gaussian read/write attention (Gregor et al. 2015)"
    config: DRAWConfig

    def __init__(self, config: DRAWConfig) -> None:
        super().__init__(config)
        c, h, w = config.shape
        if config.attention:
            read_size = 2 * c * config.read**2
            self.read_attention = Attention(config.decoder, config.read, h, w)
            self.write_attention = Attention(config.decoder, config.write, h, w)
            self.write_out = nn.Linear(config.decoder, c * config.write**2)
        else:
            read_size = 2 * config.dims
            self.write_out = nn.Linear(config.decoder, config.dims)
        self.encoder_cell = nn.LSTMCell(read_size + config.decoder, config.encoder)
        self.posterior = nn.Linear(config.encoder, 2 * config.latent)
        self.decoder_cell = nn.LSTMCell(config.latent, config.decoder)

    # -- read and write ------------------------------------------------------------------------------
    def read(self, x: torch.Tensor, error: torch.Tensor, h_dec: torch.Tensor) -> torch.Tensor:
        """The glimpse [B, read_size] of the image and the error image."""
        if not self.config.attention:
            return torch.cat([x.flatten(1), error.flatten(1)], 1)
        fy, fx, gamma = self.read_attention.filters(h_dec)
        glimpse = read_glimpse(torch.cat([x, error], 1), fy, fx)  # both images through the same filters
        return gamma.unsqueeze(1) * glimpse.flatten(1)

    def write(self, h_dec: torch.Tensor) -> torch.Tensor:
        """The canvas update [B, C, H, W] from the decoder state."""
        c, h, w = self.config.shape
        out = self.write_out(h_dec)
        if not self.config.attention:
            return out.view(-1, c, h, w)
        n = self.config.write
        fy, fx, gamma = self.write_attention.filters(h_dec)
        return write_patch(out.view(-1, c, n, n), fy, fx) / gamma.view(-1, 1, 1, 1)

    def _state(self, b: int, size: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = torch.zeros(b, size, dtype=like.dtype, device=like.device)
        return zeros, zeros

    # -- the recurrence ----------------------------------------------------------------------------------
    def unroll(self, x: torch.Tensor, eps: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the T steps on images x [B, C, H, W] (floats) with noise eps [T, B, latent].

        Returns the final canvas logits [B, C, H, W] and, per step, the posterior means and
        log-variances [T, B, latent] and the samples z [T, B, latent].
        """
        c = self.config
        b = len(x)
        canvas = torch.zeros_like(x)
        h_enc, c_enc = self._state(b, c.encoder, x)
        h_dec, c_dec = self._state(b, c.decoder, x)
        mus, log_vars, zs = [], [], []
        for t in range(c.steps):
            error = x - torch.sigmoid(canvas)
            r = self.read(x, error, h_dec)
            h_enc, c_enc = self.encoder_cell(torch.cat([r, h_dec], 1), (h_enc, c_enc))
            mu, log_var = self.posterior(h_enc).chunk(2, 1)
            log_var = log_var.clamp(-30.0, 20.0)
            z = mu + (0.5 * log_var).exp() * eps[t]
            h_dec, c_dec = self.decoder_cell(z, (h_dec, c_dec))
            canvas = canvas + self.write(h_dec)
            mus.append(mu)
            log_vars.append(log_var)
            zs.append(z)
        return {"canvas": canvas, "mu": torch.stack(mus), "log_var": torch.stack(log_vars), "z": torch.stack(zs)}

    def _noise(self, k: int, b: int, generator: torch.Generator | None) -> torch.Tensor:
        eps = torch.randn(self.config.steps, k * b, self.config.latent, generator=generator, dtype=torch.float32)
        return eps.to(device=next(self.parameters()).device, dtype=self._dtype())

    def log_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """For k sequences z_1..T per image: log p(x|z), log p(z), log q(z|x), each [k, B]; KL [k, B]."""
        b = len(x)
        xf = x.to(self._dtype()).repeat(k, 1, 1, 1)  # sample-major: row s * B + i
        eps = self._noise(k, b, generator)
        out = self.unroll(xf, eps)
        log_px = -F.binary_cross_entropy_with_logits(out["canvas"], xf, reduction="none").flatten(1).sum(1)
        log_pz = -0.5 * (out["z"].pow(2) + LOG_2PI).sum((0, 2))
        log_qz = -0.5 * (eps.pow(2) + LOG_2PI + out["log_var"]).sum((0, 2))
        kl = 0.5 * (out["mu"].pow(2) + out["log_var"].exp() - 1 - out["log_var"]).sum((0, 2))
        return {k_: v.view(k, b) for k_, v in {"log_px": log_px, "log_pz": log_pz, "log_qz": log_qz, "kl": kl}.items()}

    # -- protocol ----------------------------------------------------------------------------------------
    def loss(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Negative ELBO in nats per image (batch mean): reconstruction plus the summed per-step KLs."""
        self.check_data(x)
        t = self.log_weights(x, 1, generator)
        recon, kl = t["log_px"][0], t["kl"][0]
        loss = (kl - recon).mean()
        return loss, {"recon": recon.mean().detach(), "kl": kl.mean().detach()}

    @torch.no_grad()
    def canvases(self, n: int, *, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Generation: the canvas probabilities sigmoid(c_t) after every step, [T, n, C, H, W] in [0, 1]."""
        if n < 0 or temperature <= 0:
            raise ValueError(f"need n >= 0 and temperature > 0; got n={n}, temperature={temperature}")
        c = self.config
        like = torch.zeros((), dtype=self._dtype(), device=next(self.parameters()).device)
        canvas = torch.zeros(n, *c.shape, dtype=like.dtype, device=like.device)
        h_dec, c_dec = self._state(n, c.decoder, like)
        eps = self._noise(1, n, generator) * temperature
        frames = []
        for t in range(c.steps):
            h_dec, c_dec = self.decoder_cell(eps[t], (h_dec, c_dec))
            canvas = canvas + self.write(h_dec)
            frames.append(torch.sigmoid(canvas))
        return torch.stack(frames)

    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` binary images, uint8 [n, C, H, W]: z_t ~ N(0, temperature^2 I), x ~ Bernoulli(sigmoid(c_T))."""
        probs = self.canvases(n, generator=generator, temperature=temperature)[-1]
        u = torch.rand(probs.shape, generator=generator, dtype=torch.float64).to(probs.device)
        return (u < probs.double()).to(torch.uint8)

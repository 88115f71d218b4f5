"""Variational autoencoders: one model, pluggable networks (fully connected or convolutional) and
decoder likelihoods, trained on the ELBO (Kingma & Welling 2014) or the IWAE bound (Burda et al.
2016), with beta weighting the prior term (Higgins et al. 2017).

The generative model is ``p(z) = N(0, I)`` and ``p(x | z)`` a decoder likelihood over the data's
levels (:mod:`.likelihoods`); the encoder gives ``q(z | x) = N(mu(x), diag sigma(x)^2)``. With
``k`` samples ``z_i ~ q(z | x)`` and weights ``log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x)``:

* ELBO: ``E_q[log p(x | z)] - KL(q(z | x) || p(z))`` (the KL in closed form, the expectation by
  the mean over the k samples);
* IWAE bound: ``L_k = log (1/k) sum_i w_i``; ``L_1`` is an unbiased estimate of the ELBO,
  ``L_k <= L_{k+1} <= log p(x)`` in expectation, and ``L_k -> log p(x)`` as k grows.

``log_prob(x)`` returns ``L_k`` with ``k = iwae_k`` samples drawn from a fixed seed (so repeated
calls agree): a stochastic *lower bound* on ``log p(x)``, reported as such (``log_prob_kind``);
evaluation batches over images and samples, in chunks of ``eval_rows`` decoder rows.

References:
    Kingma, Welling. Auto-Encoding Variational Bayes. ICLR 2014. https://arxiv.org/abs/1312.6114
    Burda, Grosse, Salakhutdinov. Importance Weighted Autoencoders. ICLR 2016. https://arxiv.org/abs/1509.00519
    Higgins et al. beta-VAE. ICLR 2017.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..autoencoders.networks import conv_decoder, conv_encoder, mlp
from ..base import ModelConfig
from . import likelihoods
from .bound import LatentVariableModel
from .likelihoods import Likelihood

LOG_2PI = math.log(2 * math.pi)


@dataclass
class VAEConfig(ModelConfig):
    """VAE hyperparameters.

    Attributes:
        latent: dimension of z.
        network: 'mlp' (fully connected) or 'conv' (stride-2 convolutions and their transposes).
        hidden: hidden layer sizes of the MLP encoder (the decoder mirrors them).
        channels: channels of the convolutional encoder (the decoder mirrors them).
        likelihood: decoder likelihood: 'auto' (Bernoulli for binary data, discretised logistic for
            8-bit data, categorical otherwise), 'bernoulli', 'categorical' or 'logistic'.
        objective: 'elbo' or 'iwae' (the importance-weighted bound).
        k: samples of z per image in training (the IWAE's k; for the ELBO, Monte-Carlo samples).
        beta: weight of log p(z) - log q(z | x) (the KL for the ELBO); 1 = the true bound.
        iwae_k: importance samples of ``log_prob`` (validation, test, ``untaught eval --iwae-k``).
        eval_rows: most decoder rows (images x samples) evaluated at once by ``log_prob``.
        eval_seed: seed of ``log_prob``'s samples.
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 2
    latent: int = 20
    network: Literal["mlp", "conv"] = "mlp"
    hidden: tuple[int, ...] = (400,)
    channels: tuple[int, ...] = (32, 64)
    likelihood: Likelihood = "auto"
    objective: Literal["elbo", "iwae"] = "elbo"
    k: int = 1
    beta: float = 1.0
    iwae_k: int = 1
    eval_rows: int = 32768
    eval_seed: int = 0

    def __post_init__(self) -> None:
        likelihoods.resolve(self.likelihood, self.levels)
        if len(self.shape) != 3:
            raise ValueError(f"VAEs model images: shape must be (C, H, W); got {tuple(self.shape)}")
        checks = [
            ("latent", self.latent >= 1, "an integer >= 1"),
            ("network", self.network in ("mlp", "conv"), "'mlp' or 'conv'"),
            ("hidden", bool(self.hidden) and min(self.hidden) >= 1, "one or more positive layer sizes"),
            ("channels", bool(self.channels) and min(self.channels) >= 1, "one or more positive channel counts"),
            ("objective", self.objective in ("elbo", "iwae"), "'elbo' or 'iwae'"),
            ("k", self.k >= 1, "an integer >= 1 (samples of z per image)"),
            ("beta", self.beta >= 0, "a number >= 0"),
            ("iwae_k", self.iwae_k >= 1, "an integer >= 1 (importance samples)"),
            ("eval_rows", self.eval_rows >= 1, "an integer >= 1"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}; got {getattr(self, name)!r}")


class VAE(LatentVariableModel):
    """A VAE over images with ``config.levels`` levels.

    ``loss(x)``: x uint8 [B, C, H, W] -> the negative ELBO or IWAE bound, nats per image (mean).
    ``log_prob(x)`` -> [B] nats, the IWAE bound with ``iwae_k`` samples (a lower bound).
    ``encode(x)`` -> the posterior mean [B, latent]; ``decode(z)`` -> the mean of p(x | z) in [0, 1],
    [B, C, H, W]; ``sample(n)`` -> uint8 [n, C, H, W].
    """

    Config = VAEConfig
    name = "vae"
    description = "Variational autoencoder, ELBO (Kingma & Welling 2014); MLP or conv, beta"
    config: VAEConfig

    def __init__(self, config: VAEConfig) -> None:
        super().__init__(config)
        self.kind = likelihoods.resolve(config.likelihood, config.levels)
        self.params_per_pixel = likelihoods.params_per_pixel(self.kind, config.levels)
        c, h, w = config.shape
        out_shape = (c * self.params_per_pixel, h, w)
        if config.network == "mlp":
            self.encoder = mlp((config.dims, *config.hidden, 2 * config.latent), "relu", "linear")
            self.decoder = nn.Sequential(
                mlp((config.latent, *reversed(config.hidden), math.prod(out_shape)), "relu", "linear"),
                nn.Unflatten(1, out_shape),
            )
        else:
            self.encoder = conv_encoder(config.shape, config.channels, 2 * config.latent, "relu", "linear")
            self.decoder = conv_decoder(out_shape, config.channels, config.latent, "relu")

    # -- networks -----------------------------------------------------------------------------------
    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Levels -> floats in [0, 1] (flattened for the MLP)."""
        u = x.to(self._dtype()) / (self.config.levels - 1)
        return u.flatten(1) if self.config.network == "mlp" else u

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``q(z | x)``: mean and log-variance, each [B, latent]."""
        mu, log_var = self.encoder(self.inputs(x)).chunk(2, dim=1)
        return mu, log_var.clamp(-30.0, 20.0)

    def decoder_params(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder outputs for z [N, latent]: the likelihood's parameters [N, C, H, W, P]."""
        c, h, w = self.config.shape
        out = self.decoder(z)  # [N, P * C, H, W], channel index p * C + c
        return out.view(len(z), self.params_per_pixel, c, h, w).permute(0, 2, 3, 4, 1)

    def log_px(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``log p(x | z)`` in nats for z [k, B, latent] and x [B, C, H, W] -> [k, B].

        For the Bernoulli MLP decoder the data term ``sum_d x_d l_d`` of the logits ``l = W h + b``
        is computed as ``h . (W^T x) + b . x`` (once per image, not per sample and pixel); only
        ``sum_d softplus(l_d)`` needs every logit. Same value, a third less work per sample.
        """
        k, b = z.shape[:2]
        if self.kind == "bernoulli" and self.config.network == "mlp":
            body, last = self.decoder[0][:-2], self.decoder[0][-2]
            h = body(z.flatten(0, 1))  # [k * B, H]
            flat = x.flatten(1).to(h.dtype)  # [B, D]
            data = (h.view(k, b, -1) * (flat @ last.weight)).sum(-1) + flat @ last.bias
            return data - F.softplus(last(h)).sum(-1).view(k, b)
        params = self.decoder_params(z.flatten(0, 1)).view(k, b, *self.config.shape, self.params_per_pixel)
        return likelihoods.log_prob(self.kind, params, x, self.config.levels)

    def log_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """``k`` samples per image: log p(x|z), log p(z), log q(z|x), each [k, B], and the closed-form KL [B]."""
        mu, log_var = self.posterior(x)
        eps = torch.randn(k, *mu.shape, generator=generator, dtype=torch.float32).to(mu)
        std = (0.5 * log_var).exp()
        z = mu + std * eps  # [k, B, L]
        log_px = self.log_px(z, x)  # [k, B]
        log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
        log_qz = -0.5 * (eps.pow(2) + LOG_2PI + log_var).sum(-1)
        kl = 0.5 * (mu.pow(2) + log_var.exp() - 1 - log_var).sum(-1)
        return {"log_px": log_px, "log_pz": log_pz, "log_qz": log_qz, "kl": kl}

    # -- protocol -----------------------------------------------------------------------------------
    def loss(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Negative training bound in nats per image (batch mean), with the ELBO's terms as metrics."""
        self.check_data(x)
        c = self.config
        t = self.log_weights(x, c.k, generator)
        recon = t["log_px"].mean(0)
        elbo = recon - t["kl"]
        if c.objective == "iwae":
            log_w = t["log_px"] + c.beta * (t["log_pz"] - t["log_qz"])
            bound = torch.logsumexp(log_w, 0) - math.log(c.k)
        else:
            bound = recon - c.beta * t["kl"]
        loss = -bound.mean()
        return loss, {"elbo": elbo.mean().detach(), "recon": recon.mean().detach(), "kl": t["kl"].mean().detach()}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean of z, [B, latent]."""
        self.check_data(x)
        return self.posterior(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The mean of p(x | z) scaled to [0, 1], float [B, C, H, W]."""
        if z.dim() != 2 or z.shape[1] != self.config.latent:
            raise ValueError(f"z must have shape (B, {self.config.latent}) (the latent size); got {tuple(z.shape)}")
        return likelihoods.mean(self.kind, self.decoder_params(z.to(self._dtype())), self.config.levels)

    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images, uint8 [n, C, H, W]: z ~ N(0, temperature^2 I), then x ~ p(x | z) at ``temperature``."""
        if n < 0 or temperature <= 0:
            raise ValueError(f"need n >= 0 and temperature > 0; got n={n}, temperature={temperature}")
        z = temperature * torch.randn(n, self.config.latent, generator=generator, dtype=torch.float32)
        params = self.decoder_params(z.to(device=next(self.parameters()).device, dtype=self._dtype()))
        return likelihoods.sample(self.kind, params, self.config.levels, generator, temperature)


# -- registered variants: the same model with other defaults ------------------------------------------
@dataclass
class IWAEConfig(VAEConfig):
    """The VAE trained on the IWAE bound with k = 5 samples (Burda et al. 2016)."""

    objective: Literal["elbo", "iwae"] = "iwae"
    k: int = 5


class IWAE(VAE):
    Config = IWAEConfig
    name = "iwae"
    description = "Importance-weighted autoencoder (Burda et al. 2016): the VAE trained on the k-sample bound"


@dataclass
class ConvVAEConfig(VAEConfig):
    """The VAE with convolutional encoder and decoder."""

    network: Literal["mlp", "conv"] = "conv"


class ConvVAE(VAE):
    Config = ConvVAEConfig
    name = "conv-vae"
    description = "Variational autoencoder with convolutional encoder and decoder"

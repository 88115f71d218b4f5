"""Variational autoencoders: one model, pluggable networks (fully connected or convolutional) and
decoder likelihoods, trained on the ELBO (Kingma & Welling 2014) or the IWAE bound (Burda et al.
2016), with beta weighting the prior term (Higgins et al. 2017), and optionally an inverse
autoregressive flow posterior (Kingma et al. 2016).

The generative model is ``p(z) = N(0, I)`` and ``p(x | z)`` a decoder likelihood over the data's
levels (:mod:`.likelihoods`); the encoder gives ``q(z | x) = N(mu(x), diag sigma(x)^2)``. With
``k`` samples ``z_i ~ q(z | x)`` and weights ``log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x)``:

* ELBO: ``E_q[log p(x | z)] - KL(q(z | x) || p(z))`` (the KL in closed form, the expectation by
  the mean over the k samples);
* IWAE bound: ``L_k = log (1/k) sum_i w_i``; ``L_1`` is an unbiased estimate of the ELBO,
  ``L_k <= L_{k+1} <= log p(x)`` in expectation, and ``L_k -> log p(x)`` as k grows.

IAF posterior (``flow_steps`` = T >= 1, registered as ``iaf-vae``): the encoder also gives a
context ``h`` [B, flow_context], and ``z_0 = mu + sigma * eps`` goes through T MADE steps of the
flows package (``MaskedAutoregressive``, each reading ``h``, the order reversed between steps),
``z_t = (z_{t-1} - m_t) * exp(-s_t)`` with ``m_t, s_t`` of dimension d computed from the dimensions
before d, one pass per step. Then ``log q(z_T | x) = log N(eps; 0, I) - sum log sigma - sum_t log|det
dz_t / dz_{t-1}|`` with ``log|det dz_t / dz_{t-1}| = -sum s_t``; the KL of the ELBO has no closed form
any more and is estimated by the same samples, ``mean_i (log q(z_i | x) - log p(z_i))``.

``log_prob(x)`` returns ``L_k`` with ``k = iwae_k`` samples drawn from a fixed seed (so repeated
calls agree): a stochastic *lower bound* on ``log p(x)``, reported as such (``log_prob_kind``);
evaluation batches over images and samples, in chunks of ``eval_rows`` decoder rows.

References:
    Kingma, Welling. Auto-Encoding Variational Bayes. ICLR 2014. https://arxiv.org/abs/1312.6114
    Burda, Grosse, Salakhutdinov. Importance Weighted Autoencoders. ICLR 2016. https://arxiv.org/abs/1509.00519
    Higgins et al. beta-VAE. ICLR 2017.
    Kingma, Salimans, Jozefowicz, Chen, Sutskever, Welling. Improved Variational Inference with
    Inverse Autoregressive Flow. NeurIPS 2016. https://arxiv.org/abs/1606.04934
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..autoencoders.networks import PixelBias, conv_decoder, conv_encoder, mlp
from ..base import ModelConfig, check_fields
from ..flows.autoregressive import autoregressive_stack
from ..flows.transforms import Compose
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
        pixel_bias: the convolutional decoder ends with a learned bias per pixel and likelihood
            parameter (:class:`~untaught.models.autoencoders.networks.PixelBias`).
        likelihood: decoder likelihood: 'auto' (Bernoulli for binary data, discretised logistic for
            8-bit data, categorical otherwise), 'bernoulli', 'categorical' or 'logistic'.
        objective: 'elbo' or 'iwae' (the importance-weighted bound).
        k: samples of z per image in training (the IWAE's k; for the ELBO, Monte-Carlo samples).
        beta: weight of log p(z) - log q(z | x) (the KL for the ELBO); 1 = the true bound.
        iwae_k: importance samples of ``log_prob`` (validation, test, ``untaught eval --iwae-k``).
        eval_rows: most decoder rows (images x samples) evaluated at once by ``log_prob``.
        eval_seed: seed of ``log_prob``'s samples.
        flow_steps: IAF steps T of the posterior (0 = the diagonal Gaussian alone).
        flow_hidden: hidden layer sizes of each step's MADE.
        flow_context: size of the context h the encoder adds for the IAF steps (needs flow_steps >= 1).
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 2
    latent: int = 20
    network: Literal["mlp", "conv"] = "mlp"
    hidden: tuple[int, ...] = (400,)
    channels: tuple[int, ...] = (32, 64)
    pixel_bias: bool = True
    likelihood: Likelihood = "auto"
    objective: Literal["elbo", "iwae"] = "elbo"
    k: int = 1
    beta: float = 1.0
    iwae_k: int = 1
    eval_rows: int = 32768
    eval_seed: int = 0
    flow_steps: int = 0
    flow_hidden: tuple[int, ...] = (320, 320)
    flow_context: int = 0

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
            ("flow_steps", self.flow_steps >= 0, "an integer >= 0 (IAF steps; 0 = no flow)"),
            ("flow_hidden", bool(self.flow_hidden) and min(self.flow_hidden) >= 1, "one or more positive layer sizes"),
            ("flow_context", self.flow_context >= 0, "an integer >= 0"),
            ("flow_context", self.flow_steps >= 1 or self.flow_context == 0, "0 when flow_steps is 0 (no IAF)"),
        ]
        check_fields(self, checks)


class VAE(LatentVariableModel):
    """A VAE over images with ``config.levels`` levels.

    ``loss(x)``: x uint8 [B, C, H, W] -> the negative ELBO or IWAE bound, nats per image (mean).
    ``log_prob(x)`` -> [B] nats, the IWAE bound with ``iwae_k`` samples (a lower bound).
    ``encode(x)`` -> the posterior's centre [B, latent] (its mean; with an IAF, the flow applied to the
    base Gaussian's mean); ``decode(z)`` -> the mean of p(x | z) in [0, 1],
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
        encoded = 2 * config.latent + config.flow_context
        if config.network == "mlp":
            self.encoder = mlp((config.dims, *config.hidden, encoded), "relu", "linear")
            self.decoder = nn.Sequential(
                mlp((config.latent, *reversed(config.hidden), math.prod(out_shape)), "relu", "linear"),
                nn.Unflatten(1, out_shape),
            )
        else:
            self.encoder = conv_encoder(config.shape, config.channels, encoded, "relu", "linear")
            self.decoder = conv_decoder(out_shape, config.channels, config.latent, "relu")
            if config.pixel_bias:
                self.decoder.append(PixelBias(out_shape))
        # z -> z_0 (data -> noise, as the flows' IAF model); posterior draws run its one-pass inverse
        steps = autoregressive_stack(
            config.latent, config.flow_steps, config.flow_hidden, context=config.flow_context, inverted=True
        )
        self.posterior_flow = Compose(*steps) if steps else None

    # -- networks -----------------------------------------------------------------------------------
    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Levels -> floats in [0, 1] (flattened for the MLP)."""
        u = x.to(self._dtype()) / (self.config.levels - 1)
        return u.flatten(1) if self.config.network == "mlp" else u

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``q(z | x)``'s Gaussian: mean and log-variance, each [B, latent], and the IAF context h
        [B, flow_context] (empty without a flow)."""
        c = self.config
        mu, log_var, h = self.encoder(self.inputs(x)).split([c.latent, c.latent, c.flow_context], dim=1)
        return mu, log_var.clamp(-30.0, 20.0), h

    def reparameterize(
        self, mu: torch.Tensor, log_var: torch.Tensor, h: torch.Tensor, eps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior draws from base noise eps [k, B, latent]: z [k, B, latent] and log q(z | x) [k, B] (nats).

        ``z_0 = mu + sigma * eps``; with an IAF posterior z is ``z_0`` through the flow's one-pass
        direction, and its log|det dz/dz_0| is subtracted from ``log N(z_0; mu, sigma^2)``.
        """
        z = mu + (0.5 * log_var).exp() * eps
        log_qz = -0.5 * (eps.pow(2) + LOG_2PI + log_var).sum(-1)
        if self.posterior_flow is not None:
            k, b, d = eps.shape
            z, ladj = self.posterior_flow.inverse(z.reshape(k * b, d), h.expand(k, -1, -1).reshape(k * b, -1))
            z, log_qz = z.view(k, b, d), log_qz - ladj.view(k, b)
        return z, log_qz

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
        """``k`` samples per image: log p(x|z), log p(z), log q(z|x), each [k, B], and the KL [B]: in
        closed form for the Gaussian posterior, estimated from the k samples with an IAF."""
        mu, log_var, h = self.posterior(x)
        eps = torch.randn(k, *mu.shape, generator=generator, dtype=torch.float32).to(mu)
        z, log_qz = self.reparameterize(mu, log_var, h, eps)  # [k, B, L], [k, B]
        log_px = self.log_px(z, x)  # [k, B]
        log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
        if self.posterior_flow is None:
            kl = 0.5 * (mu.pow(2) + log_var.exp() - 1 - log_var).sum(-1)
        else:
            kl = (log_qz - log_pz).mean(0)
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
        """The posterior's centre, [B, latent]: its mean, or with an IAF the flow at eps = 0."""
        self.check_data(x)
        mu, log_var, h = self.posterior(x)
        return self.reparameterize(mu, log_var, h, torch.zeros_like(mu).unsqueeze(0))[0][0]

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


@dataclass
class IAFVAEConfig(VAEConfig):
    """The VAE with an IAF posterior: 2 MADE steps of hidden sizes (320, 320) reading a 20-d context."""

    flow_steps: int = 2
    flow_context: int = 20

    def __post_init__(self) -> None:
        if self.flow_steps < 1:
            raise ValueError(f"flow_steps must be >= 1 for iaf-vae (without a flow it is 'vae'); got {self.flow_steps}")
        super().__post_init__()


class IAFVAE(VAE):
    Config = IAFVAEConfig
    name = "iaf-vae"
    description = "VAE with an inverse autoregressive flow posterior (Kingma et al. 2016): MADE steps, order reversals"

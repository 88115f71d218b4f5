"""Latent-variable models that report honest bounds: VAE (ELBO), IWAE, convolutional VAE, IAF-VAE, DRAW.

``log_prob`` of every model here is the importance-weighted bound ``L_k`` (Burda et al. 2016), a
lower bound on log p(x); ``log_prob_kind`` says so, and ``untaught eval RUN --iwae-k 5000`` tightens it.
"""

from .draw import DRAW, DRAWConfig
from .vae import IAFVAE, IWAE, VAE, ConvVAE, ConvVAEConfig, IAFVAEConfig, IWAEConfig, VAEConfig

__all__ = [
    "DRAW",
    "IAFVAE",
    "IWAE",
    "VAE",
    "ConvVAE",
    "ConvVAEConfig",
    "DRAWConfig",
    "IAFVAEConfig",
    "IWAEConfig",
    "VAEConfig",
]

"""Autoencoders: bottleneck, convolutional, denoising, contractive, sparse, stacked."""

from .autoencoder import (
    Autoencoder,
    AutoencoderConfig,
    ContractiveAutoencoder,
    ConvAutoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
)

__all__ = [
    "Autoencoder",
    "AutoencoderConfig",
    "ContractiveAutoencoder",
    "ConvAutoencoder",
    "DenoisingAutoencoder",
    "SparseAutoencoder",
]

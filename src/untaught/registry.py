"""Names -> model classes. ``untaught models`` prints this table."""

from __future__ import annotations

import importlib

from .models.base import Model

# name -> "module:Class"; modules are imported on demand so the CLI starts fast.
_MODELS: dict[str, str] = {
    "made": "untaught.models.autoregressive.made:MADE",
    "pixelrnn": "untaught.models.autoregressive.pixelrnn:PixelRNN",
    "pixelsnail": "untaught.models.autoregressive.pixelsnail:PixelSNAIL",
    "wavenet": "untaught.models.autoregressive.wavenet:WaveNet",
    "pixel-transformer": "untaught.models.autoregressive.transformer:PixelTransformer",
    "cdf-flow": "untaught.models.flows.cdf:CDFFlow",
    "nice": "untaught.models.flows.realnvp:NICE",
    "realnvp": "untaught.models.flows.realnvp:RealNVP",
    "glow": "untaught.models.flows.glow:Glow",
    "flow++": "untaught.models.flows.flowpp:FlowPlusPlus",
    "maf": "untaught.models.flows.maf:MAF",
    "iaf": "untaught.models.flows.maf:IAF",
    "ffjord": "untaught.models.flows.continuous:FFJORD",
    "gated-pixelcnn": "untaught.models.autoregressive.gated_pixelcnn:GatedPixelCNN",
    "pixelcnn": "untaught.models.autoregressive.pixelcnn:PixelCNN",
    "pixelcnn++": "untaught.models.autoregressive.pixelcnn_pp:PixelCNNPP",
    "hierarchical-ar": "untaught.models.autoregressive.hierarchical:HierarchicalAR",
    "ae": "untaught.models.autoencoders.autoencoder:Autoencoder",
    "conv-ae": "untaught.models.autoencoders.autoencoder:ConvAutoencoder",
    "dae": "untaught.models.autoencoders.autoencoder:DenoisingAutoencoder",
    "cae": "untaught.models.autoencoders.autoencoder:ContractiveAutoencoder",
    "sparse-ae": "untaught.models.autoencoders.autoencoder:SparseAutoencoder",
    "stacked-ae": "untaught.models.autoencoders.stacked:StackedAutoencoder",
    "rbm-deep-ae": "untaught.models.autoencoders.rbm_deep:RBMDeepAutoencoder",
    "context-encoder": "untaught.models.context_encoder.model:ContextEncoder",
    "fvbn": "untaught.models.autoregressive.fvbn:FVBN",
    "nade": "untaught.models.autoregressive.nade:NADE",
    "rbm": "untaught.models.boltzmann.rbm:RBM",
    "sparse-coding": "untaught.models.sparse_coding.dictionary:SparseCoding",
    "psd": "untaught.models.sparse_coding.psd:PSD",
    "som": "untaught.models.som.som:SOM",
    "grbm": "untaught.models.boltzmann.gaussian:GaussianRBM",
    "rsm": "untaught.models.boltzmann.replicated:ReplicatedSoftmax",
    "dbm": "untaught.models.boltzmann.dbm:DBM",
    "full-bm": "untaught.models.boltzmann.full:FullBM",
    "pixel-histogram": "untaught.models.baselines.histogram:PixelHistogram",
    "histogram": "untaught.models.baselines.histogram:Histogram",
    "gaussian": "untaught.models.baselines.gaussian:Gaussian",
    "gmm": "untaught.models.baselines.gaussian:GaussianMixture",
    "vae": "untaught.models.latent.vae:VAE",
    "iwae": "untaught.models.latent.vae:IWAE",
    "conv-vae": "untaught.models.latent.vae:ConvVAE",
    "helmholtz": "untaught.models.latent.helmholtz:HelmholtzMachine",
    "iaf-vae": "untaught.models.latent.vae:IAFVAE",
    "draw": "untaught.models.latent.draw:DRAW",
    "codec-factorized": "untaught.models.compression.codec:FactorizedPriorCodec",
    "codec-hyperprior": "untaught.models.compression.codec:ScaleHyperpriorCodec",
    "codec-mean-scale": "untaught.models.compression.codec:MeanScaleHyperpriorCodec",
    "codec-waveone": "untaught.models.compression.waveone:WaveOne",
    "codec-msssim": "untaught.models.compression.codec:MSSSIMCodec",
}


def model_names() -> list[str]:
    return sorted(_MODELS)


def get_model_class(name: str) -> type[Model]:
    """The model class registered as ``name``; a clear error lists the known names otherwise."""
    try:
        target = _MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; expected one of: {', '.join(model_names())}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)

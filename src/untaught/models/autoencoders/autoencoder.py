"""One configurable autoencoder: fully connected or convolutional, with corruption and penalty.

``x -> corrupt -> encoder -> code z -> decoder -> reconstruction``, trained to reproduce the clean
``x``. The registered variants differ only in their defaults:

============  ==================================================================================
``ae``        fully connected bottleneck autoencoder (any depth)
``conv-ae``   convolutional autoencoder (stride-2 convolutions, mirrored transposed convolutions)
``dae``       denoising: gaussian, masking, salt-and-pepper or block corruption of the input
``cae``       contractive: ``+ weight * ||J_f(x)||_F^2`` (closed form for one sigmoid layer,
              batched ``torch.func`` Jacobian for deeper or convolutional encoders)
``sparse-ae`` sparse: ``+ weight * sum_j KL(target || mean_j)`` (or L1 on the codes)
============  ==================================================================================

Data: integer levels [B, C, H, W] are scaled to [0, 1] (``x / (levels - 1)``); continuous data
(``levels`` None) enter as they are and need the ``mse`` reconstruction. The loss is per example:
``bce`` = sum over dimensions of the binary cross-entropy between the clean input and the decoder's
sigmoid output (nats), ``mse`` = sum of squared errors; the penalty is added with ``penalty_weight``.
An autoencoder has no likelihood, so it has no ``log_prob``: the engine validates and evaluates it
by its mean loss on clean inputs.

References:
    Hinton, Salakhutdinov. Reducing the Dimensionality of Data with Neural Networks. Science 2006.
    Vincent et al. Extracting and Composing Robust Features with Denoising Autoencoders. ICML 2008.
    Rifai et al. Contractive Auto-Encoders: Explicit Invariance During Feature Extraction. ICML 2011.
    Ng. Sparse autoencoder. CS294A lecture notes, Stanford 2011.
    Masci, Meier, Ciresan, Schmidhuber. Stacked Convolutional Auto-Encoders. ICANN 2011.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from ..base import Model, ModelConfig, check_fields
from . import penalties
from .corruption import CORRUPTIONS, Corruption, corrupt
from .networks import ACTIVATIONS, Activation, conv_decoder, conv_encoder, mlp

Penalty = Literal["none", "contractive", "l1", "kl"]
PENALTIES = ("none", "contractive", "l1", "kl")


@dataclass
class AutoencoderConfig(ModelConfig):
    """Autoencoder hyperparameters.

    Attributes:
        arch: 'mlp' (fully connected) or 'conv' (convolutional; needs images [C, H, W]).
        hidden: mlp: sizes of the encoder's hidden layers (the decoder mirrors them); () = one layer.
        channels: conv: channels of the encoder's stride-2 convolutions.
        code: size of the code (bottleneck), >= 1.
        activation: nonlinearity of the hidden layers.
        code_activation: nonlinearity of the code ('sigmoid' for the closed-form contractive
            penalty and for the KL sparsity penalty).
        reconstruction: 'bce' (data in [0, 1], decoder outputs logits) or 'mse'.
        corruption: input corruption of denoising training (see ``corruption.py``).
        noise: the corruption level (standard deviation for gaussian, a probability otherwise).
        block: block size in pixels of the 'block' corruption.
        penalty: 'contractive', 'l1' (on the codes), 'kl' (to the target mean activation) or 'none'.
        penalty_weight: weight of the penalty in the loss.
        sparsity: target mean activation of the 'kl' penalty.
    """

    arch: Literal["mlp", "conv"] = "mlp"
    hidden: tuple[int, ...] = (256,)
    channels: tuple[int, ...] = (32, 64)
    code: int = 64
    activation: Activation = "relu"
    code_activation: Activation = "linear"
    reconstruction: Literal["bce", "mse"] = "bce"
    corruption: Corruption = "none"
    noise: float = 0.0
    block: int = 4
    penalty: Penalty = "none"
    penalty_weight: float = 0.0
    sparsity: float = 0.05

    def __post_init__(self) -> None:
        kind = "a standard deviation >= 0" if self.corruption == "gaussian" else "a probability in [0, 1]"
        check_fields(
            self,
            [
                ("code", isinstance(self.code, int) and self.code >= 1, "a code size >= 1"),
                ("arch", self.arch in ("mlp", "conv"), "'mlp' or 'conv'"),
                ("hidden", all(h >= 1 for h in self.hidden), "positive layer sizes"),
                ("activation", self.activation in ACTIVATIONS, f"one of {ACTIVATIONS}"),
                ("code_activation", self.code_activation in ACTIVATIONS, f"one of {ACTIVATIONS}"),
                ("reconstruction", self.reconstruction in ("bce", "mse"), "'bce' or 'mse'"),
                ("corruption", self.corruption in CORRUPTIONS, f"one of {CORRUPTIONS}"),
                ("penalty", self.penalty in PENALTIES, f"one of {PENALTIES}"),
                ("penalty_weight", self.penalty_weight >= 0, "a weight >= 0"),
                ("block", self.block >= 1, "a block size >= 1 pixel"),
                ("sparsity", 0 < self.sparsity < 1, "a target mean activation in (0, 1)"),
                ("noise", self.noise >= 0 and (self.corruption == "gaussian" or self.noise <= 1), kind),
            ],
        )
        conv, images = self.arch == "conv", len(self.shape) == 3
        check_fields(
            self,
            [
                (
                    "channels",
                    not conv or (bool(self.channels) and all(c >= 1 for c in self.channels)),
                    "one or more channel counts",
                ),
                ("shape", not conv or images, "images (C, H, W) for the convolutional autoencoder"),
                ("shape", self.corruption != "block" or images, "images (C, H, W) for block corruption"),
                (
                    "code_activation",
                    self.penalty != "kl" or self.code_activation == "sigmoid",
                    "'sigmoid' for the KL sparsity penalty",
                ),
                (
                    "levels",
                    self.reconstruction != "bce" or self.levels is not None,
                    "set (data in [0, 1]) for the bce reconstruction; use mse",
                ),
            ],
        )


class Autoencoder(Model):
    """An autoencoder over ``config.shape``.

    ``encode(x)``: data [B, *shape] -> codes float [B, code].
    ``decode(z)``: codes [B, code] -> reconstruction float [B, *shape] in data units ([0, 1] for
    integer levels: the decoder's mean intensity).
    ``loss(x)``: mean over the batch of reconstruction (nats for bce) + penalty_weight * penalty.
    """

    Config = AutoencoderConfig
    name = "ae"
    description = "Autoencoder with a bottleneck, fully connected of any depth (Hinton & Salakhutdinov 2006)"
    config: AutoencoderConfig

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__(config)
        c = config
        if c.arch == "mlp":
            d = c.dims
            self.encoder = mlp((d, *c.hidden, c.code), c.activation, c.code_activation)
            self.decoder = mlp((c.code, *reversed(c.hidden), d), c.activation, "linear")
        else:
            shape = tuple(c.shape)
            self.encoder = conv_encoder(shape, c.channels, c.code, c.activation, c.code_activation)
            self.decoder = conv_decoder(shape, c.channels, c.code, c.activation)

    # -- data ------------------------------------------------------------------------------------
    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Data [B, *shape] -> float inputs in data units (levels scaled to [0, 1]), in the weights' dtype."""
        x = self.check_data(x)
        dtype = next(self.parameters()).dtype
        if self.config.levels is None:
            return x.to(dtype)
        return x.to(dtype) / (self.config.levels - 1)

    def _encode_float(self, u: torch.Tensor) -> torch.Tensor:
        return self.encoder(u if self.config.arch == "conv" else u.flatten(1))

    def _decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder output before the output nonlinearity (logits for bce), shaped [B, *shape]."""
        return self.decoder(z).view(z.shape[0], *self.config.shape)

    # -- protocol ----------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self._encode_float(self.inputs(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.config.code:
            raise ValueError(f"z must have shape (B, {self.config.code}) (the code size); got {tuple(z.shape)}")
        out = self._decode_raw(z.to(next(self.parameters()).dtype))
        return torch.sigmoid(out) if self.config.reconstruction == "bce" else out

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """decode(encode(x)): float [B, *shape] in data units."""
        return self.decode(self.encode(x))

    def corrupt(self, u: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The configured corruption of float inputs ``u`` (a copy; ``u`` itself if there is none)."""
        c = self.config
        return corrupt(u, c.corruption, c.noise, block=c.block, generator=generator)

    def contractive_penalty(self, u: torch.Tensor, method: str = "auto") -> torch.Tensor:
        """||J_f(u)||_F^2 per example (``Tensor[B]``) of the encoder at float inputs ``u``.

        ``method``: 'closed' (one sigmoid layer only), 'batched' (torch.func, any encoder) or 'auto'
        (closed form where it applies).
        """
        closed_ok = self.config.arch == "mlp" and not self.config.hidden and self.config.code_activation == "sigmoid"
        if method not in ("auto", "closed", "batched"):
            raise ValueError(f"method must be 'auto', 'closed' or 'batched'; got {method!r}")
        if method == "closed" and not closed_ok:
            raise ValueError("the closed-form contractive penalty needs one sigmoid layer (hidden=(), sigmoid code)")
        if method == "closed" or (method == "auto" and closed_ok):
            return penalties.contractive_sigmoid(u.flatten(1), self.encoder[0])
        return penalties.contractive_batched(u, self._encode_float)

    def penalty(self, u: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The configured penalty per example, ``Tensor[B]``, at (corrupted) inputs ``u`` with codes ``z``."""
        kind = self.config.penalty
        if kind == "contractive":
            return self.contractive_penalty(u)
        if kind == "l1":
            return penalties.l1(z)
        if kind == "kl":
            return penalties.kl_sparsity(z, self.config.sparsity)
        return z.new_zeros(z.shape[0])

    def reconstruction_error(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-example reconstruction loss ``Tensor[B]`` of raw decoder output ``out`` against ``target``."""
        if self.config.reconstruction == "bce":
            per_dim = F.binary_cross_entropy_with_logits(out, target, reduction="none")
        else:
            per_dim = (out - target) ** 2
        return per_dim.flatten(1).sum(1)

    def loss(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Mean over the batch of reconstruction + penalty_weight * penalty.

        In training mode the encoder sees the corrupted input; the target is always the clean one.
        In eval mode (validation, test) there is no corruption.
        """
        clean = self.inputs(x)
        u = self.corrupt(clean, generator) if self.training else clean
        z = self._encode_float(u)
        out = self._decode_raw(z)
        recon = self.reconstruction_error(out, clean).mean()
        metrics = {"recon": recon.detach()}
        total = recon
        if self.config.penalty != "none":
            pen = self.penalty(u, z).mean()
            metrics["penalty"] = pen.detach()
            total = recon + self.config.penalty_weight * pen
        return total, metrics


# -- registered variants: the same model with other defaults --------------------------------------
@dataclass
class ConvAutoencoderConfig(AutoencoderConfig):
    arch: Literal["mlp", "conv"] = "conv"


@dataclass
class DenoisingAutoencoderConfig(AutoencoderConfig):
    corruption: Corruption = "masking"
    noise: float = 0.25


@dataclass
class ContractiveAutoencoderConfig(AutoencoderConfig):
    hidden: tuple[int, ...] = ()
    code_activation: Activation = "sigmoid"
    penalty: Penalty = "contractive"
    penalty_weight: float = 0.1


@dataclass
class SparseAutoencoderConfig(AutoencoderConfig):
    hidden: tuple[int, ...] = ()
    code_activation: Activation = "sigmoid"
    penalty: Penalty = "kl"
    penalty_weight: float = 1.0


class ConvAutoencoder(Autoencoder):
    Config = ConvAutoencoderConfig
    name = "conv-ae"
    description = "Convolutional autoencoder: stride-2 convolutions and mirrored transposed ones (Masci et al. 2011)"


class DenoisingAutoencoder(Autoencoder):
    Config = DenoisingAutoencoderConfig
    name = "dae"
    description = "Denoising autoencoder: gaussian, masking, salt-and-pepper or block corruption (Vincent et al. 2008)"


class ContractiveAutoencoder(Autoencoder):
    Config = ContractiveAutoencoderConfig
    name = "cae"
    description = "Contractive autoencoder: Frobenius norm of the encoder Jacobian as penalty (Rifai et al. 2011)"


class SparseAutoencoder(Autoencoder):
    Config = SparseAutoencoderConfig
    name = "sparse-ae"
    description = "Sparse autoencoder: KL divergence to a target mean activation, or L1 on the codes (Ng 2011)"

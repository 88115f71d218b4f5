"""Deep autoencoder pretrained as a stack of RBMs, unrolled, then fine-tuned by backpropagation.

Hinton & Salakhutdinov (2006): RBM k models the hidden probabilities of RBM k - 1 (the pixels for
k = 0, intensities in [0, 1] used as probabilities); once every RBM is trained, the stack is
unrolled into an encoder (``sigmoid(h W_k + c_k)`` upwards) and a decoder (``sigmoid(h W_kᵀ + b_k)``
downwards) whose initial weights are the RBMs', tied, and the whole autoencoder is fine-tuned on
the cross-entropy reconstruction error.

The RBMs are the Boltzmann family's :class:`~untaught.models.boltzmann.rbm.RBM` (not a second
implementation); they are trained here through the engine's loss with the contrastive-divergence
surrogate ``F(v_data) - F(v_model)``, whose gradient is the CD-k gradient (negative samples from
``k`` steps of the RBM's own block Gibbs sampler, started at the data). The unrolled weights are
``W_k + Δ`` with separate deltas for the encoder and the decoder, zero at the start of fine-tuning:
encoder and decoder start tied and are fine-tuned untied, and the pretrained RBMs themselves are kept
unchanged (frozen) during fine-tuning.

Schedule, by epoch like the stacked autoencoder's: ``pretrain_epochs`` per RBM, bottom first, then
fine-tuning. Validation and test (no epoch) measure the fine-tuning objective.

Difference from the paper: the code layer's RBM has binary (sigmoid) hidden units, not linear ones,
because the Boltzmann family has no RBM with Gaussian hidden units; the code is therefore in (0, 1).

References:
    Hinton, Salakhutdinov. Reducing the Dimensionality of Data with Neural Networks. Science 313, 2006.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..base import Model, ModelConfig, check_fields
from ..boltzmann.rbm import RBM, RBMConfig


@dataclass
class RBMDeepAutoencoderConfig(ModelConfig):
    """Hyperparameters.

    Attributes:
        hidden: layer sizes of the encoder, bottom first (the last is the code); 1000-500-250-30 as
            in Hinton & Salakhutdinov (2006).
        pretrain_epochs: epochs of contrastive divergence per RBM.
        k: Gibbs steps of CD-k.
        init_std: standard deviation of the RBMs' initial weights.
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 256
    hidden: tuple[int, ...] = (1000, 500, 250, 30)
    pretrain_epochs: int = 1
    k: int = 1
    init_std: float = 0.01

    def __post_init__(self) -> None:
        checks = [
            ("hidden", bool(self.hidden) and all(h >= 1 for h in self.hidden), "one or more layer sizes >= 1"),
            ("pretrain_epochs", self.pretrain_epochs >= 0, "an integer >= 0"),
            ("k", self.k >= 1, "an integer >= 1"),
            ("init_std", self.init_std > 0, "a positive number"),
            ("levels", self.levels is not None, "set: pixels are used as probabilities in [0, 1]"),
        ]
        check_fields(self, checks)


class RBMDeepAutoencoder(Model):
    """``encode(x)``: data [B, *shape] -> code [B, hidden[-1]] in (0, 1); ``decode(z)``: code ->
    intensities [B, *shape] in [0, 1]; ``rbm_up_down(x)``: the RBM stack's deterministic up-down pass."""

    Config = RBMDeepAutoencoderConfig
    name = "rbm-deep-ae"
    description = "Deep autoencoder pretrained as stacked RBMs, unrolled and fine-tuned (Hinton & Salakhutdinov 2006)"
    config: RBMDeepAutoencoderConfig

    def __init__(self, config: RBMDeepAutoencoderConfig) -> None:
        super().__init__(config)
        sizes = (config.dims, *config.hidden)
        self.rbms = nn.ModuleList(
            RBM(RBMConfig(shape=(a,), levels=2, hidden=b, k=config.k, persistent=False, init_std=config.init_std))
            for a, b in itertools.pairwise(sizes)
        )
        # fine-tuning deltas: zero, so the unrolled network starts exactly at the RBMs' weights
        self.encoder_delta = nn.ParameterList(nn.Parameter(torch.zeros(a, b)) for a, b in itertools.pairwise(sizes))
        self.encoder_bias_delta = nn.ParameterList(nn.Parameter(torch.zeros(b)) for b in sizes[1:])
        self.decoder_delta = nn.ParameterList(nn.Parameter(torch.zeros(a, b)) for a, b in itertools.pairwise(sizes))
        self.decoder_bias_delta = nn.ParameterList(nn.Parameter(torch.zeros(a)) for a in sizes[:-1])

    @property
    def layers(self) -> int:
        return len(self.config.hidden)

    def phase(self, epoch: int | None) -> int | None:
        """The RBM pretrained at ``epoch``, or None for fine-tuning (also when ``epoch`` is None)."""
        if epoch is None or not self.config.pretrain_epochs:
            return None
        layer = epoch // self.config.pretrain_epochs
        return layer if layer < self.layers else None

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Data [B, *shape] -> intensities [B, D] in [0, 1] (used as probabilities)."""
        x = self.check_data(x)
        return x.flatten(1).to(self.rbms[0].weight.dtype) / (self.config.levels - 1)

    # -- the RBM stack ---------------------------------------------------------------------------
    def rbm_up(self, u: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Mean-field pass up the RBM stack: hidden probabilities of RBM ``upto - 1`` (the top by default)."""
        for rbm in self.rbms[: self.layers if upto is None else upto]:
            u = rbm.hidden_probs(u)
        return u

    def rbm_up_down(self, x: torch.Tensor) -> torch.Tensor:
        """The RBM stack's deterministic up-down pass: hidden probabilities up to the top, visible
        probabilities back down. x [B, *shape] -> intensities [B, *shape]."""
        h = self.rbm_up(self.inputs(x))
        for rbm in reversed(self.rbms):
            h = rbm.visible_probs(h)
        return h.view(len(x), *self.config.shape)

    def pretrain_loss(self, x: torch.Tensor, layer: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """CD-k surrogate of RBM ``layer`` on the mean-field codes below it: mean F(data) - mean F(model
        samples), nats; its gradient reaches only that RBM's parameters."""
        rbm = self.rbms[layer]
        with torch.no_grad():
            v = self.rbm_up(self.inputs(x), upto=layer)
            negative = rbm.gibbs(v, self.config.k, generator)
        return rbm.free_energy(v).mean() - rbm.free_energy(negative).mean()

    # -- the unrolled autoencoder ------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self._encode(self.inputs(x))

    def _encode(self, u: torch.Tensor) -> torch.Tensor:
        h = u
        for k, rbm in enumerate(self.rbms):
            weight = rbm.weight.detach() + self.encoder_delta[k]
            h = torch.sigmoid(h @ weight + rbm.hidden_bias.detach() + self.encoder_bias_delta[k])
        return h

    def _decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        for k in reversed(range(self.layers)):
            rbm = self.rbms[k]
            weight = rbm.weight.detach() + self.decoder_delta[k]
            logits = h @ weight.T + rbm.visible_bias.detach() + self.decoder_bias_delta[k]
            h = torch.sigmoid(logits) if k else logits
        return h

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.config.hidden[-1]:
            raise ValueError(f"z must have shape (B, {self.config.hidden[-1]}) (the code size); got {tuple(z.shape)}")
        return torch.sigmoid(self._decode_logits(z.to(self.rbms[0].weight.dtype))).view(len(z), *self.config.shape)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """decode(encode(x)): intensities [B, *shape] in [0, 1]."""
        return self.decode(self.encode(x))

    def loss(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None, epoch: int | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        layer = self.phase(epoch)
        if layer is not None:
            value = self.pretrain_loss(x, layer, generator)
            return value, {"free_energy_gap": value.detach(), "layer": torch.tensor(float(layer))}
        u = self.inputs(x)
        logits = self._decode_logits(self._encode(u))
        value = F.binary_cross_entropy_with_logits(logits, u, reduction="none").sum(1).mean()
        mse = ((torch.sigmoid(logits) - u) ** 2).mean()
        return value, {"recon": value.detach(), "mse": mse.detach()}

"""Stacked autoencoder: greedy layer-wise pretraining, then supervised fine-tuning, in ONE engine run.

Layer k is an autoencoder of the codes of layers < k: ``h_k = act(W_k h_{k-1} + b_k)`` with its own
decoder ``act_out(W'_k h_k + c_k)``, trained to reconstruct ``h_{k-1}`` (optionally from a corrupted
copy: stacked denoising autoencoders) while the layers below are frozen. After every layer has been
pretrained, a softmax classifier head on the top code is added and the whole encoder stack is
fine-tuned with the labels (cross-entropy).

The schedule is a function of the epoch alone, so a resumed run continues in the right phase:
epochs ``[k * pretrain_epochs, (k + 1) * pretrain_epochs)`` pretrain layer k, later epochs
fine-tune. The engine hands ``loss`` the epoch and the batch's labels (``condition``). Called
without an epoch (validation, test, evaluation) the loss is the fine-tuning objective: the
validation numbers always measure the classifier, so ``--select best`` keeps a fine-tuned epoch.
Only the layer being pretrained receives gradients; Adam skips parameters without gradients, so
the other layers are left exactly as they were.

References:
    Bengio, Lamblin, Popovici, Larochelle. Greedy Layer-Wise Training of Deep Networks. NIPS 2006.
    Vincent, Larochelle, Lajoie, Bengio, Manzagol. Stacked Denoising Autoencoders. JMLR 11, 2010.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..base import Model, ModelConfig, check_fields
from .corruption import CORRUPTIONS, Corruption, corrupt
from .networks import ACTIVATIONS, Activation, activation


@dataclass
class StackedAutoencoderConfig(ModelConfig):
    """Stacked autoencoder hyperparameters.

    Attributes:
        hidden: sizes of the encoder layers, bottom first; the last is the code.
        activation: nonlinearity of every encoder layer.
        classes: outputs of the classifier head used in fine-tuning.
        pretrain_epochs: epochs of pretraining per layer (0 = no pretraining: a plain classifier).
        corruption, noise: corruption of each layer's input during pretraining (stacked denoising).
        dropout: dropout on every code during fine-tuning.
    """

    hidden: tuple[int, ...] = (500, 500, 200)
    activation: Activation = "sigmoid"
    classes: int = 10
    pretrain_epochs: int = 5
    corruption: Corruption = "masking"
    noise: float = 0.2
    dropout: float = 0.0

    def __post_init__(self) -> None:
        checks = [
            ("hidden", bool(self.hidden) and all(h >= 1 for h in self.hidden), "one or more layer sizes >= 1"),
            ("activation", self.activation in ACTIVATIONS, f"one of {ACTIVATIONS}"),
            ("classes", self.classes >= 2, "a number of classes >= 2"),
            ("pretrain_epochs", self.pretrain_epochs >= 0, "an integer >= 0"),
            ("corruption", self.corruption in CORRUPTIONS, f"one of {CORRUPTIONS}"),
            ("noise", self.noise >= 0 and (self.corruption == "gaussian" or self.noise <= 1), "a level in [0, 1]"),
            ("dropout", 0 <= self.dropout < 1, "a probability in [0, 1)"),
            ("levels", self.levels is not None, "set: the stacked autoencoder models images with levels"),
        ]
        check_fields(self, checks)


class StackedAutoencoder(Model):
    """Greedy layer-wise pretrained encoder with a classifier head.

    ``encode(x)``: data [B, *shape] -> top code [B, hidden[-1]].
    ``decode(z)``: top code -> intensities [B, *shape] in [0, 1] through the pretraining decoders.
    ``classify(x)``: data -> class logits [B, classes].
    ``loss(x, epoch=, condition=)``: the phase's objective (see the module docstring).
    """

    Config = StackedAutoencoderConfig
    name = "stacked-ae"
    description = "Stacked (denoising) autoencoder: greedy layer-wise pretraining, then supervised fine-tuning"
    needs_labels = True  # the engine refuses unlabelled data before it writes anything
    config: StackedAutoencoderConfig

    def __init__(self, config: StackedAutoencoderConfig) -> None:
        super().__init__(config)
        sizes = (config.dims, *config.hidden)
        self.encoders = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.decoders = nn.ModuleList(nn.Linear(b, a) for a, b in itertools.pairwise(sizes))
        self.head = nn.Linear(sizes[-1], config.classes)
        self.act = activation(config.activation)

    @property
    def layers(self) -> int:
        return len(self.config.hidden)

    def phase(self, epoch: int | None) -> int | None:
        """The layer pretrained at ``epoch``, or None for fine-tuning (also when ``epoch`` is None)."""
        if epoch is None:
            return None
        layer = epoch // self.config.pretrain_epochs if self.config.pretrain_epochs else self.layers
        return layer if layer < self.layers else None

    # -- network ---------------------------------------------------------------------------------
    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Data [B, *shape] -> float [B, D] in [0, 1]."""
        x = self.check_data(x)
        return x.flatten(1).to(self.head.weight.dtype) / (self.config.levels - 1)

    def codes(self, u: torch.Tensor, upto: int | None = None, dropout: float = 0.0) -> torch.Tensor:
        """The code of layer ``upto - 1`` (all layers by default) for float inputs ``u`` [B, D]."""
        h = u
        for layer in self.encoders[: self.layers if upto is None else upto]:
            h = F.dropout(self.act(layer(h)), dropout, self.training) if dropout else self.act(layer(h))
        return h

    def _reconstruct_layer(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """Decoder k's output before its output nonlinearity: the reconstruction of layer k's input."""
        return self.decoders[k](h)

    def _layer_error(self, k: int, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # inputs in [0, 1] (pixels, sigmoid codes): cross-entropy; other codes: squared error
        if k == 0 or self.config.activation == "sigmoid":
            return F.binary_cross_entropy_with_logits(out, target, reduction="none").sum(1)
        return ((out - target) ** 2).sum(1)

    # -- protocol ----------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.codes(self.inputs(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.config.hidden[-1]:
            raise ValueError(f"z must have shape (B, {self.config.hidden[-1]}) (the top code); got {tuple(z.shape)}")
        h = z.to(self.head.weight.dtype)
        for k in reversed(range(self.layers)):
            out = self._reconstruct_layer(k, h)
            h = torch.sigmoid(out) if k == 0 else self.act(out)
        return h.view(z.shape[0], *self.config.shape)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits [B, classes] of data ``x``."""
        return self.head(self.codes(self.inputs(x), dropout=self.config.dropout))

    def pretrain_loss(self, x: torch.Tensor, layer: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean reconstruction loss of layer ``layer`` on the (frozen) codes below it; only
        ``encoders[layer]`` and ``decoders[layer]`` take part in the graph."""
        with torch.no_grad():
            target = self.codes(self.inputs(x), upto=layer)
        c = self.config
        u = corrupt(target, c.corruption, c.noise, generator=generator) if self.training else target
        h = self.act(self.encoders[layer](u))
        return self._layer_error(layer, self._reconstruct_layer(layer, h), target).mean()

    def loss(
        self,
        x: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        epoch: int | None = None,
        condition: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        layer = self.phase(epoch)
        if layer is not None:
            value = self.pretrain_loss(x, layer, generator)
            return value, {"recon": value.detach(), "layer": torch.tensor(float(layer))}
        if condition is None or condition.numel() == 0 or int(condition.min()) < 0:
            raise ValueError(
                "stacked-ae fine-tuning needs labels (condition = class indices >= 0); the data given have "
                + ("none" if condition is None else "unlabelled examples (label -1)")
                + ": train on a labelled dataset"
            )
        if int(condition.max()) >= self.config.classes:
            raise ValueError(f"labels must be in [0, {self.config.classes}) (classes); got {int(condition.max())}")
        logits = self.classify(x)
        value = F.cross_entropy(logits, condition.to(logits.device).long())
        accuracy = (logits.argmax(1) == condition).to(logits.dtype).mean()
        return value, {"accuracy": accuracy.detach()}

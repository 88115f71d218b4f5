"""Encoder and decoder builders shared by the autoencoders: fully connected and convolutional.

The decoder mirrors the encoder: same hidden sizes (or channels) in reverse order, and for
convolutions transposed convolutions whose output padding restores every spatial size exactly
(28 -> 14 -> 7 -> 4 and back 4 -> 7 -> 14 -> 28), so any image size works.
"""

from __future__ import annotations

import itertools
from typing import Literal

import torch
from torch import nn

Activation = Literal["relu", "sigmoid", "tanh", "linear"]
ACTIVATIONS: tuple[str, ...] = ("relu", "sigmoid", "tanh", "linear")


def activation(name: str) -> nn.Module:
    """The activation layer called ``name`` (``linear`` = identity)."""
    layers = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "linear": nn.Identity}
    if name not in layers:
        raise ValueError(f"activation must be one of {ACTIVATIONS}; got {name!r}")
    return layers[name]()


def mlp(sizes: tuple[int, ...], act: str, last: str) -> nn.Sequential:
    """Linear layers ``sizes[0] -> sizes[1] -> ...``, ``act`` between them and ``last`` at the end."""
    layers: list[nn.Module] = []
    pairs = list(itertools.pairwise(sizes))
    for i, (a, b) in enumerate(pairs):
        layers += [nn.Linear(a, b), activation(last if i == len(pairs) - 1 else act)]
    return nn.Sequential(*layers)


def conv_sizes(size: int, layers: int) -> list[int]:
    """Spatial sizes after each stride-2, kernel-3, padding-1 convolution, input size first."""
    sizes = [size]
    for _ in range(layers):
        sizes.append((sizes[-1] - 1) // 2 + 1)
    return sizes


def conv_encoder(shape: tuple[int, ...], channels: tuple[int, ...], code: int, act: str, last: str) -> nn.Sequential:
    """Stride-2 3x3 convolutions over images ``shape`` = (C, H, W), then a linear layer to ``code``."""
    c, h, w = shape
    hs, ws = conv_sizes(h, len(channels)), conv_sizes(w, len(channels))
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise((c, *channels)):
        layers += [nn.Conv2d(a, b, 3, stride=2, padding=1), activation(act)]
    layers += [nn.Flatten(), nn.Linear(channels[-1] * hs[-1] * ws[-1], code), activation(last)]
    return nn.Sequential(*layers)


def conv_decoder(shape: tuple[int, ...], channels: tuple[int, ...], code: int, act: str) -> nn.Sequential:
    """The mirror of :func:`conv_encoder`: linear, then transposed convolutions back to ``shape``.

    Outputs are unbounded (logits or means); the caller applies the output nonlinearity.
    """
    c, h, w = shape
    hs, ws = conv_sizes(h, len(channels)), conv_sizes(w, len(channels))
    layers: list[nn.Module] = [
        nn.Linear(code, channels[-1] * hs[-1] * ws[-1]),
        activation(act),
        nn.Unflatten(1, (channels[-1], hs[-1], ws[-1])),
    ]
    outs = (*reversed(channels[:-1]), c)
    for i, (a, b) in enumerate(zip(reversed(channels), outs, strict=True)):
        k = len(channels) - 1 - i  # from spatial size index k + 1 back to k
        pad = (hs[k] - (2 * hs[k + 1] - 1), ws[k] - (2 * ws[k + 1] - 1))
        layers.append(nn.ConvTranspose2d(a, b, 3, stride=2, padding=1, output_padding=pad))
        if i < len(channels) - 1:
            layers.append(activation(act))
    return nn.Sequential(*layers)


class PixelBias(nn.Module):
    """A learned bias per output element, added to inputs [B, *shape]: the position-dependent offsets
    (an image's dark border, a garment's usual outline) that a convolution's per-channel bias cannot give."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias

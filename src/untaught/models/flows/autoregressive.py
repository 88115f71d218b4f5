"""Masked autoregressive transforms: MAF (one-pass density) and IAF (one-pass sampling).

A MADE network (``untaught.nn.MaskedLinear`` with MADE's masks from ``untaught.nn.made_masks``)
gives, for every dimension ``d``, a shift ``mu_d`` and a log-scale ``alpha_d`` that depend only on the
dimensions before ``d`` in the layer's order. The MAF layer maps data to noise in one pass,

    z_d = (x_d - mu_d(x_<d)) * exp(-alpha_d(x_<d)),        log|det dz/dx| = -sum_d alpha_d,

and inverts in D passes (each pass fixes one more dimension). IAF is the same layer run the other
way (``transforms.Inverse``): sampling in one pass, density in D passes. Stacks
(:func:`autoregressive_stack`) alternate orders (reversal or random permutations) between layers;
the MAF and IAF models and the IAF posterior of ``iaf-vae`` are such stacks.

References:
    Papamakarios, Pavlakou, Murray. Masked Autoregressive Flow for Density Estimation. NeurIPS 2017.
    https://arxiv.org/abs/1705.07057
    Kingma, Salimans, Jozefowicz, Chen, Sutskever, Welling. Improved Variational Inference with
    Inverse Autoregressive Flow. NeurIPS 2016. https://arxiv.org/abs/1606.04934
    Germain, Gregor, Murray, Larochelle. MADE. ICML 2015. https://arxiv.org/abs/1502.03509
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from ...nn import MaskedLinear, made_degrees, made_masks
from .transforms import Inverse, Pair, Permutation, Transform


class MaskedAutoregressive(Transform):
    """MAF layer over [B, D].

    Args:
        dims: D.
        hidden: MADE's hidden layer sizes (each >= D - 1 so that every dimension can be reached).
        order: ``order[d]`` = position of dimension d (default: natural order 0..D-1).
        context: size K of an optional context vector, fed (unmasked) to the first hidden layer.
    """

    def __init__(self, dims: int, hidden: tuple[int, ...], order: torch.Tensor | None = None, context: int = 0) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("hidden must hold at least one layer size")
        order = torch.arange(dims) if order is None else torch.as_tensor(order, dtype=torch.long)
        masks = made_masks(made_degrees(order, tuple(hidden), None), 2)
        sizes = (dims, *hidden)
        self.layers = nn.ModuleList(MaskedLinear(a, b) for a, b in itertools.pairwise(sizes))
        self.out = MaskedLinear(sizes[-1], 2 * dims)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.context = nn.Linear(context, hidden[0], bias=False) if context else None
        for i, mask in enumerate(masks[:-1]):
            self.register_buffer(f"mask{i}", mask.float())
        self.register_buffer("order", order)
        self.dims = dims

    def params(self, x: torch.Tensor, context: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Shift and log-scale [B, D] of every dimension, each from the dimensions before it."""
        h = x
        for i, layer in enumerate(self.layers):
            h = layer(h, getattr(self, f"mask{i}").to(h.dtype))
            if i == 0 and self.context is not None and context is not None:
                h = h + self.context(context)
            h = h.relu_()  # in place on a fresh output (as in the coupling MLP)
        out = self.out(h, getattr(self, f"mask{len(self.layers)}").to(h.dtype))
        shift, log_scale = out.view(x.shape[0], self.dims, 2).unbind(2)
        return shift, log_scale

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        shift, log_scale = self.params(x, context)
        return (x - shift) * torch.exp(-log_scale), -log_scale.sum(1)

    def inverse(self, z: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        x = torch.zeros_like(z)
        log_scale = torch.zeros_like(z)
        for _ in range(self.dims):  # pass k fixes the dimension at position k
            shift, log_scale = self.params(x, context)
            x = z * log_scale.exp() + shift
        return x, log_scale.sum(1)


def autoregressive_stack(
    dims: int,
    layers: int,
    hidden: tuple[int, ...],
    *,
    context: int = 0,
    inverted: bool = False,
    random_order: bool = False,
    order_seed: int = 0,
) -> list[Transform]:
    """``layers`` MAF layers over [B, D], data -> noise, ready for :class:`~.transforms.Compose`.

    Each layer is wrapped in :class:`~.transforms.Inverse` when ``inverted`` (IAF: one pass to
    sample, D passes for the density). Between consecutive layers the order is reversed, or with
    ``random_order`` permuted by a generator seeded with ``order_seed``. ``context``: size K of the
    context vector every layer reads (0 = none).
    """
    generator = torch.Generator().manual_seed(order_seed)
    pieces: list[Transform] = []
    for i in range(layers):
        layer = MaskedAutoregressive(dims, hidden, context=context)
        pieces.append(Inverse(layer) if inverted else layer)
        if i < layers - 1:
            order = torch.randperm(dims, generator=generator) if random_order else None
            pieces.append(Permutation.reverse(dims) if order is None else Permutation(order))
    return pieces

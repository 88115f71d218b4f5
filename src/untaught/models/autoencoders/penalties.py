"""Regularisers on an autoencoder's code: contractive (Jacobian) and sparsity penalties.

All return one value per example, ``Tensor[B]``, so that the loss can average them over the batch.

References:
    Rifai, Vincent, Muller, Glorot, Bengio. Contractive Auto-Encoders: Explicit Invariance During
    Feature Extraction. ICML 2011. (||J_f(x)||_F^2 and its closed form for a sigmoid layer)
    Ng. Sparse autoencoder. CS294A lecture notes, 2011. (KL divergence to a target activation)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def contractive_sigmoid(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """||J||_F^2 of ``h = sigmoid(layer(x))`` w.r.t. ``x`` in closed form, ``Tensor[B]``.

    ``dh_j/dx_i = h_j (1 - h_j) W_ji``, so ``||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ji^2``
    (Rifai et al. 2011, eq. 4). ``x``: [B, in_features].
    """
    h = torch.sigmoid(layer(x))
    return ((h * (1 - h)) ** 2) @ layer.weight.pow(2).sum(1)


def contractive_batched(x: torch.Tensor, encoder: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """||J||_F^2 of any encoder w.r.t. its input, per example, ``Tensor[B]``.

    The per-example Jacobian [code, *x.shape[1:]] comes from ``torch.func.jacrev`` vectorised over
    the batch with ``vmap`` (one reverse pass per code unit, batched), and stays differentiable, so
    the penalty can be trained. ``encoder`` must treat examples independently (no batch norm).
    """
    from torch.func import jacrev, vmap

    def one(xi: torch.Tensor) -> torch.Tensor:
        return encoder(xi.unsqueeze(0)).squeeze(0)

    jac = vmap(jacrev(one))(x)
    return jac.pow(2).flatten(1).sum(1)


def l1(z: torch.Tensor) -> torch.Tensor:
    """sum_j |z_j| per example: ``Tensor[B]`` for codes [B, K]."""
    return z.abs().sum(1)


def kl_sparsity(z: torch.Tensor, target: float, eps: float = 1e-6) -> torch.Tensor:
    """sum_j KL(target || mean activation of unit j) for codes ``z`` [B, K] in (0, 1).

    The mean activation is taken over the batch, so the value is one number for the whole batch,
    returned broadcast to ``Tensor[B]`` (its batch mean is the penalty).
    """
    rho = z.mean(0).clamp(eps, 1 - eps)
    kl = target * torch.log(target / rho) + (1 - target) * torch.log((1 - target) / (1 - rho))
    return kl.sum().expand(z.shape[0])

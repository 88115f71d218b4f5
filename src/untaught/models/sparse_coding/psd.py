"""Predictive sparse decomposition (Kavukcuoglu, Ranzato & LeCun 2008): sparse coding with an
encoder trained to predict the codes.

The loss of a signal x [N] with codes z [K] is

    L(x, z) = ½‖x − zD‖² + λ‖z‖₁ + α‖z − F(x)‖²,       F(x) = g ⊙ tanh(x Wᵀ + b)   (the paper's),

with unit-norm atoms (rows of D [K, N]), encoder weights W [K, N], biases b [K] and gains g [K];
or, with ``encoder="shrink"``, F(x) = g ⊙ shrink_θ(x Wᵀ) (soft thresholding at learned θ [K] ≥ 0,
stored in b: the one-layer encoder of Gregor & LeCun's LISTA), whose codes have exact zeros.
Training alternates, per minibatch: (1) the optimal codes z* = argmin_z L(x, z), a lasso over the
augmented dictionary [D | √(2α) I] and signal [x | √(2α) F(x)], solved by FISTA warm-started at
F(x); (2) a dictionary step on ½‖x − z*D‖² exactly as online sparse coding does (Mairal et al. 2009
statistics, see :mod:`.dictionary`); (3) an SGD step of the encoder on α‖z* − F(x)‖².

After training the encoder gives codes in one pass (``encode``: F(x), no iteration), and
``codes(x, init=F(x))`` solves the plain lasso ½‖x − zD‖² + λ‖z‖₁ warm-started at the
encoder's prediction, which needs fewer FISTA iterations than a cold start.

References:
    Kavukcuoglu, Ranzato, LeCun. Fast inference in sparse coding algorithms with applications to
    object recognition. Technical report CBLL-TR-2008-12-01, NYU, 2008 (arXiv:1010.3467).
    Mairal, Bach, Ponce, Sapiro. Online dictionary learning for sparse coding. ICML 2009.
    Gregor, LeCun. Learning fast approximations of sparse coding. ICML 2010.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..base import check_fields
from .dictionary import Reduce, SparseCoding, SparseCodingConfig, dictionary_step
from .solvers import fista, lasso_objective, shrink


@dataclass
class PSDConfig(SparseCodingConfig):
    """PSD hyperparameters: those of :class:`SparseCodingConfig` (online only) and

    Attributes:
        alpha: α > 0, the weight of the prediction error ‖z − F(x)‖².
        encoder: 'tanh' (g ⊙ tanh(Wx + b), the paper's) or 'shrink' (g ⊙ shrink_θ(Wx)).
        encoder_lr: SGD step of the encoder on the minibatch mean of α‖z* − F(x)‖².
        encoder_momentum: momentum of the encoder's SGD.
    """

    alpha: float = 1.0
    encoder: Literal["tanh", "shrink"] = "tanh"
    encoder_lr: float = 0.05
    encoder_momentum: float = 0.9

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(
            self,
            [
                ("algorithm", self.algorithm == "online", "'online' (PSD updates per minibatch)"),
                ("alpha", self.alpha > 0, "a positive number"),
                ("encoder", self.encoder in ("tanh", "shrink"), "'tanh' or 'shrink'"),
                ("encoder_lr", self.encoder_lr > 0, "a positive number"),
                ("encoder_momentum", 0 <= self.encoder_momentum < 1, "in [0, 1)"),
            ],
        )


class PSD(SparseCoding):
    """Predictive sparse decomposition of ``config.shape`` signals with ``config.atoms`` atoms.

    ``encode(x)``: the encoder's prediction F(x), x float [B, *shape] -> [B, K] in one pass;
    ``predict(v)`` the same on flat signals [B, N]; ``decode(z)`` -> zD [B, *shape];
    ``codes(v, init=...)`` the lasso codes by FISTA; ``loss(x)``: the mean PSD loss with the
    optimal codes (validation), with the prediction error as a metric.
    """

    Config = PSDConfig
    name = "psd"
    description = "Predictive sparse decomposition: sparse coding + tanh or shrinkage encoder predicting the codes"
    config: PSDConfig

    def __init__(self, config: PSDConfig) -> None:
        super().__init__(config)
        k, n = config.atoms, config.dims
        self.encoder_weight = nn.Parameter(torch.randn(k, n) / math.sqrt(n), requires_grad=False)
        start = 0.5 if config.encoder == "shrink" else 0.0  # the bias b (tanh) or the threshold θ (shrink)
        self.encoder_bias = nn.Parameter(torch.full((k,), start), requires_grad=False)
        self.encoder_gain = nn.Parameter(torch.ones(k), requires_grad=False)
        for name in ("encoder_weight", "encoder_bias", "encoder_gain"):
            self.register_buffer(f"velocity_{name}", torch.zeros_like(getattr(self, name)))

    def predict(self, v: torch.Tensor) -> torch.Tensor:
        """F(v): signals [B, N] -> predicted codes [B, K] (see the module)."""
        return self.encoder_gain * self._hidden(v)[1]

    def _hidden(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(pre, h), both [B, K]: pre = vWᵀ and h = tanh(pre + b) or shrink_θ(pre), θ = b."""
        pre = v @ self.encoder_weight.T
        if self.config.encoder == "tanh":
            return pre, torch.tanh(pre + self.encoder_bias)
        return pre, shrink(pre, self.encoder_bias, self.config.nonneg)

    def _activation(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(h, dh/dpre, dh/db) for F = g ⊙ h, all [B, K] (see :meth:`_hidden`)."""
        pre, h = self._hidden(v)
        if self.config.encoder == "tanh":
            slope = 1 - h * h
            return h, slope, slope
        slope = (h != 0).to(h.dtype)
        return h, slope, -slope * (1.0 if self.config.nonneg else torch.sign(pre))

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's codes in one pass: x float [B, *shape] -> [B, K]."""
        return self.predict(self.signals(x))

    def optimal_codes(self, v: torch.Tensor, prediction: torch.Tensor):
        """argmin_z ½‖v − zD‖² + λ‖z‖₁ + α‖z − F‖² for signals v [B, N] and predictions F [B, K]:
        the lasso over [D | √(2α) I] and [v | √(2α) F], warm-started at F."""
        c = self.config
        root = math.sqrt(2 * c.alpha)
        eye = torch.eye(c.atoms, dtype=v.dtype, device=v.device)
        augmented = torch.cat([self.dictionary, root * eye], dim=1)
        signal = torch.cat([v, root * prediction], dim=1)
        return fista(
            signal, augmented, c.lam, init=prediction, tol=c.tol, stop=c.stop, max_iter=c.max_iter, nonneg=c.nonneg
        )

    @torch.no_grad()
    def loss(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        """Mean PSD loss ½‖x − zD‖² + λ‖z‖₁ + α‖z − F(x)‖² per signal at the optimal codes, and the
        mean prediction error ‖z − F(x)‖² as ``prediction_error``."""
        v = self.signals(x)
        f = self.predict(v)
        z = self.optimal_codes(v, f).codes
        err = (z - f).pow(2).sum(1)
        total = lasso_objective(v, z, self.dictionary, self.config.lam) + self.config.alpha * err
        return total.mean(), {"prediction_error": err.mean()}

    @torch.no_grad()
    def step_signals(
        self, v: torch.Tensor, *, reduce: Reduce | None = None, epoch: int | None = None
    ) -> dict[str, float]:
        """One PSD step on signals v [B, N]: optimal codes, dictionary step, encoder SGD step."""
        c = self.config
        if not self.initialized:
            self._initialize(v, reduce)
        h, slope, slope_b = self._activation(v)
        f = self.encoder_gain * h
        result = self.optimal_codes(v, f)
        z = result.codes
        err = (z - f).pow(2).sum(1)
        objective = lasso_objective(v, z, self.dictionary, c.lam) + c.alpha * err
        # gradients of the mean of α‖z − F‖² with respect to the encoder's parameters
        df = 2 * c.alpha * (f - z) / len(v)
        grads = {"encoder_gain": (df * h).sum(0)}
        dg = df * self.encoder_gain
        grads["encoder_weight"] = (dg * slope).T @ v
        grads["encoder_bias"] = (dg * slope_b).sum(0)
        names = list(grads)
        metrics = torch.stack(
            [objective.mean(), err.mean(), (z != 0).sum(1).to(v.dtype).mean(), result.iterations.to(v.dtype).mean()]
        )
        flat = torch.cat([(z.T @ z).flatten(), (z.T @ v).flatten(), *(grads[n].flatten() for n in names), metrics])
        flat = self._reduce(flat, reduce)
        k, n = c.atoms, c.dims
        parts = flat.split([k * k, k * n, *(grads[m].numel() for m in names), 4])
        a, b = parts[0].view(k, k), parts[1].view(k, n)
        # dictionary: the online step of sparse coding
        self.updates += 1
        steps, eta = float(self.updates), float(len(v))
        theta = steps * eta if steps < eta else eta * eta + steps - eta
        beta = (theta + 1 - eta) / (theta + 1)
        self.stats_a.mul_(beta).add_(a)
        self.stats_b.mul_(beta).add_(b)
        self._set_dictionary(
            dictionary_step(self.dictionary, self.stats_a, self.stats_b, steps=c.dictionary_steps),
            rescale_statistics=True,
        )
        dead = self._reinitialize(v, z, reduce)
        # encoder: SGD with momentum
        for name, grad in zip(names, parts[2:-1], strict=True):
            param, velocity = getattr(self, name), getattr(self, f"velocity_{name}")
            velocity.mul_(c.encoder_momentum).add_(grad.view_as(param), alpha=-c.encoder_lr)
            param.add_(velocity)
        if c.encoder == "shrink":
            self.encoder_bias.clamp_(min=0)  # a threshold
        m = parts[-1]
        return {
            "objective": float(m[0]),
            "prediction_error": float(m[1]),
            "nonzero": float(m[2]),
            "iterations": float(m[3]),
            "reinitialized": float(dead),
        }

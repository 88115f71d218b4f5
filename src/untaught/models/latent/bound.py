"""The importance-weighted bound shared by the latent-variable models (VAE, IWAE, DRAW).

A model here gives, for ``k`` samples ``z_i ~ q(z | x)`` per image, ``log p(x | z_i)``,
``log p(z_i)`` and ``log q(z_i | x)`` (:meth:`LatentVariableModel.log_weights`); the bound
``L_k = log (1/k) sum_i p(x, z_i) / q(z_i | x)`` is a lower bound on ``log p(x)`` in expectation,
non-decreasing in k and tight as k grows (Burda et al. 2016). ``log_prob`` returns it with the
config's ``iwae_k`` samples from a fixed seed, as a "lower bound".

References:
    Burda, Grosse, Salakhutdinov. Importance Weighted Autoencoders. ICLR 2016. https://arxiv.org/abs/1509.00519
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

from ..base import Model


class LatentVariableModel(Model, ABC):
    """Base of models whose density is an importance-weighted bound.

    Configs carry ``iwae_k`` (samples of ``log_prob``), ``eval_rows`` (most images x samples per
    chunk) and ``eval_seed``.
    """

    log_prob_kind = "lower bound"

    @abstractmethod
    def log_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """``log_px``, ``log_pz``, ``log_qz`` for k samples per image, each [k, B] (nats)."""

    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def iwae_bound(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``L_k`` in nats per image, [B]: samples drawn in chunks of at most ``eval_rows`` rows.

        The chunks' log-sum-exps are combined exactly, so the result does not depend on the chunking.
        """
        if k < 1:
            raise ValueError(f"k (importance samples) must be >= 1; got {k}")
        per_chunk = max(1, self.config.eval_rows // max(1, len(x)))
        total = torch.full((len(x),), -math.inf, dtype=torch.float64, device=x.device)
        done = 0
        while done < k:
            m = min(per_chunk, k - done)
            t = self.log_weights(x, m, generator)
            log_w = (t["log_px"] + t["log_pz"] - t["log_qz"]).double()
            total = torch.logaddexp(total, torch.logsumexp(log_w, 0))
            done += m
        return (total - math.log(k)).to(self._dtype())

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The IWAE bound with ``iwae_k`` samples, [B] nats: a lower bound on log p(x)."""
        self.check_data(x)
        generator = torch.Generator().manual_seed(self.config.eval_seed)
        with torch.no_grad():
            return self.iwae_bound(x, self.config.iwae_k, generator)

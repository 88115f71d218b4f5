"""Gaussian-Bernoulli RBM: real-valued visible units with Gaussian noise, binary hidden units.

    E(v, h) = Σ_i (v_i - b_i)² / 2σ_i² - Σ_ij (v_i / σ_i) W_ij h_j - Σ_j c_j h_j

so ``p(v | h) = N(b + σ ⊙ W h, diag σ²)`` and ``p(h_j = 1 | v) = σ(c_j + (v/σ)·W_j)``: a mixture of
2^H Gaussians with shared diagonal covariance. σ is fixed (``config.sigma``, per Hinton's guide:
standardise the data and use σ = 1). Training, chains and everything else are the binary RBM's
(:mod:`.rbm`); log Z is exact for up to 20 hidden units (the visibles integrate out in closed form)
and an AIS estimate otherwise. ``log_prob`` is a density in nats for continuous data (``levels`` None).

References:
    Hinton, Salakhutdinov. Reducing the dimensionality of data with neural networks. Science 2006.
    Hinton. A practical guide to training restricted Boltzmann machines. UTML TR 2010-003 (section 13.2).
    Cho, Ilin, Raiko. Improved learning of Gaussian-Bernoulli RBMs. ICANN 2011.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...draws import draw
from ..base import require_continuous
from .ais import LogPartition, ais_gaussian_log_partition, exact_gaussian_log_partition
from .rbm import RBM, RBMConfig


@dataclass
class GaussianRBMConfig(RBMConfig):
    """Gaussian-Bernoulli RBM hyperparameters: the binary RBM's, for continuous data (``levels`` None),
    plus ``sigma``, the fixed standard deviation of every visible unit given the hiddens."""

    shape: tuple[int, ...] = (2,)
    levels: int | None = None
    hidden: int = 16
    learning_rate: float = 0.01
    momentum: float = 0.5  # 0.9 with persistent chains diverged on the 2-D toy densities
    sigma: float = 1.0

    def check_data_kind(self) -> None:
        require_continuous(self, "the Gaussian RBM", "moons")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be a positive number; got {self.sigma!r}")


class GaussianRBM(RBM):
    """Gaussian-Bernoulli RBM over continuous ``config.shape``.

    ``log_prob(x)``: x float [B, *shape] -> [B] nats (density; exact for H <= 20, else AIS);
    ``sample(n)`` -> float [n, *shape]; ``encode`` / ``decode`` as the binary RBM (decode gives E[v | h]).
    """

    Config = GaussianRBMConfig
    name = "grbm"
    description = "Gaussian-Bernoulli RBM for real-valued data, CD-k / PCD, exact or AIS log Z"
    config: GaussianRBMConfig

    def __init__(self, config: GaussianRBMConfig) -> None:
        super().__init__(config)
        self.register_buffer("sigma", torch.full((config.dims,), float(config.sigma)))

    def visible(self, x: torch.Tensor) -> torch.Tensor:
        """Continuous data x [B, *shape] -> float [B, D] in the weights' dtype."""
        return self.check_data(x).flatten(1).to(self.weight.dtype)

    def visible_energy(self, v: torch.Tensor) -> torch.Tensor:
        """Σ (v - b)² / 2σ²: v [B, D] -> [B]."""
        return (((v - self.visible_bias) / self.sigma) ** 2).sum(1) / 2

    def hidden_input(self, v: torch.Tensor) -> torch.Tensor:
        """c + (v / σ)·W: v [B, D] -> [B, H]."""
        return (v / self.sigma) @ self.weight + self.hidden_bias

    def weight_statistic(self, v: torch.Tensor) -> torch.Tensor:
        return v / self.sigma

    def visible_bias_statistic(self, v: torch.Tensor) -> torch.Tensor:
        """-∂E/∂b = (v - b) / σ²."""
        return (v - self.visible_bias) / self.sigma**2

    def visible_probs(self, h: torch.Tensor) -> torch.Tensor:
        """E[v | h] = b + σ ⊙ W h: h [B, H] -> [B, D]."""
        return self.visible_bias + self.sigma * (h @ self.weight.T)

    def sample_visible(
        self, h: torch.Tensor, generator: torch.Generator | None, temperature: float = 1.0
    ) -> torch.Tensor:
        """v ~ N(b + σ W h, T σ²) (p(v | h)^(1/T), normalised)."""
        mean = self.visible_probs(h)
        return mean + self.sigma * temperature**0.5 * self._noise(mean.shape, generator)

    def random_visible(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """Starting states: draws from N(b, σ²)."""
        return self.visible_bias + self.sigma * self._noise((n, self.config.dims), generator)

    def _noise(self, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
        return draw(torch.randn, shape, generator=generator, dtype=self.weight.dtype, device=self.weight.device)

    def as_data(self, v: torch.Tensor) -> torch.Tensor:
        return v

    def _enumerated_units(self) -> int:
        return self.config.hidden  # the visibles integrate out in closed form

    def _exact_log_partition(self) -> float:
        """log Z in nats, a sum over the 2^H hidden states (the visibles integrate out)."""
        return exact_gaussian_log_partition(self.weight, self.visible_bias, self.hidden_bias, self.sigma)

    def _ais_log_partition(self, chains: int, betas: int, generator: torch.Generator) -> LogPartition:
        """AIS from N(b, σ²)."""
        return ais_gaussian_log_partition(
            self.weight,
            self.visible_bias,
            self.hidden_bias,
            self.sigma,
            chains=chains,
            betas=betas,
            generator=generator,
        )

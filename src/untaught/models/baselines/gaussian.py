"""Maximum-likelihood parametric densities of continuous data: a Gaussian, and a mixture by EM.

* :class:`Gaussian`: ``N(mu, Sigma)`` with the sample mean and the (biased, maximum-likelihood)
  sample covariance, from sums accumulated batch by batch.
* :class:`GaussianMixture`: ``sum_k pi_k N(mu_k, Sigma_k)`` fitted by expectation-maximisation,
  one EM iteration per epoch: the E-step uses the parameters the epoch started with, its
  sufficient statistics are summed over the epoch's batches, and the M-step is recomputed after
  every batch, so that at the end of an epoch the parameters are exactly one batch-EM update.
  EM never decreases the training log-likelihood (Dempster, Laird & Rubin 1977); the metric
  ``train/loglik`` logs it under the parameters the epoch started with.

References:
    Dempster, Laird, Rubin. Maximum likelihood from incomplete data via the EM algorithm.
    JRSS B 39(1), 1977.
    Bishop. Pattern Recognition and Machine Learning, section 9.2, 2006.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ..base import Model, ModelConfig, check_fields, statistic


def _check_continuous(name: str, shape: tuple[int, ...], levels: int | None) -> None:
    if levels is not None or len(shape) != 1:
        raise ValueError(
            f"{name} models continuous vectors (shape (D,), levels None); got shape {tuple(shape)}, "
            f"levels {levels} (for images use pixel-histogram, or a dequantising model)"
        )


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``log N(x | mean_k, cov_k)`` in nats for x [B, D], mean [K, D], cov [K, D, D] -> [B, K]."""
    chol = torch.linalg.cholesky(cov)  # [K, D, D]
    diff = (x.unsqueeze(1) - mean).unsqueeze(-1)  # [B, K, D, 1]
    solved = torch.linalg.solve_triangular(chol.unsqueeze(0), diff, upper=False).squeeze(-1)
    log_det = 2 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    d = x.shape[1]
    return -0.5 * (solved.pow(2).sum(-1) + log_det + d * math.log(2 * math.pi))


def _sample_gaussians(
    mean: torch.Tensor, cov: torch.Tensor, which: torch.Tensor, temperature: float, generator: torch.Generator | None
) -> torch.Tensor:
    """One draw from component ``which[i]`` for each i; ``temperature`` scales the standard deviation."""
    eps = torch.randn(len(which), mean.shape[1], generator=generator, dtype=torch.float64)
    eps = eps.to(device=mean.device, dtype=mean.dtype)
    chol = torch.linalg.cholesky(cov)[which]
    return mean[which] + temperature * (chol @ eps.unsqueeze(-1)).squeeze(-1)


# -- one Gaussian ---------------------------------------------------------------------------------
@dataclass
class GaussianConfig(ModelConfig):
    """Maximum-likelihood Gaussian.

    Attributes:
        ridge: added to the covariance's diagonal (0 = the exact MLE; a little keeps it invertible).
    """

    shape: tuple[int, ...] = (2,)
    levels: int | None = None
    ridge: float = 1e-6

    def __post_init__(self) -> None:
        _check_continuous("gaussian", self.shape, self.levels)
        check_fields(self, [("ridge", self.ridge >= 0, ">= 0")])


class Gaussian(Model):
    """``N(mu, Sigma)`` fitted by maximum likelihood from sums over the training data.

    ``log_prob(x)``: x float [B, D] -> [B] nats, exact. ``sample(n)`` -> [n, D].
    """

    Config = GaussianConfig
    name = "gaussian"
    description = "Maximum-likelihood Gaussian (full covariance)"
    config: GaussianConfig

    def __init__(self, config: GaussianConfig) -> None:
        super().__init__(config)
        d = config.dims
        self.n = statistic(())
        self.sum = statistic(d)
        self.outer = statistic(d, d)

    def update(
        self, x: torch.Tensor, *, step: int = 0, generator: torch.Generator | None = None, reduce: Any = None
    ) -> dict[str, float]:
        """Add the batch's count, sum and sum of outer products (averaged across ranks by ``reduce``)."""
        self.check_data(x)
        reduce = reduce or (lambda v: v)
        x = x.to(self.sum.dtype)
        self.n.add_(reduce(torch.tensor(float(len(x)), dtype=x.dtype, device=x.device)))
        self.sum.add_(reduce(x.sum(0)))
        self.outer.add_(reduce(x.T @ x))
        return {"examples": float(len(x))}

    def mean_and_cov(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The fitted mean [D] and covariance [D, D] (ridge on the diagonal); N(0, I) before any data."""
        eye = torch.eye(self.sum.shape[0], dtype=self.sum.dtype, device=self.sum.device)
        if self.n.item() < 1:
            return torch.zeros_like(self.sum), eye
        mean = self.sum / self.n
        cov = self.outer / self.n - torch.outer(mean, mean)
        return mean, cov + self.config.ridge * eye

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density in nats, [B]."""
        self.check_data(x)
        mean, cov = self.mean_and_cov()
        return gaussian_log_prob(x.to(mean.dtype), mean.unsqueeze(0), cov.unsqueeze(0)).squeeze(1)

    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws [n, D]; ``temperature`` scales the standard deviation."""
        if n < 0 or temperature <= 0:
            raise ValueError(f"need n >= 0 and temperature > 0; got n={n}, temperature={temperature}")
        mean, cov = self.mean_and_cov()
        which = torch.zeros(n, dtype=torch.long, device=mean.device)
        return _sample_gaussians(mean.unsqueeze(0), cov.unsqueeze(0), which, temperature, generator)


# -- a mixture, by EM ---------------------------------------------------------------------------------
@dataclass
class GaussianMixtureConfig(ModelConfig):
    """Mixture of Gaussians fitted by EM (one iteration per epoch).

    Attributes:
        components: number of Gaussians K.
        ridge: added to every covariance's diagonal after the M-step (0 = the exact M-step).
    """

    shape: tuple[int, ...] = (2,)
    levels: int | None = None
    components: int = 8
    ridge: float = 1e-6

    def __post_init__(self) -> None:
        _check_continuous("gmm", self.shape, self.levels)
        check_fields(self, [("components", self.components >= 1, ">= 1"), ("ridge", self.ridge >= 0, ">= 0")])


class GaussianMixture(Model):
    """``sum_k pi_k N(mu_k, Sigma_k)`` by batch EM through the engine's ``update``.

    Initialisation (first batch): means at K distinct points of the batch drawn with the step's
    generator, every covariance the batch covariance, equal weights.

    ``log_prob(x)``: x float [B, D] -> [B] nats, exact. ``sample(n)`` -> [n, D].
    """

    Config = GaussianMixtureConfig
    name = "gmm"
    description = "Mixture of Gaussians by expectation-maximisation"
    config: GaussianMixtureConfig

    def __init__(self, config: GaussianMixtureConfig) -> None:
        super().__init__(config)
        k, d = config.components, config.dims
        # the current parameters (what log_prob uses)
        self.log_weights = statistic(k)
        self.log_weights.data.fill_(-math.log(k))  # before any data: K standard normals, equal weights
        self.means = statistic(k, d)
        self.covs = statistic(k, d, d)
        self.covs.data.copy_(torch.eye(d).expand(k, d, d))
        # the parameters the epoch's E-step uses, and the epoch's sufficient statistics
        self.e_log_weights = statistic(k)
        self.e_means = statistic(k, d)
        self.e_covs = statistic(k, d, d)
        self.resp = statistic(k)  # sum_i r_ik
        self.first = statistic(k, d)  # sum_i r_ik x_i
        self.second = statistic(k, d, d)  # sum_i r_ik x_i x_i^T
        self.epoch = statistic(())
        self.started = statistic(())  # 1 once initialised

    def _initialise(self, x: torch.Tensor, generator: torch.Generator | None, reduce: Any) -> None:
        k = self.config.components
        if len(x) < k:
            raise ValueError(f"the first batch has {len(x)} points; gmm needs at least components={k} to start")
        pick = torch.randperm(len(x), generator=generator)[:k].to(x.device)
        centred = x - x.mean(0)
        cov = centred.T @ centred / len(x) + self.config.ridge * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
        self.means.copy_(reduce(x[pick]))
        self.covs.copy_(reduce(cov).expand_as(self.covs))
        self.log_weights.fill_(-math.log(k))
        self.started.fill_(1)

    def update(
        self,
        x: torch.Tensor,
        *,
        step: int = 0,
        generator: torch.Generator | None = None,
        reduce: Any = None,
        epoch: int | None = None,
    ) -> dict[str, float]:
        """Add the batch's E-step statistics (under the epoch's starting parameters); redo the M-step."""
        self.check_data(x)
        reduce = reduce or (lambda v: v)
        x = x.to(self.means.dtype)
        epoch = 0 if epoch is None else int(epoch)
        if not self.started.item():
            self._initialise(x, generator, reduce)
            self.epoch.fill_(epoch - 1)
        if epoch != int(self.epoch.item()):  # a new EM iteration starts from the current parameters
            self.e_log_weights.copy_(self.log_weights)
            self.e_means.copy_(self.means)
            self.e_covs.copy_(self.covs)
            for stat in (self.resp, self.first, self.second):
                stat.zero_()
            self.epoch.fill_(epoch)
        joint = self.e_log_weights + gaussian_log_prob(x, self.e_means, self.e_covs)  # [B, K]
        loglik = torch.logsumexp(joint, 1)
        r = (joint - loglik.unsqueeze(1)).exp()
        self.resp.add_(reduce(r.sum(0)))
        self.first.add_(reduce(r.T @ x))
        self.second.add_(reduce(torch.einsum("bk,bi,bj->kij", r, x, x)))
        self._m_step()
        return {"loglik": float(loglik.mean())}

    def _m_step(self) -> None:
        alive = self.resp > 1e-10 * self.resp.sum()  # a component with no responsibility keeps its place
        n = self.resp.clamp(min=1e-300).unsqueeze(1)
        means = self.first / n
        covs = self.second / n.unsqueeze(2) - means.unsqueeze(2) * means.unsqueeze(1)
        covs = 0.5 * (covs + covs.transpose(1, 2))
        covs = covs + self.config.ridge * torch.eye(covs.shape[1], dtype=covs.dtype, device=covs.device)
        self.means.copy_(torch.where(alive.unsqueeze(1), means, self.e_means))
        self.covs.copy_(torch.where(alive.view(-1, 1, 1), covs, self.e_covs))
        self.log_weights.copy_(self.resp.clamp(min=1e-300).log() - self.resp.sum().log())

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density in nats, [B]."""
        self.check_data(x)
        x = x.to(self.means.dtype)
        return torch.logsumexp(self.log_weights + gaussian_log_prob(x, self.means, self.covs), 1)

    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws [n, D]: a component by its weight, then from it (``temperature`` scales the sd)."""
        if n < 0 or temperature <= 0:
            raise ValueError(f"need n >= 0 and temperature > 0; got n={n}, temperature={temperature}")
        weights = self.log_weights.double().exp().cpu()
        which = torch.multinomial(weights, n, replacement=True, generator=generator).to(self.means.device)
        return _sample_gaussians(self.means, self.covs, which, temperature, generator)

"""Deep Boltzmann machine with two hidden layers (Salakhutdinov & Hinton 2009).

    E(v, h¹, h²) = -v·W¹·h¹ - h¹·W²·h² - b·v - c¹·h¹ - c²·h²        (all units binary)

Given h¹, the visibles and h² are independent, and h¹ given both: block Gibbs alternates the two.
Training, as in the paper, in one engine run with the phase chosen by epoch:

1. ``pretrain_epochs`` of CD-1 on the first RBM with its bottom-up weights doubled (p(h¹|v) =
   σ(2 v·W¹ + c¹)), standing in for the missing top-down input;
2. ``pretrain_epochs`` of CD-1 on the second RBM over the first one's p(h¹|v), with its top-down
   weights doubled (p(h¹|h²) = σ(2 W² h² + a), ``a`` a bias used only here);
3. joint training: the data-dependent expectations from mean-field inference
   (μ¹ = σ(v·W¹ + W² μ² + c¹), μ² = σ(μ¹·W² + c²), ``mean_field_steps`` rounds, started bottom-up
   with doubled weights), the model's from persistent Gibbs chains, SGD with momentum and weight cost.

The likelihood: summing out v and h² given h¹ gives ``p*(h¹) = exp(c¹·h¹) Π_i (1 + e^{b_i + W¹_i·h¹})
Π_k (1 + e^{c²_k + h¹·W²_k})``, so log Z is exact by enumerating h¹ (H¹ <= 20) and otherwise an AIS
estimate over h¹ (from independent uniform units). ``log_prob`` is the mean-field variational
bound ``E_q[-E(v, h)] + H(q) - log Z <= log p(v)``: a lower bound (with an AIS log Z, an estimate of one).

References:
    Salakhutdinov, Hinton. Deep Boltzmann machines. AISTATS 2009.
    Salakhutdinov, Larochelle. Efficient learning of deep Boltzmann machines. AISTATS 2010.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..base import Model, ModelConfig
from .ais import LogPartition, _summarise, beta_schedule
from .units import bernoulli

Reduce = Callable[[torch.Tensor], torch.Tensor]
EXACT_LIMIT = 20


@dataclass
class DBMConfig(ModelConfig):
    """DBM hyperparameters (binary data: ``levels`` = 2).

    Attributes:
        hidden: sizes of the two hidden layers (H¹, H²).
        pretrain_epochs: epochs of greedy pretraining per layer (0: train jointly from the start).
        mean_field_steps: rounds of mean-field inference for the data-dependent statistics and the bound.
        chains: persistent Gibbs chains of the joint phase.
        learning_rate, momentum, momentum_start, momentum_warmup, weight_cost: SGD as for the RBM
            (the momentum warm-up counts joint-phase updates).
        log_z: 'auto' (exact when H¹ <= 20), 'exact' or 'ais'; ais_chains, ais_betas for log_prob.
        sample_steps: Gibbs steps from random states for :meth:`DBM.sample`.
        init_std: standard deviation of the initial weights.
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 2
    hidden: tuple[int, ...] = (500, 1000)
    pretrain_epochs: int = 5
    mean_field_steps: int = 10
    chains: int = 100
    learning_rate: float = 0.01
    momentum: float = 0.9
    momentum_start: float = 0.5
    momentum_warmup: int = 500
    weight_cost: float = 2e-4
    log_z: Literal["auto", "exact", "ais"] = "auto"
    ais_chains: int = 100
    ais_betas: int = 1000
    sample_steps: int = 1000
    init_std: float = 0.01

    def __post_init__(self) -> None:
        if self.levels != 2:
            raise ValueError(f"the DBM models binary data: levels must be 2 (train with --binarize); got {self.levels}")
        checks = [
            ("hidden", len(self.hidden) == 2 and min(self.hidden) >= 1, "two positive layer sizes, e.g. 500,1000"),
            ("pretrain_epochs", self.pretrain_epochs >= 0, "an integer >= 0"),
            ("mean_field_steps", self.mean_field_steps >= 1, "an integer >= 1"),
            ("chains", self.chains >= 1, "an integer >= 1"),
            ("learning_rate", self.learning_rate > 0, "a positive number"),
            ("momentum", 0 <= self.momentum < 1, "in [0, 1)"),
            ("momentum_start", 0 <= self.momentum_start < 1, "in [0, 1)"),
            ("weight_cost", self.weight_cost >= 0, "a number >= 0"),
            ("log_z", self.log_z in ("auto", "exact", "ais"), "'auto', 'exact' or 'ais'"),
            ("ais_chains", self.ais_chains >= 2, "an integer >= 2"),
            ("ais_betas", self.ais_betas >= 3, "an integer >= 3"),
            ("sample_steps", self.sample_steps >= 1, "an integer >= 1"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}; got {getattr(self, name)!r}")


class DBM(Model):
    """Two-layer deep Boltzmann machine over binary ``config.shape``.

    ``log_prob(x)``: x uint8 [B, *shape] -> [B] nats, the mean-field lower bound; ``sample(n)`` ->
    uint8 [n, *shape]; ``encode(x)`` -> the mean-field posterior of both layers, float [B, H¹ + H²].
    """

    Config = DBMConfig
    name = "dbm"
    description = "Deep Boltzmann machine (2 layers): pretraining, mean-field + PCD, AIS bound (Salakhutdinov 2009)"
    log_prob_kind = "lower bound"
    config: DBMConfig

    def __init__(self, config: DBMConfig) -> None:
        super().__init__(config)
        d, (h1, h2) = config.dims, config.hidden
        self.w1 = nn.Parameter(torch.randn(d, h1) * config.init_std)
        self.w2 = nn.Parameter(torch.randn(h1, h2) * config.init_std)
        self.b = nn.Parameter(torch.zeros(d))
        self.c1 = nn.Parameter(torch.zeros(h1))
        self.c2 = nn.Parameter(torch.zeros(h2))
        self.register_buffer("pretrain_bias", torch.zeros(h1))  # the second RBM's visible bias (phase 2 only)
        for name, p in self.named_parameters():
            self.register_buffer(f"velocity_{name}", torch.zeros_like(p))
        self.register_buffer("velocity_pretrain_bias", torch.zeros(h1))
        self.register_buffer("chain_v", torch.zeros(config.chains, d))
        self.register_buffer("chain_h2", torch.zeros(config.chains, h2))
        self.register_buffer("chain_ready", torch.zeros((), dtype=torch.bool))
        self.register_buffer("joint_steps", torch.zeros((), dtype=torch.long))
        self._log_z_cache: tuple[tuple, LogPartition] | None = None

    # -- conditionals ---------------------------------------------------------------------------------
    def visible(self, x: torch.Tensor) -> torch.Tensor:
        return self.check_data(x).flatten(1).to(self.w1.dtype)

    def h1_given(self, v: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
        """p(h¹ = 1 | v, h²): [B, H¹]."""
        return torch.sigmoid(v @ self.w1 + h2 @ self.w2.T + self.c1)

    def v_given(self, h1: torch.Tensor) -> torch.Tensor:
        """p(v = 1 | h¹): [B, D]."""
        return torch.sigmoid(h1 @ self.w1.T + self.b)

    def h2_given(self, h1: torch.Tensor) -> torch.Tensor:
        """p(h² = 1 | h¹): [B, H²]."""
        return torch.sigmoid(h1 @ self.w2 + self.c2)

    def mean_field(self, v: torch.Tensor, steps: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean-field posterior (μ¹ [B, H¹], μ² [B, H²]) of visibles v [B, D], started bottom-up with
        doubled weights (the pretraining's approximate inference)."""
        mu1 = torch.sigmoid(2 * (v @ self.w1) + self.c1)
        mu2 = self.h2_given(mu1)
        for _ in range(steps or self.config.mean_field_steps):
            mu1 = self.h1_given(v, mu2)
            mu2 = self.h2_given(mu1)
        return mu1, mu2

    def energy(self, v: torch.Tensor, h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
        """E(v, h¹, h²) for [B, D], [B, H¹], [B, H²] -> [B] (also for mean-field values)."""
        return -((v @ self.w1) * h1).sum(1) - ((h1 @ self.w2) * h2).sum(1) - v @ self.b - h1 @ self.c1 - h2 @ self.c2

    def log_unnormalised_h1(self, h1: torch.Tensor) -> torch.Tensor:
        """log p*(h¹) = c¹·h¹ + Σ_i softplus(b_i + W¹_i·h¹) + Σ_k softplus(c²_k + h¹·W²_k): [B, H¹] -> [B]."""
        return h1 @ self.c1 + F.softplus(h1 @ self.w1.T + self.b).sum(1) + F.softplus(h1 @ self.w2 + self.c2).sum(1)

    # -- training ------------------------------------------------------------------------------------------
    def phase(self, epoch: int) -> str:
        """'layer 1', 'layer 2' or 'joint' for this epoch."""
        p = self.config.pretrain_epochs
        return "layer 1" if epoch < p else "layer 2" if epoch < 2 * p else "joint"

    @torch.no_grad()
    def update(
        self, x: torch.Tensor, *, step: int, generator: torch.Generator | None, reduce: Reduce, epoch: int = 0
    ) -> dict[str, float]:
        """One update of this epoch's phase on x (binary levels [B, *shape]); returns its metrics."""
        return self.step_visible(self.visible(x), generator=generator, reduce=reduce, epoch=epoch)

    @torch.no_grad()
    def step_visible(
        self, v: torch.Tensor, *, generator: torch.Generator | None, reduce: Reduce | None = None, epoch: int = 0
    ) -> dict[str, float]:
        """:meth:`update` on float visible states v [B, D]."""
        phase = self.phase(epoch)
        if phase == "layer 1":  # RBM v - h¹ with bottom-up weights doubled
            ph = torch.sigmoid(2 * (v @ self.w1) + self.c1)
            neg = bernoulli(self.v_given(bernoulli(ph, generator)), generator)
            ph_neg = torch.sigmoid(2 * (neg @ self.w1) + self.c1)
            grads = {
                "w1": v.T @ ph / len(v) - neg.T @ ph_neg / len(v),
                "b": (v - neg).mean(0),
                "c1": (ph - ph_neg).mean(0),
            }
            recon = ((v - self.v_given(ph)) ** 2).mean()
        elif phase == "layer 2":  # RBM h¹ - h² over the first RBM's p(h¹ | v), top-down weights doubled
            data = torch.sigmoid(2 * (v @ self.w1) + self.c1)
            ph = self.h2_given(data)
            neg = bernoulli(torch.sigmoid(2 * (bernoulli(ph, generator) @ self.w2.T) + self.pretrain_bias), generator)
            ph_neg = self.h2_given(neg)
            grads = {
                "w2": data.T @ ph / len(v) - neg.T @ ph_neg / len(v),
                "pretrain_bias": (data - neg).mean(0),
                "c2": (ph - ph_neg).mean(0),
            }
            recon = ((data - torch.sigmoid(2 * (ph @ self.w2.T) + self.pretrain_bias)) ** 2).mean()
        else:
            grads, recon = self._joint_statistics(v, generator)
        names = list(grads)
        flat = torch.cat([grads[n].flatten() for n in names] + [recon[None]])
        flat = reduce(flat) if reduce is not None else flat
        parts = flat.split([grads[n].numel() for n in names] + [1])
        c = self.config
        joint = phase == "joint"
        momentum = c.momentum if joint and int(self.joint_steps) >= c.momentum_warmup else c.momentum_start
        for name, g in zip(names, parts, strict=False):
            target = getattr(self, name)
            g = g.view_as(target)
            if name in ("w1", "w2"):
                g = g - c.weight_cost * target
            velocity = getattr(self, f"velocity_{name}")
            velocity.mul_(momentum).add_(g, alpha=c.learning_rate)
            target.add_(velocity)
        if joint:
            self.joint_steps += 1
        return {"recon": float(parts[-1]), "phase": {"layer 1": 1.0, "layer 2": 2.0, "joint": 3.0}[phase]}

    def _joint_statistics(
        self, v: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Mean-field data statistics minus persistent-chain model statistics."""
        mu1, mu2 = self.mean_field(v)
        if not self.chain_ready:
            self.chain_v.copy_(bernoulli(torch.full_like(self.chain_v, 0.5), generator))
            self.chain_h2.copy_(bernoulli(torch.full_like(self.chain_h2, 0.5), generator))
            self.chain_ready.fill_(True)
        h1 = bernoulli(self.h1_given(self.chain_v, self.chain_h2), generator)
        cv = bernoulli(self.v_given(h1), generator)
        ch2 = bernoulli(self.h2_given(h1), generator)
        self.chain_v.copy_(cv)
        self.chain_h2.copy_(ch2)
        ph1 = self.h1_given(cv, ch2)  # Rao-Blackwellised: h¹'s probabilities given the new odd layers
        n, m = len(v), len(cv)
        grads = {
            "w1": v.T @ mu1 / n - cv.T @ ph1 / m,
            "w2": mu1.T @ mu2 / n - ph1.T @ ch2 / m,
            "b": v.mean(0) - cv.mean(0),
            "c1": mu1.mean(0) - ph1.mean(0),
            "c2": mu2.mean(0) - ch2.mean(0),
        }
        recon = ((v - self.v_given(mu1)) ** 2).mean()
        return grads, recon

    # -- likelihood ---------------------------------------------------------------------------------------
    def log_partition(
        self,
        method: Literal["exact", "ais"] | None = None,
        *,
        chains: int | None = None,
        betas: int | None = None,
        generator: torch.Generator | None = None,
    ) -> LogPartition:
        """log Z in nats: exact (sum over the 2^H¹ states of h¹) or AIS over h¹ (default: ``config.log_z``)."""
        c = self.config
        method = method or (
            "exact" if c.log_z == "exact" or (c.log_z == "auto" and c.hidden[0] <= EXACT_LIMIT) else "ais"
        )
        if method == "exact":
            value = self._exact_log_z()
            return LogPartition(value, value, value, 0.0)
        if method != "ais":
            raise ValueError(f"method must be 'exact' or 'ais'; got {method!r}")
        return self._ais(chains or c.ais_chains, betas or c.ais_betas, generator or torch.Generator().manual_seed(0))

    @torch.no_grad()
    def _exact_log_z(self) -> float:
        h1_units = self.config.hidden[0]
        if h1_units > 26:
            raise ValueError(f"exact log Z enumerates 2^{h1_units} states of h¹; at most 2^26 are allowed")
        total = []
        states = itertools.product((0.0, 1.0), repeat=h1_units)
        while True:
            block = list(itertools.islice(states, 1 << min(h1_units, 14)))
            if not block:
                break
            total.append(self.log_unnormalised_h1(torch.tensor(block, dtype=self.w1.dtype, device=self.w1.device)))
        return float(torch.logsumexp(torch.cat(total).double(), 0))

    @torch.no_grad()
    def _ais(self, chains: int, betas: int, generator: torch.Generator) -> LogPartition:
        """AIS over h¹ from independent uniform units, ``p*_β(h¹) = exp(β c¹·h¹) Π(1 + e^{β(b + W¹h¹)})
        Π(1 + e^{β(c² + h¹W²)})``, with Gibbs sweeps of the tempered DBM as transitions."""
        d, (h1_units, h2_units) = self.config.dims, self.config.hidden
        w1, w2, b, c1, c2 = (t.detach() for t in (self.w1, self.w2, self.b, self.c1, self.c2))
        log_z_base = (d + h1_units + h2_units) * math.log(2.0)

        def log_p(h1: torch.Tensor, beta: float) -> torch.Tensor:
            return (beta * (h1 @ c1) + F.softplus(beta * (h1 @ w1.T + b)).sum(1)
                    + F.softplus(beta * (h1 @ w2 + c2)).sum(1)).double()  # fmt: skip

        h1 = bernoulli(torch.full((chains, h1_units), 0.5, dtype=w1.dtype, device=w1.device), generator)
        log_w = torch.zeros(chains, dtype=torch.float64, device=w1.device)
        schedule = beta_schedule(betas).tolist()
        for prev, beta in itertools.pairwise(schedule):
            log_w += log_p(h1, beta) - log_p(h1, prev)
            if beta < 1.0:
                v = bernoulli(torch.sigmoid(beta * (h1 @ w1.T + b)), generator)
                h2 = bernoulli(torch.sigmoid(beta * (h1 @ w2 + c2)), generator)
                h1 = bernoulli(torch.sigmoid(beta * (v @ w1 + h2 @ w2.T + c1)), generator)
        return _summarise(log_w, log_z_base, betas)

    def _cached_log_z(self) -> float:
        key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in self.parameters())
        if self._log_z_cache is None or self._log_z_cache[0] != key:
            self._log_z_cache = (key, self.log_partition())
        return self._log_z_cache[1].log_z

    @torch.no_grad()
    def variational_bound(self, v: torch.Tensor) -> torch.Tensor:
        """E_q[-E(v, h)] + H(q) with q the mean-field posterior: float v [B, D] -> [B] nats (before log Z)."""
        mu1, mu2 = self.mean_field(v)
        return -self.energy(v, mu1, mu2) + bernoulli_entropy(mu1) + bernoulli_entropy(mu2)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Mean-field lower bound on log p(x) in nats; x binary uint8 [B, *shape] -> [B]."""
        return self.variational_bound(self.visible(x)) - self._cached_log_z()

    # -- generation and representation ---------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples after ``config.sample_steps`` Gibbs sweeps from random states: uint8 [n, *shape]."""
        if temperature <= 0:
            raise ValueError(f"temperature must be positive; got {temperature}")
        t = temperature
        d, (_, h2_units) = self.config.dims, self.config.hidden
        v = bernoulli(torch.full((n, d), 0.5, dtype=self.w1.dtype, device=self.w1.device), generator)
        h2 = bernoulli(torch.full((n, h2_units), 0.5, dtype=self.w1.dtype, device=self.w1.device), generator)
        for _ in range(self.config.sample_steps):
            h1 = bernoulli(torch.sigmoid((v @ self.w1 + h2 @ self.w2.T + self.c1) / t), generator)
            v = bernoulli(torch.sigmoid((h1 @ self.w1.T + self.b) / t), generator)
            h2 = bernoulli(torch.sigmoid((h1 @ self.w2 + self.c2) / t), generator)
        return v.to(torch.uint8).view(n, *self.config.shape)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Mean-field posterior of both hidden layers: x [B, *shape] -> float [B, H¹ + H²]."""
        return torch.cat(self.mean_field(self.visible(x)), 1)


def bernoulli_entropy(p: torch.Tensor) -> torch.Tensor:
    """Σ of the entropies (nats) of independent Bernoulli units with probabilities p [B, N] -> [B]."""
    return -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)).sum(1)

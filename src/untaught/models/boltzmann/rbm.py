"""Binary restricted Boltzmann machine trained by contrastive divergence (Hinton 2002) or PCD.

The energy of visible units ``v ∈ {0,1}^D`` and hidden units ``h ∈ {0,1}^H`` is

    E(v, h) = -v·W·h - b·v - c·h,        p(v, h) = exp(-E(v, h)) / Z,

so the layers are conditionally independent given each other,
``p(h_j = 1 | v) = σ(c_j + v·W_j)`` and ``p(v_i = 1 | h) = σ(b_i + W_i·h)``, and the hidden units
sum out in closed form into the free energy ``F(v) = -b·v - Σ_j softplus(c_j + v·W_j)``,
``p(v) = exp(-F(v)) / Z``.

Training follows Hinton's practical guide: the log-likelihood gradient
``⟨v hᵀ⟩_data - ⟨v hᵀ⟩_model`` with the model expectation taken from a block-Gibbs chain of
``k`` steps started at the data (CD-k) or carried on from the previous update (persistent CD,
Tieleman 2008); SGD with momentum, L2 weight decay and an optional sparsity target on the mean
hidden activity. The update runs through the shared engine as :meth:`RBM.update`; the persistent
chains, the momentum and the running statistics are module buffers, so checkpoints and resume carry
them, and the gradient statistics are averaged across DDP ranks by ``reduce`` (every rank runs the
same persistent chains with the same random numbers), so the ranks stay identical.

We chose an explicit update over a free-energy-difference loss trained by the engine's Adam because
it keeps the guide's procedure as it is (SGD with a momentum schedule and a weight cost, and a
sparsity penalty driven by a running average of the hidden activity, which is not the gradient of
the minibatch's loss) and matches scikit-learn's BernoulliRBM step for the comparison; reducing the
statistics keeps DDP exact all the same.

The visible units are hooks (``visible_energy``, ``hidden_input``, the statistics, ``sample_visible``)
that :mod:`.gaussian` (real-valued units) and :mod:`.replicated` (word counts) override; training,
chains and the rest are shared.

``log_prob`` is ``-F(v) - log Z``: log Z is exact (enumeration of the smaller layer) for small
models and an annealed-importance-sampling estimate otherwise (see :mod:`.ais`), recomputed only
when the weights change.

References:
    Hinton. Training products of experts by minimizing contrastive divergence. Neural Computation 2002.
    Tieleman. Training RBMs using approximations to the likelihood gradient. ICML 2008.
    Hinton. A practical guide to training restricted Boltzmann machines. UTML TR 2010-003.
    Salakhutdinov, Murray. On the quantitative analysis of deep belief networks. ICML 2008.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..base import LogProbKind, Model, ModelConfig, check_fields, require_binary
from .ais import LogPartition, LogZCache, ais_log_partition, exact_log_partition
from .units import bernoulli

Reduce = Callable[[torch.Tensor], torch.Tensor]
EXACT_LIMIT = 20  # enumerate 2^min(D, H) states for log Z when min(D, H) is at most this


@dataclass
class RBMConfig(ModelConfig):
    """Binary RBM hyperparameters (the data must be binary: ``levels`` = 2, e.g. ``--binarize``).

    Attributes:
        hidden: number of hidden units.
        k: Gibbs steps per update (CD-k / PCD-k).
        persistent: persistent chains (PCD) instead of chains restarted at the data (CD).
        chains: number of persistent chains (PCD only).
        learning_rate: SGD step on the mean gradient of a minibatch (the engine's --lr is Adam's and
            does not apply to CD).
        momentum: momentum of the parameter velocity; ``momentum_start`` is used for the first
            ``momentum_warmup`` updates (Hinton's guide: 0.5, then 0.9).
        weight_cost: L2 penalty coefficient on the weights.
        sparsity_target: desired mean activity of every hidden unit (None: no sparsity penalty);
            ``sparsity_cost`` scales the penalty's gradient, ``sparsity_decay`` the running mean.
        init_std: standard deviation of the initial weights.
        log_z: 'auto' (exact when 2^min(D, H) <= 2^20, else AIS), 'exact' or 'ais'.
        ais_chains, ais_betas: AIS runs and temperatures for log_prob's log Z.
        sample_steps: Gibbs steps from random states for :meth:`RBM.sample`.
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 2
    hidden: int = 500
    k: int = 1
    persistent: bool = True
    chains: int = 100
    learning_rate: float = 0.02
    momentum: float = 0.9
    momentum_start: float = 0.5
    momentum_warmup: int = 500
    weight_cost: float = 1e-4
    sparsity_target: float | None = None
    sparsity_cost: float = 0.1
    sparsity_decay: float = 0.95
    init_std: float = 0.01
    log_z: Literal["auto", "exact", "ais"] = "auto"
    ais_chains: int = 100
    ais_betas: int = 1000
    sample_steps: int = 1000

    def check_data_kind(self) -> None:
        require_binary(self, "the binary RBM")

    def __post_init__(self) -> None:
        self.check_data_kind()
        checks = [
            ("hidden", self.hidden >= 1, "an integer >= 1"),
            ("k", self.k >= 1, "an integer >= 1"),
            ("chains", self.chains >= 1, "an integer >= 1"),
            ("learning_rate", self.learning_rate > 0, "a positive number"),
            ("momentum", 0 <= self.momentum < 1, "in [0, 1)"),
            ("momentum_start", 0 <= self.momentum_start < 1, "in [0, 1)"),
            ("momentum_warmup", self.momentum_warmup >= 0, "an integer >= 0"),
            ("weight_cost", self.weight_cost >= 0, "a number >= 0"),
            ("sparsity_target", self.sparsity_target is None or 0 < self.sparsity_target < 1, "None or in (0, 1)"),
            ("sparsity_decay", 0 <= self.sparsity_decay < 1, "in [0, 1)"),
            ("init_std", self.init_std > 0, "a positive number"),
            ("log_z", self.log_z in ("auto", "exact", "ais"), "'auto', 'exact' or 'ais'"),
            ("ais_chains", self.ais_chains >= 2, "an integer >= 2"),
            ("ais_betas", self.ais_betas >= 3, "an integer >= 3"),
            ("sample_steps", self.sample_steps >= 1, "an integer >= 1"),
        ]
        check_fields(self, checks)


class CDStatistics(NamedTuple):
    """What one CD / PCD phase pair gives: gradient estimates ``grads`` (per parameter name),
    ``negative`` visible states [B', D], ``hidden`` p(h | data) [B, H], ``free_energy_gap`` (nats)."""

    grads: dict[str, torch.Tensor]
    negative: torch.Tensor
    hidden: torch.Tensor
    free_energy_gap: torch.Tensor


class RBM(Model):
    """Binary RBM over ``config.shape`` (binary data) with ``config.hidden`` hidden units.

    ``log_prob(x)``: x uint8 [B, *shape] in {0, 1} -> [B] nats (exact for small models, else an
    AIS estimate); ``sample(n)`` -> uint8 [n, *shape]; ``encode(x)`` -> p(h = 1 | x), float [B, H];
    ``decode(h)`` -> p(v = 1 | h), float [B, *shape]; ``free_energy(v)`` for float v [B, D].
    """

    Config = RBMConfig
    name = "rbm"
    description = "Binary restricted Boltzmann machine, CD-k / persistent CD, AIS log Z (Hinton 2002)"
    config: RBMConfig

    def __init__(self, config: RBMConfig) -> None:
        super().__init__(config)
        d, h = config.dims, config.hidden
        self.weight = nn.Parameter(torch.randn(d, h) * config.init_std)
        self.visible_bias = nn.Parameter(torch.zeros(d))
        self.hidden_bias = nn.Parameter(torch.zeros(h))
        # training state: carried by checkpoints, averaged across ranks where it comes from data
        self.register_buffer("chain", torch.zeros(config.chains if config.persistent else 0, d))
        self.register_buffer("chain_ready", torch.zeros((), dtype=torch.bool))
        for name, p in self.named_parameters():
            self.register_buffer(f"velocity_{name}", torch.zeros_like(p))
        self.register_buffer("hidden_activity", torch.full((h,), config.sparsity_target or 0.0))
        self.register_buffer("data_mean", torch.full((d,), 0.5))
        self.register_buffer("data_seen", torch.zeros((), dtype=torch.float64))
        self._log_z_cache = LogZCache()

    # -- energies: the visible units' part is what the subclasses change ---------------------------
    def visible(self, x: torch.Tensor) -> torch.Tensor:
        """Binary data x [B, *shape] (levels) -> float visible states [B, D] in the weights' dtype."""
        return self.check_data(x).flatten(1).to(self.weight.dtype)

    def visible_energy(self, v: torch.Tensor) -> torch.Tensor:
        """The energy terms of the visibles alone: ``-b·v``; v [B, D] -> [B]."""
        return -(v @ self.visible_bias)

    def hidden_input(self, v: torch.Tensor) -> torch.Tensor:
        """Total input of every hidden unit, ``c + v·W``: v [B, D] -> [B, H]."""
        return v @ self.weight + self.hidden_bias

    def weight_statistic(self, v: torch.Tensor) -> torch.Tensor:
        """The visibles as the weights see them (``∂(-E)/∂W = this ⊗ h``): v itself for binary units."""
        return v

    def hidden_bias_statistic(self, v: torch.Tensor, ph: torch.Tensor) -> torch.Tensor:
        """``-∂E/∂c`` given visibles v [B, D] and p(h | v) [B, H]: ph itself when c enters as ``c·h``."""
        return ph

    def visible_bias_statistic(self, v: torch.Tensor) -> torch.Tensor:
        """``-∂E/∂b`` for visibles v [B, D] (v itself for binary units)."""
        return v

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = -log Σ_h exp(-E(v, h)) = visible energy - Σ_j softplus(hidden input_j), nats; v [B, D] -> [B]."""
        return self.visible_energy(v) - F.softplus(self.hidden_input(v)).sum(1)

    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """E(v, h) = visible energy - h·(c + v·W) (binary: -v·W·h - b·v - c·h); v [B, D], h [B, H] -> [B]."""
        return self.visible_energy(v) - (self.hidden_input(v) * h).sum(1)

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        """p(h = 1 | v): v [B, D] -> [B, H]."""
        return torch.sigmoid(self.hidden_input(v))

    def visible_probs(self, h: torch.Tensor) -> torch.Tensor:
        """E[v | h] (binary: p(v = 1 | h)): h [B, H] -> [B, D]."""
        return torch.sigmoid(h @ self.weight.T + self.visible_bias)

    def sample_visible(
        self, h: torch.Tensor, generator: torch.Generator | None, temperature: float = 1.0
    ) -> torch.Tensor:
        """v ~ p(v | h)^(1/T), normalised: h [B, H] -> [B, D]."""
        return bernoulli(torch.sigmoid((h @ self.weight.T + self.visible_bias) / temperature), generator)

    def random_visible(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """Starting states for chains: uniform random binary vectors [n, D]."""
        w = self.weight
        return bernoulli(torch.full((n, self.config.dims), 0.5, dtype=w.dtype, device=w.device), generator)

    def gibbs(self, v: torch.Tensor, steps: int, generator: torch.Generator | None) -> torch.Tensor:
        """``steps`` rounds of block Gibbs sampling v -> h -> v; v float [B, D] -> float [B, D]."""
        for _ in range(steps):
            v = self.sample_visible(bernoulli(self.hidden_probs(v), generator), generator)
        return v

    # -- training -------------------------------------------------------------------------------
    def statistics(self, v: torch.Tensor, generator: torch.Generator | None) -> CDStatistics:
        """The CD / PCD gradient estimate for a batch v float [B, D].

        ``grads`` holds ``⟨v hᵀ⟩_data - ⟨v hᵀ⟩_model`` for the weights and the matching differences
        for the biases, with the hidden states replaced by their probabilities in both phases (as in
        Hinton's guide). The persistent chains advance as a side effect.
        """
        hidden_input = self.hidden_input(v)
        ph = torch.sigmoid(hidden_input)
        if self.config.persistent:
            if not self.chain_ready:
                self.chain.copy_(self.random_visible(len(self.chain), generator))
                self.chain_ready.fill_(True)
            neg = self.gibbs(self.chain, self.config.k, generator)
            self.chain.copy_(neg)
        else:
            neg = self.gibbs(v, self.config.k, generator)
        neg_input = self.hidden_input(neg)
        ph_neg = torch.sigmoid(neg_input)
        # ∂(-E)/∂W = (the visibles as the hidden units see them) hᵀ: recovered from the hidden input
        seen, seen_neg = self.weight_statistic(v), self.weight_statistic(neg)
        grads = {
            "weight": seen.T @ ph / len(v) - seen_neg.T @ ph_neg / len(neg),
            "visible_bias": self.visible_bias_statistic(v).mean(0) - self.visible_bias_statistic(neg).mean(0),
            "hidden_bias": self.hidden_bias_statistic(v, ph).mean(0) - self.hidden_bias_statistic(neg, ph_neg).mean(0),
        }
        # F(v) = visible energy - Σ softplus(hidden input), from the products already made
        free_data = self.visible_energy(v) - F.softplus(hidden_input).sum(1)
        free_neg = self.visible_energy(neg) - F.softplus(neg_input).sum(1)
        return CDStatistics(grads, neg, ph, free_data.mean() - free_neg.mean())

    def update(
        self, x: torch.Tensor, *, step: int, generator: torch.Generator | None, reduce: Reduce
    ) -> dict[str, float]:
        """One CD-k / PCD-k step of SGD with momentum on batch x (binary levels [B, *shape]).

        Returns metrics: ``free_energy_gap`` (mean F(data) - mean F(negative samples), nats) and,
        every tenth step, ``recon`` (mean squared one-step reconstruction error per pixel).
        """
        return self.step_visible(self.visible(x), step=step, generator=generator, reduce=reduce)

    @torch.no_grad()
    def step_visible(
        self, v: torch.Tensor, *, step: int, generator: torch.Generator | None, reduce: Reduce | None = None
    ) -> dict[str, float]:
        """:meth:`update` on float visible values v [B, D]: binary states, or probabilities in [0, 1]
        used as mean-field inputs (as scikit-learn does). ``reduce`` None: a single process."""
        c = self.config
        stats = self.statistics(v, generator)
        grads, ph, gap = stats.grads, stats.hidden, stats.free_energy_gap
        # the reconstruction error costs a product more: measured on every tenth step only
        recon = ((v - self.visible_probs(ph)) ** 2).mean() if step % 10 == 0 else gap.new_full((), math.nan)
        # one all-reduce for everything that comes from this rank's data
        names = list(grads)
        flat = torch.cat([grads[n].flatten() for n in names] + [ph.mean(0), v.mean(0), recon[None], gap[None]])
        flat = reduce(flat) if reduce is not None else flat
        parts = flat.split([grads[n].numel() for n in names] + [c.hidden, c.dims, 1, 1])
        grads = {n: p.view_as(grads[n]) for n, p in zip(names, parts, strict=False)}
        mean_activity, mean_v, recon, gap = parts[-4], parts[-3], parts[-2], parts[-1]

        self.data_seen += 1
        self.data_mean += (mean_v - self.data_mean) / self.data_seen.to(self.data_mean.dtype)
        if c.sparsity_target is not None:
            self.hidden_activity.mul_(c.sparsity_decay).add_((1 - c.sparsity_decay) * mean_activity)
            push = c.sparsity_cost * (self.hidden_activity - c.sparsity_target)
            grads["hidden_bias"] = grads["hidden_bias"] - push
            grads["weight"] = grads["weight"] - mean_v[:, None] * push[None, :]
        grads["weight"] = grads["weight"] - c.weight_cost * self.weight
        momentum = c.momentum_start if step < c.momentum_warmup else c.momentum
        for name, param in self.named_parameters():
            velocity = getattr(self, f"velocity_{name}")
            velocity.mul_(momentum).add_(grads[name], alpha=c.learning_rate)
            param.add_(velocity)
        metrics = {"free_energy_gap": float(gap)}
        return metrics if math.isnan(recon) else {**metrics, "recon": float(recon)}

    # -- density ----------------------------------------------------------------------------------
    @property
    def log_prob_kind(self) -> LogProbKind:  # type: ignore[override]
        return "exact" if self.log_z_is_exact else "estimate"

    @property
    def log_z_is_exact(self) -> bool:
        """Whether log Z is enumerated: config.log_z 'exact', or 'auto' with at most EXACT_LIMIT units to sum over."""
        c = self.config
        return c.log_z == "exact" or (c.log_z == "auto" and self._enumerated_units() <= EXACT_LIMIT)

    def _enumerated_units(self) -> int:
        """Units whose 2^n states exact log Z sums over: those of the smaller layer."""
        return min(self.config.dims, self.config.hidden)

    def log_partition(
        self,
        method: Literal["exact", "ais"] | None = None,
        *,
        chains: int | None = None,
        betas: int | None = None,
        generator: torch.Generator | None = None,
    ) -> LogPartition:
        """log Z in nats: exact by enumeration or by AIS (default: as ``config.log_z`` says).

        AIS runs ``chains`` x ``betas`` (defaults from the config); without a generator it uses a
        fixed seed, so repeated calls on the same weights agree.
        """
        method = method or ("exact" if self.log_z_is_exact else "ais")
        if method == "exact":
            return LogPartition.exact(self._exact_log_partition())
        if method != "ais":
            raise ValueError(f"method must be 'exact' or 'ais'; got {method!r}")
        c = self.config
        return self._ais_log_partition(
            chains or c.ais_chains, betas or c.ais_betas, generator or torch.Generator().manual_seed(0)
        )

    def _exact_log_partition(self) -> float:
        """log Z in nats, summing out the larger layer for every state of the smaller one."""
        return exact_log_partition(self.weight, self.visible_bias, self.hidden_bias)

    def _ais_log_partition(self, chains: int, betas: int, generator: torch.Generator) -> LogPartition:
        """AIS from the base-rate model of the training data seen by :meth:`update` (uniform before any training)."""
        mean = self.data_mean.clamp(0.02, 0.98) if self.data_seen > 0 else None
        base = None if mean is None else torch.log(mean) - torch.log1p(-mean)
        return ais_log_partition(
            self.weight,
            self.visible_bias,
            self.hidden_bias,
            base_bias=base,
            chains=chains,
            betas=betas,
            generator=generator,
        )

    def _cached_log_z(self) -> float:
        """log Z for the current weights; recomputed only when a parameter changed (in place or not)."""
        return self._log_z_cache(self, self.log_partition)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = -F(x) - log Z in nats; x binary uint8 [B, *shape] -> [B] (see ``log_prob_kind``)."""
        return -self.free_energy(self.visible(x)) - self._cached_log_z()

    # -- generation and representation --------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples after ``config.sample_steps`` Gibbs steps from uniform random states: uint8 [n, *shape].

        ``temperature`` T samples from p(v)^(1/T) (energies divided by T).
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be positive; got {temperature}")
        v = self.random_visible(n, generator)
        for _ in range(self.config.sample_steps):
            h = bernoulli(torch.sigmoid(self.hidden_input(v) / temperature), generator)
            v = self.sample_visible(h, generator, temperature)
        return self.as_data(v).view(n, *self.config.shape)

    def as_data(self, v: torch.Tensor) -> torch.Tensor:
        """Visible states [B, D] as the data type: uint8 levels for binary units."""
        return v.to(torch.uint8)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """p(h = 1 | x): x binary uint8 [B, *shape] -> float [B, H]."""
        return self.hidden_probs(self.visible(x))

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """p(v = 1 | h): h float [B, H] (states or probabilities) -> float [B, *shape]."""
        if z.dim() != 2 or z.shape[1] != self.config.hidden:
            raise ValueError(f"z must have shape (B, {self.config.hidden}); got {tuple(z.shape)}")
        return self.visible_probs(z.to(self.weight.dtype)).view(len(z), *self.config.shape)

    def filters(self) -> torch.Tensor:
        """The weights of every hidden unit shaped as the data: float [H, *shape]."""
        return self.weight.detach().T.reshape(self.config.hidden, *self.config.shape)

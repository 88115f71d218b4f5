"""A fully connected Boltzmann machine (Ackley, Hinton & Sejnowski 1985) on a few binary units.

The ``N = D + H`` units ``s = (v, h)`` (visibles first, then hiddens) are all connected to each
other by symmetric weights with a zero diagonal:

    E(s) = -½ sᵀ W s - b·s,        p(v, h) = exp(-E(v, h)) / Z,        W = Wᵀ, W_ii = 0,

so ``p(s_i = 1 | s_-i) = σ(b_i + Σ_j W_ij s_j)``, the conditional of ONE unit given all others.
Next to the RBM (:mod:`.rbm`, which is this model with the visible-visible and hidden-hidden weights
removed) it shows what the restriction buys:

* **Inference.** In an RBM p(h | v) factorises, ``p(h_j = 1 | v) = σ(c_j + v·W_j)``. Here the
  hiddens interact, so the exact posterior ``p(h | v) ∝ exp(h·(W_hv v + b_h) + ½ hᵀ W_hh h)`` needs
  all 2^H hidden states (:meth:`FullBM.posterior`, :meth:`FullBM.encode`).
* **Sampling.** An RBM updates a whole layer at once (block Gibbs). Here every unit depends on every
  other, so Gibbs sampling visits the units one at a time (:meth:`FullBM.gibbs`, N sequential steps
  per sweep); updating them all at once samples from a different distribution (the tests show it).
* **The partition function.** Summing out the hiddens is no longer a product of softplus terms, so
  log Z enumerates all 2^(D+H) joint states (:meth:`FullBM.log_partition`); hence D + H <= 24.

Training is the Boltzmann machine learning rule ``ΔW_ij ∝ ⟨s_i s_j⟩_data - ⟨s_i s_j⟩_model``, both
expectations Gibbs-sampled: the positive phase runs ``positive_sweeps`` sequential sweeps over the
hiddens with the visibles clamped to the batch (started from the hiddens' input from the visibles
alone), the negative phase carries ``chains`` persistent free-running chains on by ``k`` sweeps
(Tieleman 2008; the persistent-chain estimate of Salakhutdinov & Hinton's DBM training). Pair
statistics use the Rao-Blackwellised estimate ``s_i p_j`` (``p_j = p(s_j = 1 | s_-j)``, unbiased
for ``E[s_i s_j]`` at equilibrium), symmetrised. The update runs through the engine as
:meth:`FullBM.update` with SGD, momentum and a weight cost; the chains and velocities are buffers (so
checkpoints and resume carry them), and the statistics are averaged across DDP ranks by ``reduce``.
The persistent chains advance before the positive phase draws its random numbers, so every rank's
chains stay identical whatever its share of the batch.

``log_prob`` is exact: ``log Σ_h exp(-E(v, h)) - log Z`` (2^H terms per image), log Z recomputed
only when the weights change.

References:
    Ackley, Hinton, Sejnowski. A learning algorithm for Boltzmann machines. Cognitive Science 9, 1985.
    Hinton, Sejnowski. Learning and relearning in Boltzmann machines. In: Parallel Distributed
        Processing, vol. 1, 1986.
    Tieleman. Training RBMs using approximations to the likelihood gradient. ICML 2008.
    Salakhutdinov, Hinton. Deep Boltzmann machines. AISTATS 2009.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ...draws import draw
from ..base import Model, ModelConfig, check_fields, require_binary
from .ais import LogZCache
from .units import bernoulli, binary_states, over_states

Reduce = Callable[[torch.Tensor], torch.Tensor]
EXACT_LIMIT = 24  # log Z enumerates 2^(D + H) joint states


def hidden_terms(v: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, d: int) -> torch.Tensor:
    """``h·(W_hv v + b_h) + ½ hᵀW_hh h`` for every hidden state h (order of :func:`binary_states`):
    v [B, D], weight [N, N], bias [N] -> [B, 2^H], H = N - D."""
    hs = binary_states(len(bias) - d, dtype=weight.dtype, device=weight.device)  # [S, H]
    lateral = 0.5 * ((hs @ weight[d:, d:]) * hs).sum(1)  # [S]
    return (v @ weight[:d, d:] + bias[d:]) @ hs.T + lateral


def unnormalised_log_prob(v: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, d: int) -> torch.Tensor:
    """``log Σ_h exp(-E(v, h))`` in nats: v [B, D] -> [B], summing 2^H hidden states per row."""
    visible_part = 0.5 * ((v @ weight[:d, :d]) * v).sum(1) + v @ bias[:d]
    return visible_part + torch.logsumexp(hidden_terms(v, weight, bias, d), 1)


def sequential_gibbs(
    s: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    sweeps: int,
    generator: torch.Generator | None,
    *,
    clamp: int = 0,
    temperature: float = 1.0,
) -> torch.Tensor:
    """``sweeps`` sequential Gibbs sweeps over units ``clamp .. N-1`` (the first ``clamp`` held fixed).

    s float [B, N], weight [N, N] (symmetric, zero diagonal), bias [N] -> a new float [B, N]. Each
    unit is drawn from ``σ((b_i + Σ_j W_ij s_j) / T)`` given the current values of all others, one
    unit after another: no two connected units may be updated at once.
    """
    s = s.clone()
    n = weight.shape[0]
    if n == clamp:
        return s
    u = draw(torch.rand, sweeps, n - clamp, len(s), generator=generator, dtype=s.dtype, device=s.device)
    for sweep in range(sweeps):
        for j, i in enumerate(range(clamp, n)):
            p = torch.sigmoid((s @ weight[:, i] + bias[i]) / temperature)
            s[:, i] = (u[sweep, j] < p).to(s.dtype)
    return s


@dataclass
class FullBMConfig(ModelConfig):
    """Fully connected Boltzmann machine hyperparameters (binary data: ``levels`` = 2).

    Attributes:
        hidden: number of hidden units H (0: a fully visible Boltzmann machine); D + H <= 24.
        positive_sweeps: sequential Gibbs sweeps over the hiddens with the visibles clamped, per update.
        k: Gibbs sweeps of the persistent chains per update.
        chains: number of persistent chains (the negative phase's sample size).
        learning_rate: SGD step on the statistics' difference (the engine's --lr is Adam's, unused).
        momentum: momentum of the parameter velocities.
        weight_cost: L2 penalty coefficient on the weights.
        init_std: standard deviation of the initial (symmetric) weights.
        sample_steps: Gibbs sweeps from uniform random states for :meth:`FullBM.sample`.
    """

    shape: tuple[int, ...] = (1, 4, 4)
    levels: int | None = 2
    hidden: int = 8
    positive_sweeps: int = 5
    k: int = 5
    chains: int = 200
    learning_rate: float = 0.05
    momentum: float = 0.5
    weight_cost: float = 1e-4
    init_std: float = 0.01
    sample_steps: int = 200

    def __post_init__(self) -> None:
        require_binary(self, "the Boltzmann machine")
        checks = [
            ("hidden", self.hidden >= 0, "an integer >= 0"),
            ("positive_sweeps", self.positive_sweeps >= 1, "an integer >= 1"),
            ("k", self.k >= 1, "an integer >= 1"),
            ("chains", self.chains >= 1, "an integer >= 1"),
            ("learning_rate", self.learning_rate > 0, "a positive number"),
            ("momentum", 0 <= self.momentum < 1, "in [0, 1)"),
            ("weight_cost", self.weight_cost >= 0, "a number >= 0"),
            ("init_std", self.init_std > 0, "a positive number"),
            ("sample_steps", self.sample_steps >= 1, "an integer >= 1"),
        ]
        check_fields(self, checks)
        if self.dims + self.hidden > EXACT_LIMIT:
            raise ValueError(
                f"visible + hidden units must be at most {EXACT_LIMIT} (log Z enumerates all 2^(D+H) joint "
                f"states); got {self.dims} + {self.hidden} = {self.dims + self.hidden}"
            )


class FullBM(Model):
    """Fully connected binary Boltzmann machine over ``config.shape`` with ``config.hidden`` hiddens.

    ``log_prob(x)``: x uint8 [B, *shape] in {0, 1} -> [B] nats, exact; ``sample(n)`` -> uint8
    [n, *shape] by sequential Gibbs sampling; ``encode(x)`` -> the exact posterior marginals
    p(h_j = 1 | x), float [B, H]. ``weight`` [N, N] (symmetric, zero diagonal) and ``bias`` [N] over
    the units (v, h), N = D + H.
    """

    Config = FullBMConfig
    name = "full-bm"
    description = "Fully connected Boltzmann machine: sequential Gibbs, persistent chains, exact log Z by enumeration"
    config: FullBMConfig

    def __init__(self, config: FullBMConfig) -> None:
        super().__init__(config)
        n = config.dims + config.hidden
        w = torch.randn(n, n) * config.init_std
        self.weight = nn.Parameter((w + w.T).triu(1) + (w + w.T).triu(1).T)  # symmetric, zero diagonal
        self.bias = nn.Parameter(torch.zeros(n))
        self.register_buffer("chain", torch.zeros(config.chains, n))
        self.register_buffer("chain_ready", torch.zeros((), dtype=torch.bool))
        self.register_buffer("velocity_weight", torch.zeros(n, n))
        self.register_buffer("velocity_bias", torch.zeros(n))
        self._log_z_cache = LogZCache()

    @property
    def units(self) -> int:
        """N = D + H."""
        return self.config.dims + self.config.hidden

    def visible(self, x: torch.Tensor) -> torch.Tensor:
        """Binary data x [B, *shape] -> float visible states [B, D] in the weights' dtype."""
        return self.check_data(x).flatten(1).to(self.weight.dtype)

    # -- energies -------------------------------------------------------------------------------
    def energy(self, s: torch.Tensor) -> torch.Tensor:
        """E(s) = -½ sᵀWs - b·s in nats for joint states s [B, N] -> [B]."""
        return -0.5 * ((s @ self.weight) * s).sum(1) - s @ self.bias

    def _hidden_terms(self, v: torch.Tensor) -> torch.Tensor:
        """``-E(v, h)`` minus its visible-only part, for every hidden state: v [B, D] -> [B, 2^H]."""
        return hidden_terms(v, self.weight, self.bias, self.config.dims)

    def unnormalised_log_prob(self, v: torch.Tensor) -> torch.Tensor:
        """``log Σ_h exp(-E(v, h))`` (minus the free energy), nats: v [B, D] -> [B]; 2^H terms per row."""
        return unnormalised_log_prob(v, self.weight, self.bias, self.config.dims)

    def posterior(self, v: torch.Tensor) -> torch.Tensor:
        """Exact ``log p(h | v)`` over all 2^H hidden states (order of :func:`binary_states`): v [B, D] -> [B, 2^H]."""
        return torch.log_softmax(self._hidden_terms(v), 1)

    # -- Gibbs sampling ---------------------------------------------------------------------------
    def gibbs(
        self,
        s: torch.Tensor,
        sweeps: int,
        generator: torch.Generator | None,
        *,
        clamp: int = 0,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """:func:`sequential_gibbs` with this machine's weights: s float [B, N] -> float [B, N]."""
        return sequential_gibbs(s, self.weight, self.bias, sweeps, generator, clamp=clamp, temperature=temperature)

    def conditionals(self, s: torch.Tensor) -> torch.Tensor:
        """``p(s_i = 1 | s_-i)`` for every unit: s [B, N] -> [B, N] (W has a zero diagonal)."""
        return torch.sigmoid(s @ self.weight + self.bias)

    # -- training -------------------------------------------------------------------------------
    def _pair_statistics(self, s: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Estimates of ⟨s_i s_j⟩ [N, N] (zero diagonal) and ⟨s_i⟩ [N] from states s and conditional
        means q [B, N]: ``(sᵀq + qᵀs) / 2B``, unbiased at equilibrium because E[s_j | s_-j] = q_j."""
        half = s.T @ q
        pairs = (half + half.T) / (2 * len(s))  # exactly symmetric in floating point
        return pairs.fill_diagonal_(0.0), q.mean(0)

    def statistics(self, v: torch.Tensor, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """Gradient estimates ``⟨·⟩_data - ⟨·⟩_model`` for ``weight`` [N, N] and ``bias`` [N], batch v [B, D].

        The persistent chains advance first (a fixed number of random numbers, whatever the batch),
        then the hiddens are Gibbs-sampled with the visibles clamped.
        """
        c = self.config
        if not self.chain_ready:
            self.chain.copy_(bernoulli(torch.full_like(self.chain, 0.5), generator))
            self.chain_ready.fill_(True)
        self.chain.copy_(self.gibbs(self.chain, c.k, generator))
        neg_pairs, neg_means = self._pair_statistics(self.chain, self.conditionals(self.chain))

        d = c.dims
        w, b = self.weight, self.bias
        h = bernoulli(torch.sigmoid(v @ w[:d, d:] + b[d:]), generator)  # from the clamped visibles' input alone
        s = self.gibbs(torch.cat([v, h], 1), c.positive_sweeps, generator, clamp=d)
        q = torch.cat([v, self.conditionals(s)[:, d:]], 1)  # clamped visibles are their own means
        pos_pairs, pos_means = self._pair_statistics(s, q)
        return {"weight": pos_pairs - neg_pairs, "bias": pos_means - neg_means}

    @torch.no_grad()
    def update(
        self, x: torch.Tensor, *, step: int, generator: torch.Generator | None, reduce: Reduce
    ) -> dict[str, float]:
        """One Boltzmann-learning step of SGD with momentum on batch x (binary levels [B, *shape]).

        Returns ``stat_gap``: the root-mean-square difference of the data and model pair statistics
        (zero at a fixed point of the learning rule).
        """
        c = self.config
        grads = self.statistics(self.visible(x), generator)
        n = self.units
        flat = reduce(torch.cat([grads["weight"].flatten(), grads["bias"]]))
        weight_grad, bias_grad = flat[: n * n].view(n, n), flat[n * n :]
        gap = weight_grad.pow(2).sum() / max(1, n * (n - 1))
        weight_grad = weight_grad - c.weight_cost * self.weight
        self.velocity_weight.mul_(c.momentum).add_(weight_grad, alpha=c.learning_rate)
        self.velocity_bias.mul_(c.momentum).add_(bias_grad, alpha=c.learning_rate)
        self.weight.add_(self.velocity_weight)
        self.bias.add_(self.velocity_bias)
        return {"stat_gap": float(gap.sqrt())}

    # -- density ----------------------------------------------------------------------------------
    def log_partition(self) -> float:
        """log Z in nats by enumerating all 2^D visible states (each summing 2^H hidden states), float64."""
        d = self.config.dims
        w, b = self.weight.detach().double(), self.bias.detach().double()
        chunk = max(1, (1 << 20) >> self.config.hidden)  # at most 2^20 joint states per block
        total = over_states(d, lambda v: unnormalised_log_prob(v, w, b, d), block=chunk, device=w.device)
        return float(torch.logsumexp(total, 0))

    def _cached_log_z(self) -> float:
        """log Z for the current weights; recomputed only when a parameter changed (in place or not)."""
        return self._log_z_cache(self, self.log_partition)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) = log Σ_h exp(-E(x, h)) - log Z in nats; x binary uint8 [B, *shape] -> [B]."""
        return self.unnormalised_log_prob(self.visible(x)) - self._cached_log_z()

    # -- generation and representation --------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples after ``config.sample_steps`` sequential Gibbs sweeps from uniform random
        states: uint8 [n, *shape]. ``temperature`` T samples from p(v, h)^(1/T), normalised."""
        if temperature <= 0:
            raise ValueError(f"temperature must be positive; got {temperature}")
        w = self.weight
        start = bernoulli(torch.full((n, self.units), 0.5, dtype=w.dtype, device=w.device), generator)
        s = self.gibbs(start, self.config.sample_steps, generator, temperature=temperature)
        return s[:, : self.config.dims].to(torch.uint8).view(n, *self.config.shape)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Exact posterior marginals p(h_j = 1 | x) by summing 2^H hidden states: x [B, *shape] -> float [B, H]."""
        w = self.weight
        hs = binary_states(self.config.hidden, dtype=w.dtype, device=w.device)
        return self.posterior(self.visible(x)).exp() @ hs

"""Deep Boltzmann machine with L >= 2 hidden layers (Salakhutdinov & Hinton 2009, 2012).

Layers ``x⁰ = v`` (D visibles), ``x¹ = h¹``, ..., ``xᴸ = hᴸ``, all binary, joined by weights Wⁱ
[Nⁱ⁻¹, Nⁱ] between neighbours only:

    E(v, h¹, ..., hᴸ) = -Σ_l xⁱ⁻¹·Wⁱ·xⁱ - Σ_l bⁱ·xⁱ        (b⁰ = ``b``, bⁱ = ``cl``)

Every layer's neighbours have the other parity, so given the even layers (v, h², h⁴, ...) the odd
ones are independent, and vice versa: block Gibbs alternates the two. Training, as in the papers,
in one engine run with the phase chosen by epoch:

1. ``pretrain_epochs`` of CD-1 on each of the L RBMs in turn, bottom to top, each over the previous
   one's probabilities (bottom-up weights doubled); the doubling stands in for the input a layer will
   get from the layer above or below once the RBMs are composed: the bottom RBM doubles its
   bottom-up weights (p(h¹|v) = σ(2 v·W¹ + c¹)), the top RBM its top-down weights, the middle RBMs
   both (Salakhutdinov & Hinton 2012, section 4); an RBM above the first has its own visible bias
   (buffer ``pretrain_bias{i}``), used only in its phase;
2. composition, at the first joint update: a layer below the top is the hidden layer of one RBM and
   the visible layer of the next, and each RBM's input to it was doubled, so its DBM bias becomes the
   mean of the two RBMs' biases for it, ``bⁱ = (cⁱ + pretrain_biasⁱ⁺¹) / 2``: the DBM's log-odds of a
   unit are then the average of the two modules' (Salakhutdinov & Hinton 2012, section 4); a model
   evaluated before its first joint update (a run stopped after pretraining, the validation of the
   last pretraining epoch) has its biases uncomposed;
3. joint training: the data-dependent expectations from mean-field inference (``mean_field_steps``
   rounds of μⁱ = σ(μⁱ⁻¹·Wⁱ + Wⁱ⁺¹ μⁱ⁺¹ + bⁱ), i = 1..L, started by the doubled bottom-up pass), the
   model's from persistent chains advanced by ``gibbs_steps`` odd/even block-Gibbs sweeps per update
   (the odd layers' statistics Rao-Blackwellised), SGD with momentum and weight cost.

The likelihood: summing out the layers of one parity given the other is a product of softplus terms,
``log p*(x_odd) = Σ_{i odd} bⁱ·xⁱ + Σ_{i even} Σ_k softplus(input of unit k of layer i)``, so log Z is
exact by enumerating the smaller parity (at most ``EXACT_LIMIT`` = 20 units; for two layers that is
h¹) and otherwise an AIS estimate over the odd layers from independent uniform units, whose
transitions are block-Gibbs sweeps of the tempered DBM. ``log_prob`` is the mean-field variational
bound ``E_q[-E(v, h)] + H(q) - log Z <= log p(v)``: a lower bound (with an AIS log Z, an estimate of one).

References:
    Salakhutdinov, Hinton. Deep Boltzmann machines. AISTATS 2009.
    Salakhutdinov, Hinton. An efficient learning procedure for deep Boltzmann machines. Neural Computation 2012.
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

from ..base import Model, ModelConfig, check_fields, require_binary
from .ais import LogPartition, LogZCache, _summarise, beta_schedule
from .units import bernoulli, over_states

Reduce = Callable[[torch.Tensor], torch.Tensor]
EXACT_LIMIT = 20  # 'auto' enumerates one parity's states for log Z when it has at most this many units
ENUMERATE_LIMIT = 26


@dataclass
class DBMConfig(ModelConfig):
    """DBM hyperparameters (binary data: ``levels`` = 2).

    Attributes:
        hidden: sizes of the hidden layers, bottom first (H¹, ..., Hᴸ), L >= 2, e.g. (500, 1000) or
            (500, 500, 1000).
        pretrain_epochs: epochs of greedy pretraining per layer (0: train jointly from the start).
        mean_field_steps: rounds of mean-field inference for the data-dependent statistics and the bound.
        chains: persistent Gibbs chains of the joint phase.
        gibbs_steps: block-Gibbs sweeps of those chains per joint update (5, as in the reference
            implementations: with one sweep the chains of a sharp pretrained model trail the
            parameters).
        learning_rate, momentum, momentum_start, momentum_warmup, weight_cost: SGD as for the RBM
            (the momentum warm-up counts joint-phase updates; pretraining keeps ``momentum_start``).
        joint_learning_rate: the joint phase's step (its velocities start at zero). On a pretrained
            784-500-1000 DBM of Fashion-MNIST, 0.001 with momentum 0.9 (an effective step of 0.01)
            sent the persistent chains away from the data and the bound up by 180 nats within 1,000
            updates of the warm-up's end; at momentum 0.5 both 0.001 and 0.0003 improved it by ~100
            nats in 1,500 updates, 0.001 less steadily (once 158 -> 209 nats); BENCHMARKS.md. Hence
            these defaults.
        log_z: 'auto' (exact when one parity has at most 20 units), 'exact' or 'ais'; ais_chains,
            ais_betas for log_prob.
        sample_steps: Gibbs sweeps from random states for :meth:`DBM.sample`.
        init_std: standard deviation of the initial weights.
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 2
    hidden: tuple[int, ...] = (500, 1000)
    pretrain_epochs: int = 5
    mean_field_steps: int = 10
    chains: int = 100
    gibbs_steps: int = 5
    learning_rate: float = 0.01
    joint_learning_rate: float = 0.0003
    momentum: float = 0.5
    momentum_start: float = 0.5
    momentum_warmup: int = 500
    weight_cost: float = 2e-4
    log_z: Literal["auto", "exact", "ais"] = "auto"
    ais_chains: int = 100
    ais_betas: int = 1000
    sample_steps: int = 1000
    init_std: float = 0.01

    def __post_init__(self) -> None:
        require_binary(self, "the DBM")
        checks = [
            (
                "hidden",
                len(self.hidden) >= 2 and min(self.hidden) >= 1,
                "two or more positive layer sizes, e.g. 500,1000 or 500,500,1000",
            ),
            ("pretrain_epochs", self.pretrain_epochs >= 0, "an integer >= 0"),
            ("mean_field_steps", self.mean_field_steps >= 1, "an integer >= 1"),
            ("chains", self.chains >= 1, "an integer >= 1"),
            ("gibbs_steps", self.gibbs_steps >= 1, "an integer >= 1"),
            ("learning_rate", self.learning_rate > 0, "a positive number"),
            ("joint_learning_rate", self.joint_learning_rate > 0, "a positive number"),
            ("momentum", 0 <= self.momentum < 1, "in [0, 1)"),
            ("momentum_start", 0 <= self.momentum_start < 1, "in [0, 1)"),
            ("weight_cost", self.weight_cost >= 0, "a number >= 0"),
            ("log_z", self.log_z in ("auto", "exact", "ais"), "'auto', 'exact' or 'ais'"),
            ("ais_chains", self.ais_chains >= 2, "an integer >= 2"),
            ("ais_betas", self.ais_betas >= 3, "an integer >= 3"),
            ("sample_steps", self.sample_steps >= 1, "an integer >= 1"),
        ]
        check_fields(self, checks)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Units per layer, visibles first: (D, H¹, ..., Hᴸ)."""
        return (self.dims, *self.hidden)


class DBM(Model):
    """Deep Boltzmann machine over binary ``config.shape`` with hidden layers ``config.hidden``.

    ``log_prob(x)``: x uint8 [B, *shape] -> [B] nats, the mean-field lower bound; ``sample(n)`` ->
    uint8 [n, *shape]; ``encode(x)`` -> the mean-field posterior of every hidden layer, float
    [B, H¹ + ... + Hᴸ]. Parameters ``w1 .. wL`` (Wⁱ [Nⁱ⁻¹, Nⁱ]), ``b`` [D], ``c1 .. cL``; layer lists
    of tensors (``xs``) hold [B, Nⁱ] for i = 0..L.
    """

    Config = DBMConfig
    name = "dbm"
    description = "Deep Boltzmann machine (2+ layers): pretraining, mean-field + PCD, AIS bound (Salakhutdinov 2009)"
    log_prob_kind = "lower bound"
    config: DBMConfig

    def __init__(self, config: DBMConfig) -> None:
        super().__init__(config)
        sizes = config.sizes
        for i in range(1, len(sizes)):
            self.register_parameter(f"w{i}", nn.Parameter(torch.randn(sizes[i - 1], sizes[i]) * config.init_std))
        self.b = nn.Parameter(torch.zeros(sizes[0]))
        for i in range(1, len(sizes)):
            self.register_parameter(f"c{i}", nn.Parameter(torch.zeros(sizes[i])))
        for i in range(2, len(sizes)):  # visible bias of the i-th pretraining RBM, over layer i - 1
            self.register_buffer(f"pretrain_bias{i}", torch.zeros(sizes[i - 1]))
        for name, p in self.named_parameters():
            self.register_buffer(f"velocity_{name}", torch.zeros_like(p))
        for i in range(2, len(sizes)):
            self.register_buffer(f"velocity_pretrain_bias{i}", torch.zeros(sizes[i - 1]))
        for i in self.even_layers:  # the persistent chains' even layers; the odd ones are drawn from them
            self.register_buffer("chain_v" if i == 0 else f"chain_h{i}", torch.zeros(config.chains, sizes[i]))
        self.register_buffer("chain_ready", torch.zeros((), dtype=torch.bool))
        self.register_buffer("joint_steps", torch.zeros((), dtype=torch.long))
        self._log_z_cache = LogZCache()

    # -- layers ---------------------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """L, the number of hidden layers."""
        return len(self.config.hidden)

    @property
    def even_layers(self) -> list[int]:
        return list(range(0, self.depth + 1, 2))

    @property
    def odd_layers(self) -> list[int]:
        return list(range(1, self.depth + 1, 2))

    def weight(self, i: int) -> torch.Tensor:
        """Wⁱ [Nⁱ⁻¹, Nⁱ], i = 1..L."""
        return getattr(self, f"w{i}")

    def bias(self, i: int) -> torch.Tensor:
        """bⁱ [Nⁱ]: ``b`` for the visibles (i = 0), ``c{i}`` for hidden layer i."""
        return self.b if i == 0 else getattr(self, f"c{i}")

    def uniform(self, n: int, i: int, generator: torch.Generator | None) -> torch.Tensor:
        """n uniform random binary states of layer i: [n, Nⁱ]."""
        w = self.w1
        return bernoulli(torch.full((n, self.config.sizes[i]), 0.5, dtype=w.dtype, device=w.device), generator)

    def visible(self, x: torch.Tensor) -> torch.Tensor:
        return self.check_data(x).flatten(1).to(self.w1.dtype)

    def layer_input(self, i: int, xs: list[torch.Tensor | None]) -> torch.Tensor:
        """Total input bⁱ + xⁱ⁻¹Wⁱ + xⁱ⁺¹Wⁱ⁺¹ᵀ of layer i from its neighbours in ``xs``: [B, Nⁱ]."""
        total = self.bias(i)
        if i > 0:
            total = total + xs[i - 1] @ self.weight(i)
        if i < self.depth:
            total = total + xs[i + 1] @ self.weight(i + 1).T
        return total

    def sweep(
        self, xs: list[torch.Tensor | None], generator: torch.Generator | None, temperature: float = 1.0
    ) -> list[torch.Tensor | None]:
        """One block-Gibbs sweep of ``xs`` in place at temperature T: the odd layers drawn given the even
        ones, then the even layers given the new odd ones; ``xs`` holds [B, Nⁱ] per layer (the odd
        entries may be None on entry). Returns ``xs``."""
        for i in (*self.odd_layers, *self.even_layers):
            xs[i] = bernoulli(torch.sigmoid(self.layer_input(i, xs) / temperature), generator)
        return xs

    def v_given(self, h1: torch.Tensor) -> torch.Tensor:
        """p(v = 1 | h¹): [B, D]."""
        return torch.sigmoid(h1 @ self.w1.T + self.b)

    def bottom_up(self, v: torch.Tensor, top: int | None = None) -> list[torch.Tensor]:
        """The pretraining's approximate inference up to layer ``top`` (default L): μⁱ = σ(2 μⁱ⁻¹·Wⁱ + bⁱ)
        below layer L, single weights at L: [v, μ¹, ..., μ^top]."""
        xs = [v]
        for i in range(1, (self.depth if top is None else top) + 1):
            scale = 2.0 if i < self.depth else 1.0
            xs.append(torch.sigmoid(scale * (xs[-1] @ self.weight(i)) + self.bias(i)))
        return xs

    def mean_field(self, v: torch.Tensor, steps: int | None = None) -> list[torch.Tensor]:
        """Mean-field posterior [μ¹ [B, H¹], ..., μᴸ [B, Hᴸ]] of visibles v [B, D]: ``steps`` rounds of
        coordinate updates i = 1..L, started by :meth:`bottom_up`."""
        xs = self.bottom_up(v)
        from_v = v @ self.w1 + self.c1  # h¹'s input from the clamped visibles, the same every round
        for _ in range(steps or self.config.mean_field_steps):
            xs[1] = torch.sigmoid(torch.addmm(from_v, xs[2], self.w2.T))
            for i in range(2, self.depth + 1):
                xs[i] = torch.sigmoid(self.layer_input(i, xs))
        return xs[1:]

    def energy(self, *xs: torch.Tensor) -> torch.Tensor:
        """E(v, h¹, ..., hᴸ) for layers [B, Nⁱ] (states or mean-field values) -> [B] nats."""
        if len(xs) != self.depth + 1:
            raise ValueError(f"energy takes {self.depth + 1} layers (v, h¹, ..., hᴸ); got {len(xs)}")
        e = -(xs[0] @ self.b)
        for i in range(1, self.depth + 1):
            e = e - ((xs[i - 1] @ self.weight(i)) * xs[i]).sum(1) - xs[i] @ self.bias(i)
        return e

    def log_unnormalised(self, xs: list[torch.Tensor | None], parity: int) -> torch.Tensor:
        """log Σ over the layers of the other parity of exp(-E): the layers i ≡ ``parity`` (mod 2) are
        given in ``xs`` ([B, Nⁱ]), the others (None) are summed out in closed form -> [B] nats."""
        total = 0.0
        for i in range(self.depth + 1):
            if i % 2 == parity:
                total = total + xs[i] @ self.bias(i)
            else:
                total = total + F.softplus(self.layer_input(i, xs)).sum(1)
        return total

    # -- training ------------------------------------------------------------------------------------------
    def phase(self, epoch: int) -> str:
        """'layer i' (pretraining RBM i, i = 1..L) or 'joint' for this epoch."""
        p = self.config.pretrain_epochs
        return f"layer {epoch // p + 1}" if p and epoch < self.depth * p else "joint"

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
        if phase == "joint" and int(self.joint_steps) == 0 and self.config.pretrain_epochs:
            self.compose()
        if phase == "joint":
            grads, recon = self._joint_statistics(v, generator)
        else:
            grads, recon = self._pretrain_statistics(int(phase.split()[1]), v, generator)
        names = list(grads)
        flat = torch.cat([grads[n].flatten() for n in names] + [recon[None]])
        flat = reduce(flat) if reduce is not None else flat
        parts = flat.split([grads[n].numel() for n in names] + [1])
        c = self.config
        joint = phase == "joint"
        momentum = c.momentum if joint and int(self.joint_steps) >= c.momentum_warmup else c.momentum_start
        if joint and int(self.joint_steps) == 0:  # no momentum carried over from pretraining
            for name in names:
                getattr(self, f"velocity_{name}").zero_()
        rate = c.joint_learning_rate if joint else c.learning_rate
        for name, g in zip(names, parts, strict=False):
            target = getattr(self, name)
            g = g.view_as(target)
            if name.startswith("w"):
                g = g - c.weight_cost * target
            velocity = getattr(self, f"velocity_{name}")
            velocity.mul_(momentum).add_(g, alpha=rate)
            target.add_(velocity)
        if joint:
            self.joint_steps += 1
        return {"recon": float(parts[-1]), "phase": float(self.depth + 1 if joint else int(phase.split()[1]))}

    def _pretrain_statistics(
        self, i: int, v: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """CD-1 statistics of the i-th RBM (layers i - 1 and i) on the bottom-up probabilities of v.

        Bottom-up weights are doubled below the top RBM, top-down weights above the bottom one.
        """
        up = 2.0 if i < self.depth else 1.0
        down = 1.0 if i == 1 else 2.0
        w, c = self.weight(i), self.bias(i)
        visible_bias = "b" if i == 1 else f"pretrain_bias{i}"
        a = getattr(self, visible_bias)
        data = self.bottom_up(v, i - 1)[-1]
        ph = torch.sigmoid(up * (data @ w) + c)
        neg = bernoulli(torch.sigmoid(down * (bernoulli(ph, generator) @ w.T) + a), generator)
        ph_neg = torch.sigmoid(up * (neg @ w) + c)
        n = len(v)
        grads = {
            f"w{i}": data.T @ ph / n - neg.T @ ph_neg / n,
            visible_bias: (data - neg).mean(0),
            f"c{i}": (ph - ph_neg).mean(0),
        }
        recon = ((data - torch.sigmoid(down * (ph @ w.T) + a)) ** 2).mean()
        return grads, recon

    @torch.no_grad()
    def start_chains(self, v: torch.Tensor, generator: torch.Generator | None) -> None:
        """Start the persistent chains at the data: visibles = the rows of v [B, D] cycled, the other even
        layers drawn from their mean-field probabilities given them. A pretrained model has its mass
        near the data; chains started from uniform noise would feed the first joint updates statistics
        of states the model does not hold."""
        start = v[torch.arange(self.config.chains, device=v.device) % len(v)]
        states = [start, *self.mean_field(start)]
        for i in self.even_layers:
            getattr(self, "chain_v" if i == 0 else f"chain_h{i}").copy_(bernoulli(states[i], generator) if i else start)
        self.chain_ready.fill_(True)

    @torch.no_grad()
    def compose(self) -> None:
        """The pretrained RBMs as one DBM: every hidden layer below the top takes the mean of its bias in
        the RBM below (``c{i}``) and in the RBM above (``pretrain_bias{i+1}``). Run once, by the first
        joint update after pretraining."""
        for i in range(1, self.depth):
            self.bias(i).add_(getattr(self, f"pretrain_bias{i + 1}")).mul_(0.5)

    def _joint_statistics(
        self, v: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Mean-field data statistics minus persistent-chain model statistics (``gibbs_steps`` sweeps)."""
        mu = [v, *self.mean_field(v)]
        chains = [getattr(self, "chain_v" if i == 0 else f"chain_h{i}") for i in self.even_layers]
        if not self.chain_ready:
            self.start_chains(v, generator)
        xs: list[torch.Tensor | None] = [None] * (self.depth + 1)
        for i, chain in zip(self.even_layers, chains, strict=True):
            xs[i] = chain
        for _ in range(self.config.gibbs_steps):
            self.sweep(xs, generator)
        for i, chain in zip(self.even_layers, chains, strict=True):
            chain.copy_(xs[i])
        for i in self.odd_layers:  # Rao-Blackwellised: the odd layers' probabilities given the new even layers
            xs[i] = torch.sigmoid(self.layer_input(i, xs))
        n, m = len(v), len(xs[0])
        grads = {"b": v.mean(0) - xs[0].mean(0)}
        for i in range(1, self.depth + 1):
            grads[f"w{i}"] = mu[i - 1].T @ mu[i] / n - xs[i - 1].T @ xs[i] / m
            grads[f"c{i}"] = mu[i].mean(0) - xs[i].mean(0)
        recon = ((v - self.v_given(mu[1])) ** 2).mean()
        return grads, recon

    # -- likelihood ---------------------------------------------------------------------------------------
    def _parity_units(self) -> tuple[int, int]:
        """Units in the even layers (visibles included) and in the odd layers."""
        sizes = self.config.sizes
        return sum(sizes[0::2]), sum(sizes[1::2])

    @property
    def log_z_is_exact(self) -> bool:
        """Whether :meth:`log_prob` enumerates log Z: config.log_z 'exact', or 'auto' with one parity of
        at most ``EXACT_LIMIT`` units."""
        c = self.config
        return c.log_z == "exact" or (c.log_z == "auto" and min(self._parity_units()) <= EXACT_LIMIT)

    def log_partition(
        self,
        method: Literal["exact", "ais"] | None = None,
        *,
        chains: int | None = None,
        betas: int | None = None,
        generator: torch.Generator | None = None,
    ) -> LogPartition:
        """log Z in nats: exact (enumerating the parity with fewer units, summing out the other) or AIS
        over the odd layers (default: ``config.log_z``)."""
        c = self.config
        method = method or ("exact" if self.log_z_is_exact else "ais")
        if method == "exact":
            return LogPartition.exact(self._exact_log_z())
        if method != "ais":
            raise ValueError(f"method must be 'exact' or 'ais'; got {method!r}")
        return self._ais(chains or c.ais_chains, betas or c.ais_betas, generator or torch.Generator().manual_seed(0))

    @torch.no_grad()
    def _exact_log_z(self) -> float:
        even, odd = self._parity_units()
        parity = 1 if odd <= even else 0
        units = min(even, odd)
        if units > ENUMERATE_LIMIT:
            raise ValueError(
                f"exact log Z enumerates 2^{units} states of the {'odd' if parity else 'even'} layers; "
                f"at most 2^{ENUMERATE_LIMIT} are allowed"
            )
        layers = [i for i in range(self.depth + 1) if i % 2 == parity]
        sizes = [self.config.sizes[i] for i in layers]

        def of_states(s: torch.Tensor) -> torch.Tensor:  # states [S, units] of the parity's layers -> [S]
            xs: list[torch.Tensor | None] = [None] * (self.depth + 1)
            for i, part in zip(layers, s.split(sizes, 1), strict=True):
                xs[i] = part
            return self.log_unnormalised(xs, parity)

        w = self.w1
        total = over_states(units, of_states, block=1 << min(units, 14), dtype=w.dtype, device=w.device)
        return float(torch.logsumexp(total.double(), 0))

    @torch.no_grad()
    def _ais(self, chains: int, betas: int, generator: torch.Generator) -> LogPartition:
        """AIS over the odd layers from independent uniform units through ``p*_β(x_odd) = exp(β Σ_odd bⁱ·xⁱ)
        Π_{even i, k} (1 + e^{β input})``, with block-Gibbs sweeps of the tempered DBM as transitions."""
        w = self.w1.detach()
        log_z_base = sum(self.config.sizes) * math.log(2.0)
        xs: list[torch.Tensor | None] = [None] * (self.depth + 1)
        for i in self.odd_layers:
            xs[i] = self.uniform(chains, i, generator)
        log_w = torch.zeros(chains, dtype=torch.float64, device=w.device)
        for prev, beta in itertools.pairwise(beta_schedule(betas).tolist()):
            # log p*_β - log p*_prev at the current odd states; the even layers' inputs serve the Gibbs step too
            inputs = {i: self.layer_input(i, xs) for i in self.even_layers}
            step = sum((beta - prev) * (xs[i] @ self.bias(i)) for i in self.odd_layers)
            step = step + sum((F.softplus(beta * a) - F.softplus(prev * a)).sum(1) for a in inputs.values())
            log_w += step.double()
            if beta < 1.0:
                for i in self.even_layers:
                    xs[i] = bernoulli(torch.sigmoid(beta * inputs[i]), generator)
                for i in self.odd_layers:
                    xs[i] = bernoulli(torch.sigmoid(beta * self.layer_input(i, xs)), generator)
        return _summarise(log_w, log_z_base, betas)

    def _cached_log_z(self) -> float:
        """log Z for the current weights; recomputed only when a parameter changed (in place or not)."""
        return self._log_z_cache(self, self.log_partition)

    @torch.no_grad()
    def variational_bound(self, v: torch.Tensor) -> torch.Tensor:
        """E_q[-E(v, h)] + H(q) with q the mean-field posterior: float v [B, D] -> [B] nats (before log Z)."""
        mu = self.mean_field(v)
        return -self.energy(v, *mu) + sum(bernoulli_entropy(m) for m in mu)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Mean-field lower bound on log p(x) in nats; x binary uint8 [B, *shape] -> [B]."""
        return self.variational_bound(self.visible(x)) - self._cached_log_z()

    # -- generation and representation ---------------------------------------------------------------------
    @torch.no_grad()
    def gibbs(
        self, n: int, steps: int, generator: torch.Generator | None, *, temperature: float = 1.0, every: int = 0
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``steps`` odd/even block-Gibbs sweeps of ``n`` chains from uniform random even layers at
        ``temperature`` T (energies divided by T): the last visible states float [n, D] and, every
        ``every`` sweeps (0: never), the visibles' p(v = 1 | h¹) float [n, D]."""
        if temperature <= 0:
            raise ValueError(f"temperature must be positive; got {temperature}")
        xs: list[torch.Tensor | None] = [None] * (self.depth + 1)
        for i in self.even_layers:
            xs[i] = self.uniform(n, i, generator)
        shots = []
        for step in range(1, steps + 1):
            self.sweep(xs, generator, temperature)
            if every and step % every == 0:  # the visibles' probabilities of this sweep (h¹ is unchanged since)
                shots.append(torch.sigmoid(self.layer_input(0, xs) / temperature))
        return xs[0], shots

    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples after ``config.sample_steps`` Gibbs sweeps from random states: uint8 [n, *shape]."""
        v, _ = self.gibbs(n, self.config.sample_steps, generator, temperature=temperature)
        return v.to(torch.uint8).view(n, *self.config.shape)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Mean-field posterior of every hidden layer: x [B, *shape] -> float [B, H¹ + ... + Hᴸ]."""
        return torch.cat(self.mean_field(self.visible(x)), 1)

    def filters(self) -> torch.Tensor:
        """The first layer's weights of every unit of h¹ shaped as the data: float [H¹, *shape]."""
        return self.w1.detach().T.reshape(self.config.hidden[0], *self.config.shape)


def bernoulli_entropy(p: torch.Tensor) -> torch.Tensor:
    """Σ of the entropies (nats) of independent Bernoulli units with probabilities p [B, N] -> [B]."""
    return -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)).sum(1)

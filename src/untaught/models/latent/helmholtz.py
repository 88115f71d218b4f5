"""Helmholtz machine: sigmoid belief nets trained by wake-sleep or reweighted wake-sleep.

Binary data ``x ∈ {0,1}^D`` and L binary hidden layers ``h_1 .. h_L`` (sizes ``hidden``, bottom-up).
The generative net is a sigmoid belief net, top-down (Neal 1992):

    p(h_L) = Π_j σ(a_j)^{h_Lj} σ(-a_j)^{1-h_Lj},    p(h_{l-1} | h_l) = Bernoulli(σ(G_l h_l + g_l)),
    p(x | h_1) = Bernoulli(σ(G_1 h_1 + g_1)),

and the recognition net another one, bottom-up: ``q(h_l | h_{l-1}) = Bernoulli(σ(R_l h_{l-1} + r_l))``
with ``h_0 = x``. Both are trained through the engine's ``loss`` by a surrogate whose gradients are
the algorithm's updates (the samples are discrete, so no gradient flows through them):

* ``wake-sleep`` (Hinton, Dayan, Frey & Neal 1995). Wake: draw h ~ q(h | x), raise
  ``log p(x, h)`` of the generative net. Sleep: dream (h, x) ~ p, raise ``log q(h | x)`` of the
  recognition net. With ``k`` > 1 the k wake samples count equally (k = 1 is the original).
* ``rws`` (reweighted wake-sleep, Bornschein & Bengio 2015). Draw k samples h_i ~ q(h | x) with
  importance weights ``w_i = p(x, h_i) / q(h_i | x)``, normalised ``ω_i = w_i / Σ_j w_j`` (held
  constant). Generative update ``Σ_i ω_i ∇ log p(x, h_i)`` (the gradient of the k-sample estimate
  ``log (1/k) Σ_i w_i``); recognition update from the wake phase ``Σ_i ω_i ∇ log q(h_i | x)``, the
  sleep phase (as in wake-sleep), or the mean of both (``q_update``).

The loss the engine sees has the value ``-log (1/k) Σ_i w_i`` (RWS) or ``-mean_i log w_i``
(wake-sleep: the one-sample ELBO estimate), nats per image, and the surrogate's gradient; the
sleep phase dreams as many samples as the batch holds. Adam replaces the papers' SGD.

``log_prob(x)`` is the importance-sampling estimate with the recognition net as proposal,
``log (1/K) Σ_i p(x, h_i) / q(h_i | x)``, K = ``iwae_k`` samples from a fixed seed. The mean
inside the log is an unbiased estimate of p(x), so its log is a stochastic lower bound in
expectation (Jensen; Burda et al. 2016), not a bound on every draw; it converges to log p(x) as K
grows. ``log_prob_kind`` is therefore "estimate". :meth:`HelmholtzMachine.exact_log_prob`
enumerates all hidden states of small models instead.

References:
    Hinton, Dayan, Frey, Neal. The "wake-sleep" algorithm for unsupervised neural networks. Science 268, 1995.
    Dayan, Hinton, Neal, Zemel. The Helmholtz machine. Neural Computation 7, 1995.
    Neal. Connectionist learning of belief networks. Artificial Intelligence 56, 1992.
    Bornschein, Bengio. Reweighted wake-sleep. ICLR 2015. https://arxiv.org/abs/1406.2751
    Burda, Grosse, Salakhutdinov. Importance Weighted Autoencoders. ICLR 2016. https://arxiv.org/abs/1509.00519
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..base import LogProbKind, ModelConfig, check_fields, require_binary
from ..boltzmann.units import bernoulli, binary_states
from .bound import LatentVariableModel

EXACT_LIMIT = 20  # exact_log_prob enumerates 2^(sum of hidden sizes) states


def log_bernoulli(logits: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """Σ over the last dimension of log Bernoulli(states; σ(logits)) in nats: [..., n] -> [...]."""
    logits, states = torch.broadcast_tensors(logits, states)
    return -F.binary_cross_entropy_with_logits(logits, states, reduction="none").sum(-1)


@dataclass
class HelmholtzConfig(ModelConfig):
    """Helmholtz machine hyperparameters (binary data: ``levels`` = 2, e.g. ``--binarize``).

    Attributes:
        hidden: sizes of the stochastic hidden layers h_1 .. h_L, bottom-up (one or more).
        algorithm: 'rws' (reweighted wake-sleep) or 'wake-sleep'.
        k: samples of h ~ q(h | x) per training image (RWS's K; wake-sleep weighs them equally).
        q_update: RWS's recognition update: 'wake', 'sleep' or 'both' (their mean); wake-sleep
            always trains the recognition net in the sleep phase, so it must be 'sleep' or the default.
        iwae_k: importance samples of ``log_prob`` (validation, test, ``untaught eval --iwae-k``).
        eval_rows: most images x samples evaluated at once by ``log_prob``.
        eval_seed: seed of ``log_prob``'s samples.
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 2
    hidden: tuple[int, ...] = (200,)
    algorithm: Literal["rws", "wake-sleep"] = "rws"
    k: int = 5
    q_update: Literal["wake", "sleep", "both"] = "both"
    iwae_k: int = 10
    eval_rows: int = 32768
    eval_seed: int = 0

    def __post_init__(self) -> None:
        require_binary(self, "the Helmholtz machine")
        checks = [
            ("hidden", bool(self.hidden) and min(self.hidden) >= 1, "one or more positive layer sizes"),
            ("algorithm", self.algorithm in ("rws", "wake-sleep"), "'rws' or 'wake-sleep'"),
            ("k", self.k >= 1, "an integer >= 1 (samples per image)"),
            ("q_update", self.q_update in ("wake", "sleep", "both"), "'wake', 'sleep' or 'both'"),
            ("iwae_k", self.iwae_k >= 1, "an integer >= 1 (importance samples)"),
            ("eval_rows", self.eval_rows >= 1, "an integer >= 1"),
        ]
        check_fields(self, checks)
        if self.algorithm == "wake-sleep" and self.q_update == "wake":
            raise ValueError(
                "q_update must be 'sleep' or 'both' (the default) with algorithm 'wake-sleep', whose recognition "
                "net learns in the sleep phase only; got 'wake'"
            )


class HelmholtzMachine(LatentVariableModel):
    """A Helmholtz machine over binary data of ``config.shape``.

    ``loss(x)``: x uint8 [B, *shape] -> (scalar, metrics), the surrogate of :mod:`this module
    <untaught.models.latent.helmholtz>`; ``log_prob(x)`` -> [B] nats, an importance-sampling
    estimate; ``exact_log_prob(x)`` -> [B] nats by enumeration (small models); ``sample(n)`` -> uint8
    [n, *shape] by ancestral sampling.
    """

    Config = HelmholtzConfig
    name = "helmholtz"
    description = "Helmholtz machine: sigmoid belief nets, wake-sleep or reweighted wake-sleep (Bornschein & Bengio)"
    log_prob_kind: LogProbKind = "estimate"
    config: HelmholtzConfig

    def __init__(self, config: HelmholtzConfig) -> None:
        super().__init__(config)
        sizes = (config.dims, *config.hidden)  # h_0 = x, h_1, ..., h_L
        self.recognition = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.generative = nn.ModuleList(nn.Linear(b, a) for a, b in itertools.pairwise(sizes))
        self.prior = nn.Parameter(torch.zeros(config.hidden[-1]))  # logits of p(h_L)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Binary data x [B, *shape] -> float [B, D] in the weights' dtype."""
        return self.check_data(x).flatten(1).to(self._dtype())

    # -- the two nets on lists of layer states [x, h_1, ..., h_L] (leading dimensions broadcast) -------
    def recognise(
        self, x: torch.Tensor, k: int, generator: torch.Generator | None
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """k samples h ~ q(h | x), bottom-up, for x [B, D]: the layer states [x, h_1 [k, B, H_1], ..,
        h_L [k, B, H_L]] and log q(h | x) [k, B]. The first layer's input is computed once for all k."""
        logits = self.recognition[0](x).expand(k, *x.shape[:-1], -1)
        states, log_q = [x], x.new_zeros(k, *x.shape[:-1])
        for i in range(len(self.recognition)):
            if i:
                logits = self.recognition[i](states[-1])
            states.append(bernoulli(torch.sigmoid(logits.detach()), generator))
            log_q = log_q + log_bernoulli(logits, states[-1])
        return states, log_q

    def recognition_log_prob(self, states: list[torch.Tensor]) -> torch.Tensor:
        """log q(h_1, .., h_L | x) in nats for layer states [x, h_1, .., h_L] -> [...]."""
        log_q = torch.zeros((), dtype=self._dtype(), device=states[0].device)
        for layer, below, above in zip(self.recognition, states[:-1], states[1:], strict=True):
            log_q = log_q + log_bernoulli(layer(below), above)
        return log_q

    def generative_log_prob(self, states: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(x | h_1) and log p(h_1, .., h_L) in nats for layer states [x, h_1, .., h_L], each [...]."""
        log_ph = log_bernoulli(self.prior, states[-1])
        for layer, below, above in zip(self.generative[1:], states[1:-1], states[2:], strict=True):
            log_ph = log_ph + log_bernoulli(layer(above), below)
        return log_bernoulli(self.generative[0](states[1]), states[0]), log_ph

    @torch.no_grad()
    def dream(self, n: int, generator: torch.Generator | None, temperature: float = 1.0) -> list[torch.Tensor]:
        """Ancestral samples (h_L, .., h_1, x) ~ p at ``temperature`` (logits / T): layer states
        [x, h_1, .., h_L], each float [n, size]."""
        states = [bernoulli(torch.sigmoid(self.prior / temperature).expand(n, -1), generator)]
        for layer in reversed(self.generative):
            states.insert(0, bernoulli(torch.sigmoid(layer(states[0]) / temperature), generator))
        return states

    # -- the importance weights (the shared bound machinery calls this) -------------------------
    def log_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """k samples h ~ q(h | x) per image of x uint8 [B, *shape]: ``log_px`` = log p(x | h_1),
        ``log_pz`` = log p(h), ``log_qz`` = log q(h | x), each [k, B] nats."""
        states, log_q = self.recognise(self.inputs(x), k, generator)
        log_px, log_ph = self.generative_log_prob(states)
        return {"log_px": log_px, "log_pz": log_ph, "log_qz": log_q}

    # -- training ---------------------------------------------------------------------------------
    def loss(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The wake-sleep or RWS surrogate for batch x uint8 [B, *shape].

        Its value is the negative training estimate (RWS: ``-log mean_i w_i``; wake-sleep: ``-mean_i
        log w_i``), nats per image; its gradient is the algorithm's update. Metrics: ``sleep_nll``
        (``-log q(h | x)`` of the dreams, when the sleep phase runs) and, for RWS, ``ess`` (the
        effective sample size ``1 / Σ ω_i²`` of the k samples, mean over images).
        """
        c = self.config
        t = self.log_weights(x, c.k, generator)
        log_p = t["log_px"] + t["log_pz"]  # [k, B], gradients into the generative net
        log_q = t["log_qz"]  # gradients into the recognition net
        log_w = (log_p - log_q).detach()
        metrics: dict[str, torch.Tensor] = {}
        if c.algorithm == "rws":
            omega = torch.softmax(log_w, 0)
            value = torch.logsumexp(log_w, 0) - math.log(c.k)
            surrogate = -(omega * log_p).sum(0).mean()
            q_terms = []
            if c.q_update in ("wake", "both"):
                q_terms.append(-(omega * log_q).sum(0).mean())
            metrics["ess"] = (1.0 / omega.pow(2).sum(0)).mean()
        else:
            value = log_w.mean(0)
            surrogate = -log_p.mean()
            q_terms = []
        if c.algorithm == "wake-sleep" or c.q_update in ("sleep", "both"):
            dreams = self.dream(len(x), generator)
            sleep = -self.recognition_log_prob(dreams).mean()
            q_terms.append(sleep)
            metrics["sleep_nll"] = sleep.detach()
        surrogate = surrogate + sum(q_terms) / len(q_terms)
        loss = -value.mean() + (surrogate - surrogate.detach())
        return loss, {key: v.detach() for key, v in metrics.items()}

    # -- density ----------------------------------------------------------------------------------
    @torch.no_grad()
    def exact_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = log Σ_h p(x, h) by enumerating every hidden state (Σ hidden <= 20): x [B, *shape] -> [B] nats."""
        sizes = self.config.hidden
        if sum(sizes) > EXACT_LIMIT:
            raise ValueError(
                f"exact_log_prob enumerates 2^(sum of hidden) states; at most 2^{EXACT_LIMIT}; got {sizes}"
            )
        v = self.inputs(x)
        every = binary_states(sum(sizes), dtype=v.dtype, device=v.device)  # [S, Σ H]
        per_chunk = max(1, self.config.eval_rows // max(1, len(v)))
        total = []
        for hs in every.split(per_chunk):
            layers = list(hs[:, None, :].expand(-1, len(v), -1).split(list(sizes), dim=-1))  # each [s, B, H_l]
            log_px, log_ph = self.generative_log_prob([v, *layers])
            total.append(torch.logsumexp(log_px + log_ph, 0))
        return torch.logsumexp(torch.stack(total), 0)

    # -- generation ---------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` ancestral samples, uint8 [n, *shape]; ``temperature`` T divides every layer's logits."""
        if n < 0 or temperature <= 0:
            raise ValueError(f"need n >= 0 and temperature > 0; got n={n}, temperature={temperature}")
        return self.dream(n, generator, temperature)[0].to(torch.uint8).view(n, *self.config.shape)

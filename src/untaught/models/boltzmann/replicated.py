"""Replicated softmax: an RBM over bags of words (Salakhutdinov & Hinton 2009).

A document of N words with counts ``v ∈ ℕ^K`` over a vocabulary of K words is N softmax units that
share their weights, so with binary hidden units ``h``

    E(v, h) = -v·W·h - b·v - N c·h,
    p(h_j = 1 | v) = σ(N c_j + v·W_j),    each word ~ softmax_k(b_k + W_k·h),

the hidden biases scaling with the length. ``p(v)`` is the probability of the document's word
sequence (any fixed order; the bag's probability adds ``log N! / Π v_k!``), the quantity behind the
per-word perplexity ``exp(-Σ log p(v) / Σ N)`` of topic models. Its normaliser depends on N:

    Z_N = Σ_h exp(N c·h) (Σ_k exp(b_k + W_k·h))^N,

a sum over the 2^H hidden states, computed exactly for H <= 20 and by AIS otherwise (annealing the
interaction from independent uniform words). Training is CD-k through the RBM's update (no
persistent chains: every document keeps its own length); each hidden unit is a "topic" whose
largest weights name its words (:meth:`ReplicatedSoftmax.topics`).

References:
    Salakhutdinov, Hinton. Replicated softmax: an undirected topic model. NIPS 2009.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from .ais import LogPartition, _summarise, beta_schedule
from .rbm import RBM, RBMConfig
from .units import bernoulli, over_states


@dataclass
class ReplicatedSoftmaxConfig(RBMConfig):
    """Replicated softmax hyperparameters: the RBM's, for word counts ``float [B, K]`` (``levels`` None),
    CD-k only; ``sample_words`` is the length of the documents :meth:`ReplicatedSoftmax.sample` draws.
    AIS (more than 20 hidden units) anneals ``ais_chains`` runs for every distinct document length."""

    shape: tuple[int, ...] = (2000,)
    levels: int | None = None
    hidden: int = 16  # exact log Z_N (2^16 hidden states); the paper's 50 take --hidden 50 and AIS
    persistent: bool = False
    learning_rate: float = 0.02
    momentum: float = 0.5
    weight_cost: float = 0.0
    sample_words: int = 50
    ais_chains: int = 20  # per distinct document length: a test set has a hundred or more
    ais_betas: int = 300

    def check_data_kind(self) -> None:
        if self.levels is not None or len(self.shape) != 1:
            raise ValueError(
                "the replicated softmax models word counts float [B, K]: shape must be (K,) and levels None "
                f"(e.g. --data python-docs); got shape {self.shape} and levels {self.levels}"
            )
        if self.persistent:
            raise ValueError(
                "persistent must be False: the replicated softmax trains by CD-k (documents keep their lengths)"
            )
        if self.sample_words < 1:
            raise ValueError(f"sample_words must be an integer >= 1; got {self.sample_words}")


class ReplicatedSoftmax(RBM):
    """Replicated softmax over a vocabulary of ``config.shape[0]`` words.

    ``log_prob(x)``: counts float [B, K] -> [B] nats (word-sequence probability; exact for H <= 20,
    else AIS per document length); ``sample(n)`` -> counts float [n, K] of ``sample_words`` words;
    ``encode(x)`` -> p(h = 1 | x) [B, H]; ``topics(vocabulary)``.
    """

    Config = ReplicatedSoftmaxConfig
    name = "rsm"
    description = "Replicated softmax RBM over bags of words, CD-k, topics (Salakhutdinov & Hinton 2009)"
    config: ReplicatedSoftmaxConfig

    def __init__(self, config: ReplicatedSoftmaxConfig) -> None:
        super().__init__(config)
        self._log_z_by_length: tuple[tuple, dict[int, LogPartition]] | None = None

    # -- the hooks of the RBM --------------------------------------------------------------------
    def visible(self, x: torch.Tensor) -> torch.Tensor:
        """Word counts x [B, K] (non-negative integers as floats) -> float [B, K]."""
        v = self.check_data(x).to(self.weight.dtype)
        if v.numel() and (bool((v < 0).any()) or not torch.equal(v, v.round())):
            raise ValueError("x must hold word counts: non-negative integers")
        return v

    def hidden_input(self, v: torch.Tensor) -> torch.Tensor:
        """N c + v·W with N = Σ v: [B, K] -> [B, H]."""
        return v @ self.weight + v.sum(1, keepdim=True) * self.hidden_bias

    def hidden_bias_statistic(self, v: torch.Tensor, ph: torch.Tensor) -> torch.Tensor:
        return v.sum(1, keepdim=True) * ph

    def visible_probs(self, h: torch.Tensor) -> torch.Tensor:
        """The word distribution softmax(b + W h): h [B, H] -> [B, K] (sums to 1)."""
        return torch.softmax(h @ self.weight.T + self.visible_bias, dim=1)

    def gibbs(self, v: torch.Tensor, steps: int, generator: torch.Generator | None) -> torch.Tensor:
        """Block Gibbs steps that keep every document's length: counts [B, K] -> [B, K]."""
        lengths = v.sum(1).round().long()
        for _ in range(steps):
            h = bernoulli(self.hidden_probs(v), generator)
            v = draw_counts(self.visible_probs(h), lengths, generator)
        return v

    # -- likelihood -----------------------------------------------------------------------------------
    def _enumerated_units(self) -> int:
        return self.config.hidden  # the word counts sum out for every hidden state

    def log_partition(
        self,
        method: Literal["exact", "ais"] | None = None,
        *,
        length: int = 1,
        chains: int | None = None,
        betas: int | None = None,
        generator: torch.Generator | None = None,
    ) -> LogPartition:
        """log Z_N in nats for documents of ``length`` N words (exact or AIS, as ``config.log_z`` says)."""
        return self.log_partitions([length], method, chains=chains, betas=betas, generator=generator)[length]

    @torch.no_grad()
    def log_partitions(
        self,
        lengths: list[int],
        method: Literal["exact", "ais"] | None = None,
        *,
        chains: int | None = None,
        betas: int | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[int, LogPartition]:
        """log Z_N for every N in ``lengths`` (one pass over the hidden states, or one AIS run for all)."""
        method = method or ("exact" if self.log_z_is_exact else "ais")
        n = torch.tensor(sorted(set(lengths)), dtype=torch.float64, device=self.weight.device)
        if method == "exact":
            values = exact_rsm_log_partition(self.weight, self.visible_bias, self.hidden_bias, n)
            return {int(k): LogPartition.exact(float(z)) for k, z in zip(n, values, strict=True)}
        if method != "ais":
            raise ValueError(f"method must be 'exact' or 'ais'; got {method!r}")
        return ais_rsm_log_partition(
            self.weight, self.visible_bias, self.hidden_bias, [int(k) for k in n],
            chains=chains or self.config.ais_chains, betas=betas or self.config.ais_betas,
            generator=generator or torch.Generator().manual_seed(0),
        )  # fmt: skip

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = -F(x) - log Z_N in nats for word counts x [B, K] -> [B] (word sequence; see the module)."""
        v = self.visible(x)
        lengths = v.sum(1).round().long()
        key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in self.parameters())
        if self._log_z_by_length is None or self._log_z_by_length[0] != key:
            self._log_z_by_length = (key, {})
        cache = self._log_z_by_length[1]
        missing = sorted({int(k) for k in lengths} - set(cache))
        if missing:
            cache.update(self.log_partitions(missing))
        log_z = torch.tensor([cache[int(k)].log_z for k in lengths], dtype=v.dtype, device=v.device)
        return -self.free_energy(v) - log_z

    def example_data(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` random documents in this model's data space (1 to 20 uniform words): counts float64 [n, K]."""
        lengths = torch.randint(1, 21, (n,), generator=generator)
        k = self.config.dims
        return draw_counts(torch.full((n, k), 1.0 / k, dtype=torch.float64), lengths, generator)

    # -- generation and topics ------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` documents of ``config.sample_words`` words after ``config.sample_steps`` Gibbs steps:
        counts float [n, K]; ``temperature`` T samples from p(v)^(1/T)."""
        if temperature <= 0:
            raise ValueError(f"temperature must be positive; got {temperature}")
        k = self.config.dims
        lengths = torch.full((n,), self.config.sample_words, dtype=torch.long, device=self.weight.device)
        v = draw_counts(
            torch.full((n, k), 1.0 / k, dtype=self.weight.dtype, device=self.weight.device), lengths, generator
        )
        for _ in range(self.config.sample_steps):
            h = bernoulli(torch.sigmoid(self.hidden_input(v) / temperature), generator)
            v = draw_counts(torch.softmax((h @ self.weight.T + self.visible_bias) / temperature, 1), lengths, generator)
        return v

    def topics(self, vocabulary: list[str], words: int = 10) -> list[list[str]]:
        """For every hidden unit, its ``words`` words of largest weight (its 'topic'), most typical first.

        Each word's mean weight over the hidden units is removed first: it acts like a visible bias
        (frequent words get it from every unit) and would put the same common words in every topic.
        """
        if len(vocabulary) != self.config.dims:
            raise ValueError(f"vocabulary must have {self.config.dims} words (the model's); got {len(vocabulary)}")
        w = self.weight.detach()
        top = (w - w.mean(1, keepdim=True)).topk(min(words, self.config.dims), dim=0).indices.T  # [H, words]
        return [[vocabulary[i] for i in row.tolist()] for row in top]


def draw_counts(probs: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Word counts of documents: row i draws ``lengths[i]`` words from ``probs[i]``; float [B, K]."""
    b = probs.shape[0]
    most = int(lengths.max()) if b else 0
    if most == 0:
        return torch.zeros_like(probs)
    device = generator.device if generator is not None else probs.device
    words = torch.multinomial(probs.to(device).double(), most, replacement=True, generator=generator).to(probs.device)
    keep = (torch.arange(most, device=probs.device)[None, :] < lengths[:, None]).to(probs.dtype)
    return torch.zeros_like(probs).scatter_add_(1, words, keep)


def exact_rsm_log_partition(
    weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """log Z_N = log Σ_h exp(N (c·h + log Σ_k exp(b_k + W_k·h))) for each N in ``lengths``: float64 [L]."""
    w, b, c = (t.detach().double() for t in (weight, visible_bias, hidden_bias))
    h_units = w.shape[1]
    if h_units > 26:
        raise ValueError(f"exact log Z enumerates 2^{h_units} hidden states; at most 2^26 are allowed")

    def per_word(h: torch.Tensor) -> torch.Tensor:  # hidden states [S, H] -> c·h + log Σ_k exp(b_k + W_k·h) [S]
        return h @ c + torch.logsumexp(h @ w.T + b, dim=1)

    s = over_states(h_units, per_word, block=1 << min(h_units, 12), device=w.device)  # [2^H]
    return torch.logsumexp(lengths.double().to(w.device)[:, None] * s[None, :], dim=1)


@torch.no_grad()
def ais_rsm_log_partition(
    weight: torch.Tensor,
    visible_bias: torch.Tensor,
    hidden_bias: torch.Tensor,
    lengths: list[int],
    *,
    chains: int = 100,
    betas: int = 1000,
    generator: torch.Generator | None = None,
) -> dict[int, LogPartition]:
    """AIS estimates of log Z_N for every length N (all lengths annealed together, ``chains`` each).

    Base model: words uniform over the K-word vocabulary, hidden units free (log Z_0 = N log K + H log 2);
    ``p*_β(v) = Π_j (1 + exp(β (N c_j + v·W_j))) exp(β b·v)``.
    """
    if chains < 2:
        raise ValueError(f"chains must be >= 2 to estimate the spread; got {chains}")
    w, b, c = weight.detach(), visible_bias.detach(), hidden_bias.detach()
    k, h_units = w.shape
    n = torch.tensor(lengths, dtype=torch.long, device=w.device).repeat_interleave(chains)  # [L * chains]
    nf = n.to(w.dtype)[:, None]
    v = draw_counts(torch.full((len(n), k), 1.0 / k, dtype=w.dtype, device=w.device), n, generator)
    log_w = torch.zeros(len(n), dtype=torch.float64, device=w.device)
    for prev, beta in zip(beta_schedule(betas).tolist()[:-1], beta_schedule(betas).tolist()[1:], strict=True):
        hidden_input = v @ w + nf * c
        visible = v @ b
        log_w += (
            (beta - prev) * visible + (F.softplus(beta * hidden_input) - F.softplus(prev * hidden_input)).sum(1)
        ).double()
        if beta < 1.0:
            hid = bernoulli(torch.sigmoid(beta * hidden_input), generator)
            v = draw_counts(torch.softmax(beta * (hid @ w.T + b), 1), n, generator)
    out = {}
    for i, length in enumerate(lengths):
        base = length * math.log(k) + h_units * math.log(2.0)
        out[length] = _summarise(log_w[i * chains : (i + 1) * chains], base, betas)
    return out

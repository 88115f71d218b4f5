"""Why the restriction makes inference tractable: the fully connected Boltzmann machine (`full-bm`)
against the RBM with the same units, timed on the operations that the restriction changes.

1. Exact posterior marginals p(h_j = 1 | v) for 100 binary vectors with D = 16 visibles: the full
   BM sums 2^H hidden states (:func:`untaught.models.boltzmann.full.hidden_terms`, as
   ``FullBM.encode``); the RBM's posterior is factorial, one matrix product (``RBM.hidden_probs``).
2. One Gibbs sweep of 100 chains over all N = D + H units: the full BM visits the units one after
   another (:func:`untaught.models.boltzmann.full.sequential_gibbs`, N matrix-vector products);
   the RBM samples each layer at once (``RBM.gibbs``, two matrix products).
3. Exact log Z with D = 16: the full BM enumerates 2^(D + H) joint states; the RBM 2^min(D, H).

Random symmetric weights (std 0.1, zero diagonal), float32, ``--threads`` threads; every time is
the median of ``--repeats`` calls after one warm-up call.

    python bench/boltzmann_full_vs_rbm.py --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch

from untaught.models.boltzmann import RBM, FullBM, FullBMConfig, RBMConfig
from untaught.models.boltzmann.full import binary_states, hidden_terms, sequential_gibbs
from untaught.models.boltzmann.units import bernoulli


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def symmetric(n: int, std: float = 0.1) -> torch.Tensor:
    """A random symmetric [n, n] weight matrix with a zero diagonal."""
    upper = (torch.randn(n, n) * std).triu(1)
    return upper + upper.T


def rbm(d: int, h: int) -> RBM:
    return RBM(RBMConfig(shape=(1, 1, d), hidden=h, init_std=0.1))


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    d = 16
    v = torch.randint(0, 2, (100, d), generator=gen).float()

    print(f"| H | full BM posterior, 2^H states (ms) | RBM posterior, factorial (ms) | ratio |  (D = {d}, 100 vectors)")
    for h in (4, 8, 12, 16):
        full = median_seconds(partial(full_posterior, v, symmetric(d + h), torch.zeros(d + h), d), args.repeats)
        restricted = median_seconds(partial(rbm(d, h).hidden_probs, v), args.repeats)
        print(f"| {h} | {1e3 * full:.3f} | {1e3 * restricted:.3f} | {full / restricted:.1f} |")

    print("\n| D + H | full BM sweep, N sequential steps (ms) | RBM sweep, 2 block steps (ms) | ratio |  (100 chains)")
    for dv, h in ((16, 8), (64, 64), (784, 500)):
        n = dv + h
        s = bernoulli(torch.full((100, n), 0.5), gen)
        full = median_seconds(partial(sequential_gibbs, s, symmetric(n, 0.01), torch.zeros(n), 1, gen), args.repeats)
        restricted = median_seconds(partial(rbm(dv, h).gibbs, s[:, :dv], 1, gen), args.repeats)
        print(f"| {dv} + {h} | {1e3 * full:.2f} | {1e3 * restricted:.3f} | {full / restricted:.1f} |")

    print(f"\n| H | full BM log Z, 2^(D+H) states (s) | RBM log Z, 2^min(D,H) states (s) |  (D = {d})")
    for h in (4, 8):
        model = FullBM(FullBMConfig(shape=(1, 1, d), hidden=h, init_std=0.1))
        full = median_seconds(model.log_partition, args.repeats)
        restricted = median_seconds(partial(rbm(d, h).log_partition, "exact"), args.repeats)
        print(f"| {h} | {full:.3f} | {restricted:.4f} |")


def full_posterior(v: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, d: int) -> torch.Tensor:
    """p(h_j = 1 | v) of a fully connected machine by summing all 2^H hidden states: v [B, D] -> [B, H]."""
    states = binary_states(len(bias) - d, dtype=v.dtype)
    return torch.softmax(hidden_terms(v, weight, bias, d), 1) @ states


if __name__ == "__main__":
    main()

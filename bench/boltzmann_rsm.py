"""Replicated softmax on the python-docs corpus (ships with CPython): test perplexity and topics.

Trains ``rsm`` through the engine (16 hidden units, so log Z_N is exact for every document length),
then prints the test log-likelihood per document and the per-word perplexity
``exp(-Σ log p(v) / Σ N)`` against the add-one-smoothed unigram model fitted on the training split,
and the top words of every hidden unit.

    python bench/boltzmann_rsm.py [--epochs 40] [--hidden 16] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import time

import torch

import untaught
from untaught.data import load_split
from untaught.data.text import vocabulary
from untaught.models.boltzmann.replicated import ReplicatedSoftmax, ReplicatedSoftmaxConfig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    train, test = load_split("python-docs", "train").x.double(), load_split("python-docs", "test").x.double()
    words = float(test.sum())
    unigram = (train.sum(0) + 1) / (train.sum() + train.shape[1])
    uni_ll = (test * unigram.log()).sum(1)

    torch.manual_seed(0)
    model = ReplicatedSoftmax(ReplicatedSoftmaxConfig(shape=(train.shape[1],), hidden=args.hidden))
    run = untaught.train(
        model, "python-docs", epochs=args.epochs, batch_size=20, threads=args.threads, progress=False, samples=0,
        select="last", out=f"runs/bench-rsm-{time.strftime('%Y%m%d-%H%M%S')}",
    )  # fmt: skip
    ll = run.model.double().log_prob(test)
    print(
        f"python-docs: {len(train)} train / {len(test)} test paragraphs, {train.shape[1]} words, {words:.0f} test words"
    )
    print(f"trained {args.epochs} epochs in {run.metrics['fit_seconds']:.1f} s ({run.metrics['threads']} thread(s))")
    for name, values in (("replicated softmax", ll), ("unigram (add-one)", uni_ll)):
        print(
            f"{name:<20} test log p {float(values.mean()):9.3f} ± {float(values.std()) / math.sqrt(len(values)):.3f} "
            f"nats/doc ({run.model.log_prob_kind if name.startswith('rep') else 'exact'}), "
            f"perplexity {math.exp(-float(values.sum()) / words):7.1f}"
        )
    print("topics (largest weights of each hidden unit):")
    for j, topic in enumerate(run.model.topics(vocabulary("python-docs"), 8)):
        print(f"  {j:2d}: {' '.join(topic)}")


if __name__ == "__main__":
    main()

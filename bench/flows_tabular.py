"""Flows on a tabular set (``breast-cancer``: 24 log-standardised UCI features): test NLL in nats.

Each flow is trained by untaught's engine for ``--epochs`` (keeping the best validation epoch) with
weight decay; a full-covariance Gaussian fitted to the training split by maximum likelihood is the
baseline every flow must beat. NLLs are exact (continuous data), per example, in nats.

    python bench/flows_tabular.py [--models maf,realnvp,glow] [--epochs 150] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

import untaught
from untaught.data import load_split
from untaught.registry import get_model_class

CONFIGS = {
    "maf": dict(layers=5, hidden=(128, 128)),
    "realnvp": dict(couplings=4, hidden=128, blocks=2),
    "glow": dict(steps=8, hidden=128),
    "nice": dict(couplings=4, hidden=(128, 128)),
}


def gaussian_baseline(data: str) -> tuple[float, float]:
    """Test NLL (mean, standard error) of the ML full-covariance Gaussian of the training split."""
    train, test = load_split(data, "train").x.double(), load_split(data, "test").x.double()
    mean = train.mean(0)
    cov = torch.cov(train.T, correction=0)
    nll = -torch.distributions.MultivariateNormal(mean, cov).log_prob(test)
    return float(nll.mean()), float(nll.std() / math.sqrt(len(nll)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="breast-cancer")
    parser.add_argument("--models", default="maf,realnvp,glow")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    info = untaught.data.get_info(args.data)
    print(f"torch {torch.__version__}, {args.threads} threads; {args.data}: {info.shape[0]} features, {info.sizes}")
    base, se = gaussian_baseline(args.data)
    print(f"{'gaussian':<8} full-covariance ML fit          test NLL {base:.3f} ± {se:.3f} nats", flush=True)
    for name in args.models.split(","):
        cls = get_model_class(name)
        torch.manual_seed(args.seed)
        model = cls(cls.Config(shape=info.shape, levels=None, **CONFIGS[name]))
        run = untaught.train(
            model,
            args.data,
            out=Path("runs") / f"flows-tabular-{name}-{time.strftime('%H%M%S')}",
            epochs=args.epochs,
            batch_size=64,
            lr=1e-3,
            weight_decay=args.weight_decay,
            seed=args.seed,
            threads=args.threads,
            progress=False,
            samples=0,
        )
        m = run.metrics
        print(
            f"{name:<8} params {m['parameters']:>7}, {m['train_step_seconds']:5.1f} s, {m['selected']:<28} "
            f"test NLL {m['test_nll_nats']:.3f} ± {m['test_nll_stderr_nats']:.3f} nats ({m['test_nll_kind']}), "
            f"val {m['val_nll_nats']:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Classical baselines on the toy densities: histogram (Scott's rule), Gaussian and a mixture of
Gaussians by EM, each trained through the engine; test NLL in nats per point, the integral of each
fitted density over a grid (it must be 1), and a picture of every fit.

    python bench/latent_baselines_toys.py --out bench/pictures/baselines-toys.png

1-D: the first coordinate of ``moons`` (a bimodal 1-D density). 2-D: every registered toy set.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

TOYS = ("moons", "gaussians", "checkerboard", "spirals", "rings")


def models():
    from untaught.models.baselines import (
        Gaussian,
        GaussianConfig,
        GaussianMixture,
        GaussianMixtureConfig,
        Histogram,
        HistogramConfig,
    )

    # (label, builder(shape), engine options): the histogram needs 2 epochs (moments, then counts),
    # the Gaussian one, EM one epoch per iteration
    return [
        ("histogram", lambda s: Histogram(HistogramConfig(shape=s)), dict(epochs=2)),
        ("gaussian", lambda s: Gaussian(GaussianConfig(shape=s)), dict(epochs=1)),
        (
            "gmm (K=10, 60 EM steps)",
            lambda s: GaussianMixture(GaussianMixtureConfig(shape=s, components=10)),
            {"epochs": 60},
        ),
    ]


def one_dimensional():
    from untaught.data import Split
    from untaught.training import prepare
    from untaught.training.data import TrainingData

    full = prepare("moons")
    cut = {s: Split(getattr(full, s).x[:, :1].contiguous(), getattr(full, s).y, None) for s in ("train", "val", "test")}
    return TrainingData("moons-x (1-D)", cut["train"], cut["val"], cut["test"], None)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="bench/pictures/baselines-toys.png")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--toys", default=",".join(TOYS), help="comma-separated 2-D toy sets")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import untaught
    from untaught.training import prepare
    from untaught.viz.flows import density_grid

    sets = [("moons-x (1-D)", one_dimensional())] + [(t, prepare(t)) for t in args.toys.split(",") if t]
    fig, axes = plt.subplots(len(sets), 4, figsize=(12, 3 * len(sets)))
    print(f"{'data':<16} {'model':<26} {'test NLL (nats/point)':>22} {'integral':>9} {'fit s':>6}")
    for row, (name, data) in enumerate(sets):
        test = data.test.x.double()
        one_d = data.shape == (1,)
        ax = axes[row, 0]
        if one_d:
            ax.hist(test[:, 0].numpy(), bins=100, density=True, color="grey")
            ax.set_xlim(-3, 3)
        else:
            ax.hist2d(test[:, 0].numpy(), test[:, 1].numpy(), bins=120, range=[[-3, 3], [-3, 3]], cmap="magma")
        ax.set_title(f"{name}: test data", fontsize=9)
        for col, (label, build, options) in enumerate(models(), 1):
            torch.manual_seed(0)
            model = build(data.shape)
            started = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                run = untaught.train(
                    model, data, batch_size=5000, progress=False, samples=0, threads=args.threads, out=tmp, **options
                )
            seconds = time.perf_counter() - started
            fitted = run.model.double()
            ax = axes[row, col]
            if one_d:
                grid = torch.linspace(-8, 8, 8001, dtype=torch.float64).unsqueeze(1)
                with torch.no_grad():
                    density = fitted.log_prob(grid).exp()
                mass = float(torch.trapezoid(density, grid[:, 0]))
                ax.hist(test[:, 0].numpy(), bins=100, density=True, color="lightgrey")
                ax.plot(grid[:, 0].numpy(), density.numpy(), color="C3")
                ax.set_xlim(-3, 3)
            else:
                lp, mass = density_grid(fitted, -4.5, 4.5, n=450)
                ax.imshow(np.exp(lp), origin="lower", extent=(-4.5, 4.5, -4.5, 4.5), cmap="magma")
                ax.set_xlim(-3, 3)
                ax.set_ylim(-3, 3)
            nll = run.metrics["test_nll_nats"]
            ax.set_title(f"{label}\nNLL {nll:.3f} nats, integral {mass:.3f}", fontsize=9)
            print(f"{name:<16} {label:<26} {nll:>22.4f} {mass:>9.4f} {seconds:>6.1f}", flush=True)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

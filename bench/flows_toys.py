"""Flows on the 2-D toy densities and the 1-D CDF flow: test NLL (exact, nats) and pictures.

Every model is trained by untaught's engine (``untaught.train``) for the stated time budget on the
toy's training split (20 000 points), keeping the best validation epoch; the test NLL is over the
5 000 test points. For each (model, toy) a picture shows data with a grid, the data and the grid
mapped to noise (encode), the density heat map and samples (decode); the density's integral over
the shown square is printed next to the NLL (it should be 1 but for mass outside the square).

``--cdf`` trains the 1-D CDF flow on a two-component 1-D mixture with each target (uniform, beta,
normal) and draws the lecture's before/after pictures.

    python bench/flows_toys.py --models realnvp,glow,maf --data moons,checkerboard --minutes 0.4 --out docs/flows
    python bench/flows_toys.py --cdf --out docs/flows
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch

import untaught
from untaught.data import Split
from untaught.registry import get_model_class
from untaught.training import TrainingData
from untaught.viz.flows import cdf_figure, flow_2d_figure

CONFIGS = {
    "nice": dict(couplings=4, hidden=(128, 128, 128)),
    "realnvp": dict(couplings=4, hidden=128, blocks=2),
    "glow": dict(steps=8, hidden=128),
    "maf": dict(layers=5, hidden=(128, 128)),
    "iaf": dict(layers=5, hidden=(128, 128)),
    "ffjord": dict(hidden=(64, 64, 64), rtol=1e-5, atol=1e-5),
}


def toys(args: argparse.Namespace, out: Path) -> None:
    rows = []
    for data in args.data.split(","):
        test = untaught.data.load_split(data, "test").x
        for name in args.models.split(","):
            cls = get_model_class(name)
            torch.manual_seed(args.seed)
            model = cls(cls.Config(shape=(2,), levels=None, **CONFIGS[name]))
            run = untaught.train(
                model,
                data,
                out=Path("runs") / f"flows-toys-{name}-{data}-{time.strftime('%H%M%S')}",
                max_time=args.minutes,
                batch_size=512,
                lr=args.lr,
                seed=args.seed,
                threads=args.threads,
                progress=False,
                samples=0,
            )
            m = run.metrics
            mass = flow_2d_figure(
                run.model,
                test,
                out / f"{name}-{data}.png",
                title=f"{name} on {data}: test NLL {m['test_nll_nats']:.3f} nats",
            )
            rows.append((name, data, m["parameters"], m["epochs"], m["train_step_seconds"], m, mass))
            print(
                f"{name:<8} {data:<13} params {m['parameters']:>7}  epochs {m['epochs']:>4}  "
                f"train {m['train_step_seconds']:6.1f} s  test NLL {m['test_nll_nats']:.4f} ± "
                f"{m['test_nll_stderr_nats']:.4f} nats ({m['test_nll_kind']})  integral {mass:.4f}",
                flush=True,
            )


def bimodal(n: int, seed: int) -> torch.Tensor:
    """0.3 N(-1.5, 0.4^2) + 0.7 N(1, 0.7^2), float32 [n, 1]."""
    gen = torch.Generator().manual_seed(seed)
    left = torch.rand(n, generator=gen) < 0.3
    x = torch.where(left, -1.5 + 0.4 * torch.randn(n, generator=gen), 1.0 + 0.7 * torch.randn(n, generator=gen))
    return x[:, None].float()


def cdf(args: argparse.Namespace, out: Path) -> None:
    splits = {
        s: Split(bimodal(n, i), torch.full((n,), -1), None)
        for i, (s, n) in enumerate([("train", 20000), ("val", 5000), ("test", 5000)])
    }
    data = TrainingData("bimodal-1d", splits["train"], splits["val"], splits["test"], None)
    for target in ("uniform", "beta", "normal"):
        torch.manual_seed(args.seed)
        model = get_model_class("cdf-flow")(get_model_class("cdf-flow").Config(shape=(1,), target=target, components=6))
        before = copy.deepcopy(model).eval()
        run = untaught.train(
            model,
            data,
            out=Path("runs") / f"flows-cdf-{target}-{time.strftime('%H%M%S')}",
            epochs=args.cdf_epochs,
            batch_size=512,
            lr=2e-2,
            seed=args.seed,
            threads=args.threads,
            progress=False,
            samples=0,
        )
        cdf_figure(before, run.model, splits["test"].x, out / f"cdf-{target}.png", title=f"CDF flow, target {target}")
        m = run.metrics
        print(
            f"cdf-flow target {target:<8} test NLL {m['test_nll_nats']:.4f} ± {m['test_nll_stderr_nats']:.4f} nats "
            f"(exact; the true density's entropy is {true_entropy():.4f} nats)",
            flush=True,
        )


def true_entropy() -> float:
    """Monte Carlo cross-entropy of the bimodal test points under the true mixture (the NLL floor)."""
    x = bimodal(5000, 2).double().flatten()
    normal = torch.distributions.Normal
    lp = torch.logsumexp(
        torch.stack(
            [
                normal(-1.5, 0.4).log_prob(x) + torch.log(torch.tensor(0.3)),
                normal(1.0, 0.7).log_prob(x) + torch.log(torch.tensor(0.7)),
            ]
        ),
        0,
    )
    return float(-lp.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="realnvp,glow,maf")
    parser.add_argument("--data", default="moons,checkerboard")
    parser.add_argument("--minutes", type=float, default=0.4, help="training budget per (model, toy)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--cdf", action="store_true", help="the 1-D CDF flow pictures instead of the 2-D toys")
    parser.add_argument("--cdf-epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/flows")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"torch {torch.__version__}, {args.threads} threads; pictures in {out}", flush=True)
    cdf(args, out) if args.cdf else toys(args, out)


if __name__ == "__main__":
    main()

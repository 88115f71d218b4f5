"""Flows on the 2-D toy densities and the 1-D CDF flow: test NLL (exact, nats) and pictures.

Every model is trained by untaught's engine (``untaught.train``) for the stated time budget on the
toy's training split (20 000 points), keeping the best validation epoch; the test NLL is over the
5 000 test points. For each (model, toy) a picture shows data with a grid, the data and the grid
mapped to noise (encode), the density heat map and samples (decode); the density's integral over
the shown square is printed next to the NLL (it should be 1 but for mass outside the square).

``--cdf`` trains the 1-D CDF flow on the registered 1-D toys (``bimodal-1d``, ``skewed-1d``) with
each target (uniform, beta, normal), prints its test NLL next to the true density's on the same
points, and draws the lecture's before/after pictures.

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
from untaught.data.toy import bimodal_log_density, skewed_log_density
from untaught.registry import get_model_class
from untaught.viz.flows import cdf_figure, flow_2d_figure

CONFIGS = {
    "nice": dict(couplings=4, hidden=(128, 128, 128)),
    "realnvp": dict(couplings=4, hidden=128, blocks=2),
    "glow": dict(steps=8, hidden=128),
    "maf": dict(layers=5, hidden=(128, 128)),
    "iaf": dict(layers=5, hidden=(128, 128)),
    "ffjord": dict(hidden=(64, 64, 64), rtol=1e-5, atol=1e-5),
}
TRUE_LOG_DENSITY = {"bimodal-1d": bimodal_log_density, "skewed-1d": skewed_log_density}


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
            rows.append(
                f"| `{data}` | {name} | {m['parameters']:,} | {m['epochs']} | "
                f"{m['test_nll_nats']:.4f} ± {m['test_nll_stderr_nats']:.4f} | {mass:.4f} |"
            )
            print(
                f"{name:<8} {data:<13} params {m['parameters']:>7}  epochs {m['epochs']:>4}  "
                f"train {m['train_step_seconds']:6.1f} s  test NLL {m['test_nll_nats']:.4f} ± "
                f"{m['test_nll_stderr_nats']:.4f} nats ({m['test_nll_kind']})  integral {mass:.4f}",
                flush=True,
            )
    print("\n| data | model | parameters | epochs | test NLL (nats) | integral over [-3, 3]² |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


def cdf(args: argparse.Namespace, out: Path) -> None:
    for data in args.data.split(","):
        if data not in TRUE_LOG_DENSITY:
            raise SystemExit(f"--cdf trains on the 1-D toys {sorted(TRUE_LOG_DENSITY)}; got {data!r}")
        test = untaught.data.load_split(data, "test").x
        floor = -float(TRUE_LOG_DENSITY[data](test).mean())
        for target in ("uniform", "beta", "normal"):
            cls = get_model_class("cdf-flow")
            torch.manual_seed(args.seed)
            model = cls(cls.Config(shape=(1,), target=target, components=6))
            before = copy.deepcopy(model).eval()
            run = untaught.train(
                model,
                data,
                out=Path("runs") / f"flows-cdf-{data}-{target}-{time.strftime('%H%M%S')}",
                epochs=args.cdf_epochs,
                batch_size=512,
                lr=2e-2,
                seed=args.seed,
                threads=args.threads,
                progress=False,
                samples=0,
            )
            picture = out / f"cdf-{data}-{target}.png"
            cdf_figure(before, run.model, test, picture, title=f"CDF flow on {data}, target {target}")
            m = run.metrics
            print(
                f"cdf-flow {data:<11} target {target:<8} test NLL {m['test_nll_nats']:.4f} ± "
                f"{m['test_nll_stderr_nats']:.4f} nats (exact; the true density's on the same points: "
                f"{floor:.4f}) -> {picture}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="realnvp,glow,maf")
    parser.add_argument("--data", help="toy sets (default moons,checkerboard; with --cdf bimodal-1d,skewed-1d)")
    parser.add_argument("--minutes", type=float, default=0.4, help="training budget per (model, toy)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--cdf", action="store_true", help="the 1-D CDF flow pictures instead of the 2-D toys")
    parser.add_argument("--cdf-epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/flows")
    args = parser.parse_args()
    args.data = args.data or ("bimodal-1d,skewed-1d" if args.cdf else "moons,checkerboard")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"torch {torch.__version__}, {args.threads} threads; pictures in {out}", flush=True)
    cdf(args, out) if args.cdf else toys(args, out)


if __name__ == "__main__":
    main()

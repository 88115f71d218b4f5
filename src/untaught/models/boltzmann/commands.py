"""``untaught rbm-pictures RUN`` (filters and Gibbs chains of an RBM or a DBM), ``untaught ais RUN`` (log Z,
test log-likelihood) and ``untaught topics RUN`` (replicated softmax topics).

Both read a run folder of a trained RBM; heavy imports happen inside the commands.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def chain_snapshots(model, chains: int, steps: int, every: int, generator: torch.Generator) -> torch.Tensor:
    """Gibbs chains of an RBM or a DBM from uniform random states: p(v = 1 | h) (DBM: h¹) every ``every``
    steps (DBM: odd/even sweeps).

    Returns float [chains * (steps // every), *shape], chain-major (one row of the picture per chain).
    """
    if every < 1 or steps < every:
        raise ValueError(f"--every must be in [1, --steps]; got every={every}, steps={steps}")
    from .dbm import DBM
    from .units import bernoulli

    with torch.no_grad():
        if isinstance(model, DBM):
            _, shots = model.gibbs(chains, steps, generator, every=every)
        else:
            v = model.random_visible(chains, generator)
            shots = []
            for step in range(1, steps + 1):
                mean = model.visible_probs(bernoulli(model.hidden_probs(v), generator))
                v = bernoulli(mean, generator)
                if step % every == 0:
                    shots.append(mean)
    return torch.stack(shots, 1).reshape(-1, *model.config.shape)


def cmd_rbm_pictures(args: argparse.Namespace) -> int:
    from ...io import load_run
    from ...viz import save_grid
    from ...viz.filters import save_filters
    from .dbm import DBM
    from .rbm import RBM

    folder, model = load_run(args.run, lambda m: isinstance(m, (RBM, DBM)), "rbm-pictures draws RBMs and DBMs")
    if len(model.config.shape) != 3:
        raise ValueError(f"the {model.name} models data of shape {model.config.shape}: filters need images [C, H, W]")
    out = Path(args.output or folder)
    filters = model.filters()  # DBM: the first layer's
    path = save_filters(filters, out / "filters.png", count=args.filters)
    print(f"wrote {min(args.filters, len(filters))} filters to {path}")
    gen = torch.Generator().manual_seed(args.seed)
    shots = chain_snapshots(model, args.chains, args.steps, args.every, gen)
    levels = (shots * 255).round().to(torch.uint8)
    path = save_grid(levels.cpu(), 256, out / "chains.png", nrow=args.steps // args.every)
    print(f"wrote {args.chains} Gibbs chains (p(v|h) every {args.every} of {args.steps} steps, one per row) to {path}")
    return 0


def cmd_ais(args: argparse.Namespace) -> int:
    import math
    import time

    from ...evaluation import NLL, bits_per_dim, record_evaluation
    from ...io import load_run
    from ...training import run_data
    from .dbm import DBM
    from .rbm import RBM

    folder, model = load_run(
        args.run,
        lambda m: isinstance(m, (RBM, DBM)) and m.config.levels == 2,
        "ais estimates the partition function of rbm and dbm runs",
    )
    torch.set_num_threads(args.threads or torch.get_num_threads())
    start = time.perf_counter()
    log_z = model.log_partition(
        "exact" if args.exact else "ais",
        chains=args.chains,
        betas=args.betas,
        generator=torch.Generator().manual_seed(args.seed),
    )
    print(log_z)
    data = run_data(folder)
    x = getattr(data, args.split).x
    with torch.no_grad():
        # RBM: -F(x) (log p(x) + log Z exactly); DBM: the mean-field bound on it
        score = model.variational_bound if isinstance(model, DBM) else (lambda v: -model.free_energy(v))
        neg_free = torch.cat([score(model.visible(b)).double() for b in x.split(1000)])
    mean, sem = float(neg_free.mean()), float(neg_free.std()) / math.sqrt(len(neg_free))
    kind = "exact" if log_z.method == "exact" else "AIS estimate"
    kind = f"lower bound, log Z {kind}" if isinstance(model, DBM) else kind
    print(
        f"{args.split} log-likelihood: {mean - log_z.log_z:.4f} ± {sem:.4f} nats over {len(x)} examples ({kind}); "
        f"from the log Z interval: [{mean - log_z.high:.4f}, {mean - log_z.low:.4f}]"
    )
    if log_z.method != "exact" and not model.log_z_is_exact:
        # recorded for the leaderboard, which prefers it to the cheaper AIS of training (a run whose
        # own log Z is exact keeps that)
        nats = log_z.log_z - mean
        kind = "lower bound" if isinstance(model, DBM) else "estimate"
        result = NLL(nats, bits_per_dim(nats, model.config.dims), sem, len(x), kind)
        record_evaluation(folder, result, args.split, f"ais_betas={args.betas}", time.perf_counter() - start)
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from ...data.text import vocabulary
    from ...io import CONFIG, load_run, read_json
    from .replicated import ReplicatedSoftmax

    folder, model = load_run(
        args.run, lambda m: isinstance(m, ReplicatedSoftmax), "topics reads replicated softmax (rsm) runs"
    )
    words = vocabulary(read_json(folder / CONFIG)["train"]["data"])
    for j, topic in enumerate(model.topics(words, args.words)):
        print(f"topic {j:3d}: {' '.join(topic)}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rbm-pictures", help="draw an RBM or DBM run's (first-layer) filters and Gibbs chains")
    p.add_argument("run", help="run folder of a trained rbm or dbm")
    p.add_argument("-o", "--output", help="folder for filters.png and chains.png (default: the run folder)")
    p.add_argument("--filters", type=int, default=100, help="filters to draw (default 100)")
    p.add_argument("--chains", type=int, default=10, help="Gibbs chains, one per row (default 10)")
    p.add_argument("--steps", type=int, default=1000, help="Gibbs steps per chain (default 1000)")
    p.add_argument("--every", type=int, default=100, help="steps between snapshots (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_rbm_pictures)

    p = sub.add_parser(
        "ais",
        help="log Z of an RBM or DBM run (AIS with spread, or exact) and its test log-likelihood, "
        "recorded in the run's metrics.json for the leaderboard",
    )
    p.add_argument("run", help="run folder of a trained rbm (binary) or dbm")
    p.add_argument("--chains", type=int, default=100, help="AIS runs (default 100)")
    p.add_argument("--betas", type=int, default=14_500, help="AIS temperatures (default 14500)")
    p.add_argument("--exact", action="store_true", help="enumerate instead (small layers only)")
    p.add_argument("--split", choices=["train", "val", "test"], default="test")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int)
    p.set_defaults(func=cmd_ais)

    p = sub.add_parser("topics", help="the words of largest weight of every hidden unit of a replicated softmax run")
    p.add_argument("run", help="run folder of a trained rsm")
    p.add_argument("--words", type=int, default=10, help="words per topic (default 10)")
    p.set_defaults(func=cmd_topics)

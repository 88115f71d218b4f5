"""Binary RBM (784-500) on binarised Fashion-MNIST: untaught's engine against scikit-learn's BernoulliRBM.

Both train with the same algorithm and settings: PCD-1, 100 persistent chains, minibatch 100, SGD
with learning rate ``--lr``, no momentum, no weight decay, ``--epochs`` passes over the 50,000
training images (untaught in float32; scikit-learn's ``partial_fit`` converts to float64). Time per
epoch counts the training steps only (untaught: the engine's measured step time; scikit-learn:
``partial_fit`` over the same batches). Both models are then scored by the SAME annealed importance
sampling (untaught's AIS, data base rate, ``--ais-chains`` runs x ``--ais-betas`` temperatures):
log Z with its ±3σ interval and the mean test log-likelihood in nats (an estimate, as AIS
log-likelihoods are).

    python bench/boltzmann_rbm.py [--epochs 10] [--threads 1] [--ais-betas 14500]
    python bench/boltzmann_rbm.py --epochs 5 --seeds 3 --skip-defaults   # both libraries from seeds 0, 1, 2
    python bench/boltzmann_rbm.py --digits-only   # the same two algorithms where log Z is exact
    python bench/boltzmann_rbm.py --epochs 5 --diagnose   # four trainers on identical minibatches

A second untaught row trains with its defaults (momentum 0.5 -> 0.9, weight cost 1e-4) for the
same epochs, to show what the library's own settings give.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from sklearn.neural_network import BernoulliRBM
from threadpoolctl import threadpool_limits

import untaught
from untaught.models.boltzmann import RBM, RBMConfig, ais_log_partition
from untaught.training import prepare


def ais_report(name: str, w, b, c, base, test: torch.Tensor, args) -> dict:
    w, b, c = (torch.as_tensor(t, dtype=torch.float32) for t in (w, b, c))
    gen = torch.Generator().manual_seed(123)
    t0 = time.perf_counter()
    log_z = ais_log_partition(w, b, c, base_bias=base, chains=args.ais_chains, betas=args.ais_betas, generator=gen)
    seconds = time.perf_counter() - t0
    free = -(test @ b) - torch.nn.functional.softplus(test @ w + c).sum(1)
    mean_ll = float((-free).double().mean()) - log_z.log_z
    sem = float((-free).double().std()) / math.sqrt(len(test))
    print(
        f"{name:<28} log Z {log_z.log_z:10.3f} [{log_z.low:.3f}, {log_z.high:.3f}]  "
        f"test log-likelihood {mean_ll:9.3f} ± {sem:.3f} nats (AIS estimate; interval from log Z: "
        f"[{float((-free).double().mean()) - log_z.high:.3f}, {float((-free).double().mean()) - log_z.low:.3f}])  "
        f"AIS {seconds:.1f} s"
    )
    return {"log_z": log_z, "test_ll": mean_ll}


def digits_check(args) -> None:
    """The same comparison where log Z is exact: 16 hidden units on binarised digits, 30 epochs, 3 seeds."""
    from untaught.models.boltzmann import exact_log_partition

    data = prepare("digits", binarize="static")
    x, test = data.train.x.flatten(1).float(), data.test.x.flatten(1).double()

    def test_ll(w, b, c) -> float:
        w, b, c = (torch.as_tensor(t, dtype=torch.float64) for t in (w, b, c))
        return float((test @ b + torch.nn.functional.softplus(test @ w + c).sum(1)).mean()) - exact_log_partition(
            w, b, c
        )

    print("digits (binarised, 64 pixels), 16 hidden units, PCD-1, batch 20, 30 epochs: exact test log-likelihood")
    for seed in range(3):
        torch.manual_seed(seed)
        cfg = RBMConfig(shape=(64,), hidden=16, chains=20, learning_rate=args.lr, momentum=0.0, momentum_start=0.0,
                        weight_cost=0.0)  # fmt: skip
        ours = RBM(cfg)
        gen, step = torch.Generator().manual_seed(seed), 0
        peer = BernoulliRBM(n_components=16, learning_rate=args.lr, batch_size=20, random_state=seed)
        rng, x_np = np.random.default_rng(seed), x.numpy()
        with threadpool_limits(args.threads):
            for _ in range(30):
                for idx in torch.randperm(len(x), generator=gen).split(20)[: len(x) // 20]:
                    ours.step_visible(x[idx], step=step, generator=gen)
                    step += 1
                order = rng.permutation(len(x_np))
                for i in range(0, len(order) - 19, 20):
                    peer.partial_fit(x_np[order[i : i + 20]])
        a = test_ll(ours.weight.detach(), ours.visible_bias.detach(), ours.hidden_bias.detach())
        b = test_ll(peer.components_.T, peer.intercept_visible_, peer.intercept_hidden_)
        print(f"  seed {seed}: untaught {a:8.3f} nats, scikit-learn {b:8.3f} nats")


def same_settings(seed: int, data, base: torch.Tensor, test_x: torch.Tensor, args) -> tuple[float, float]:
    """Train untaught's RBM (engine) and scikit-learn's with the same algorithm from ``seed``; AIS-score both.
    Returns the two test log-likelihood estimates (nats)."""
    train_x = data.train.x.flatten(1).float()
    # -- untaught, through the engine (the same algorithm as scikit-learn's) -----------------------
    same = dict(hidden=500, k=1, persistent=True, chains=100, learning_rate=args.lr, momentum=0.0)
    same |= dict(momentum_start=0.0, weight_cost=0.0, ais_betas=100, ais_chains=16)
    torch.manual_seed(seed)
    model = RBM(RBMConfig(shape=(1, 28, 28), **same))
    run = untaught.train(
        model, data, binarize="static", epochs=args.epochs, batch_size=100, threads=args.threads, progress=False,
        samples=0, select="last", seed=seed, out=f"runs/bench-rbm-{seed}-{time.strftime('%Y%m%d-%H%M%S')}",
    )  # fmt: skip
    ours_epoch = run.metrics["train_step_seconds"] / args.epochs
    print(f"untaught RBM (PCD-1, same settings): {ours_epoch:.2f} s/epoch (training steps), run {run.path}")

    # -- scikit-learn's BernoulliRBM -----------------------------------------------------------------
    x_np = train_x.numpy().astype(np.float32)
    peer = BernoulliRBM(n_components=500, learning_rate=args.lr, batch_size=100, n_iter=1, random_state=seed)
    seconds = 0.0
    order_gen = np.random.default_rng(seed)
    with threadpool_limits(args.threads):
        for _ in range(args.epochs):
            order = order_gen.permutation(len(x_np))
            t0 = time.perf_counter()
            for i in range(0, len(order) - 99, 100):
                peer.partial_fit(x_np[order[i : i + 100]])
            seconds += time.perf_counter() - t0
    peer_epoch = seconds / args.epochs
    print(f"scikit-learn BernoulliRBM (PCD-1):    {peer_epoch:.2f} s/epoch")
    print(f"time per epoch ratio (scikit-learn / untaught): {peer_epoch / ours_epoch:.2f}x")

    print(f"\nAIS: {args.ais_chains} chains x {args.ais_betas} temperatures, base rate of the training data")
    ours = run.model
    a = ais_report(f"untaught (same settings) seed {seed}", ours.weight.detach(), ours.visible_bias.detach(),
                   ours.hidden_bias.detach(), base, test_x, args)  # fmt: skip
    b = ais_report(f"scikit-learn seed {seed}", peer.components_.T, peer.intercept_visible_,
                   peer.intercept_hidden_, base, test_x, args)  # fmt: skip
    return a["test_ll"], b["test_ll"]


def diagnose(data, base: torch.Tensor, test_x: torch.Tensor, args) -> None:
    """Where the likelihood gap comes from: the same minibatch sequence (seed 0) through four trainers with
    the same settings, each scored by the same AIS. (1) untaught's ``RBM.step_visible`` in float32 (the
    update the engine calls), (2) the same in float64, (3) scikit-learn's ``_fit`` written out in torch
    float32 (persistent *hidden* samples, drawn before the parameter update and used after it),
    (4) scikit-learn's ``BernoulliRBM.partial_fit``."""
    x = data.train.x.flatten(1).float()
    order_gen = np.random.default_rng(0)
    batches = [torch.as_tensor(p[: len(p) // 100 * 100]).view(-1, 100) for p in
               (order_gen.permutation(len(x)) for _ in range(args.epochs))]  # fmt: skip
    batches = [b for epoch in batches for b in epoch]

    def ours(dtype: torch.dtype):
        torch.manual_seed(0)
        cfg = RBMConfig(shape=(784,), hidden=500, chains=100, learning_rate=args.lr, momentum=0.0,
                        momentum_start=0.0, weight_cost=0.0)  # fmt: skip
        model, gen = RBM(cfg).to(dtype), torch.Generator().manual_seed(0)
        for step, idx in enumerate(batches):
            model.step_visible(x[idx].to(dtype), step=step, generator=gen)
        return model.weight.detach(), model.visible_bias.detach(), model.hidden_bias.detach()

    def transcribed():
        torch.manual_seed(0)
        w, b, c = torch.randn(784, 500) * 0.01, torch.zeros(784), torch.zeros(500)
        h_chain, gen = torch.zeros(100, 500), torch.Generator().manual_seed(0)
        for idx in batches:
            v_pos = x[idx]
            h_pos = torch.sigmoid(v_pos @ w + c)
            v_neg = (torch.rand(100, 784, generator=gen) < torch.sigmoid(h_chain @ w.T + b)).float()
            h_neg = torch.sigmoid(v_neg @ w + c)
            lr = args.lr / len(v_pos)
            w += lr * (v_pos.T @ h_pos - v_neg.T @ h_neg)
            c += lr * (h_pos.sum(0) - h_neg.sum(0))
            b += lr * (v_pos.sum(0) - v_neg.sum(0))
            h_chain = (torch.rand(100, 500, generator=gen) < h_neg).float()
        return w, b, c

    def scikit():
        peer = BernoulliRBM(n_components=500, learning_rate=args.lr, batch_size=100, n_iter=1, random_state=0)
        x_np = x.numpy()
        for idx in batches:
            peer.partial_fit(x_np[idx.numpy()])
        return peer.components_.T, peer.intercept_visible_, peer.intercept_hidden_

    trainers = [("untaught step, float32", lambda: ours(torch.float32)),
                ("untaught step, float64", lambda: ours(torch.float64)),
                ("scikit-learn's step in torch", transcribed), ("scikit-learn partial_fit", scikit)]  # fmt: skip
    print(f"\ndiagnosis: {len(batches)} identical minibatches of 100 ({args.epochs} epochs), seed 0")
    with threadpool_limits(args.threads):
        for name, train in trainers:
            t0 = time.perf_counter()
            w, b, c = train()
            print(f"{name}: trained in {time.perf_counter() - t0:.1f} s")
            ais_report(name, w, b, c, base, test_x, args)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ais-chains", type=int, default=100)
    p.add_argument("--ais-betas", type=int, default=14_500)
    p.add_argument("--seeds", type=int, default=1, help="train both libraries from seeds 0..N-1 (default 1)")
    p.add_argument("--skip-defaults", action="store_true", help="do not train the row with untaught's defaults")
    p.add_argument("--digits-only", action="store_true", help="only the exact-likelihood check on digits")
    p.add_argument("--diagnose", action="store_true", help="four trainers on identical minibatches (see diagnose)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads: torch {torch.get_num_threads()}, BLAS {args.threads}; epochs {args.epochs}, lr {args.lr}")
    if args.digits_only:
        digits_check(args)
        return

    data = prepare("fashion-mnist", binarize="static")
    train_x = data.train.x.flatten(1).float()
    test_x = data.test.x.flatten(1).float()
    mean = train_x.mean(0).clamp(0.02, 0.98)
    base = torch.log(mean) - torch.log1p(-mean)
    if args.diagnose:
        diagnose(data, base, test_x, args)
        return

    results = [same_settings(seed, data, base, test_x, args) for seed in range(args.seeds)]
    if args.seeds > 1:
        print("\nseed  untaught (same settings)  scikit-learn  difference (nats, AIS estimates)")
        for seed, (a, b) in enumerate(results):
            print(f"{seed:4d}  {a:24.3f}  {b:12.3f}  {b - a:10.3f}")
    if not args.skip_defaults:
        torch.manual_seed(0)
        tuned = RBM(RBMConfig(shape=(1, 28, 28), hidden=500, ais_betas=100, ais_chains=16))
        run = untaught.train(
            tuned, data, binarize="static", epochs=args.epochs, batch_size=100, threads=args.threads, progress=False,
            samples=0, select="last", out=f"runs/bench-rbm-defaults-{time.strftime('%Y%m%d-%H%M%S')}",
        )  # fmt: skip
        print(f"\nuntaught RBM, library defaults: {run.metrics['train_step_seconds'] / args.epochs:.2f} s/epoch")
        m = run.model
        ais_report("untaught (defaults)", m.weight.detach(), m.visible_bias.detach(), m.hidden_bias.detach(),
                   base, test_x, args)  # fmt: skip


if __name__ == "__main__":
    main()

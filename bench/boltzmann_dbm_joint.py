"""The DBM's joint phase under different step sizes, from one pretrained 784-500-1000 DBM.

Pretrains a DBM on statically binarised Fashion-MNIST (``--pretrain`` epochs per layer, minibatch 64,
the engine's update called directly), then, from copies of those weights, runs the joint phase for
``--steps`` updates with each setting of ``--settings`` (learning rate : momentum : compose, where
compose 0 keeps the bottom RBM's bias instead of averaging the two RBMs'), printing every
``--every`` updates the mean of the persistent chains' visibles (the data's is 0.314) and the
validation bound on the first 1,000 validation images with log Z from 100 AIS runs x ``--betas``
temperatures. The same minibatches and random numbers for every setting.

    bench/run.sh python bench/boltzmann_dbm_joint.py --pretrain 2 --steps 1500 --betas 4000 \
        --settings 0.001:0.9:1,0.001:0.5:1,0.0003:0.5:1,0.0003:0.5:0
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from untaught.data import load_split
from untaught.data.transforms import binarize_static
from untaught.models.boltzmann.dbm import DBM, DBMConfig


def binary(split: str) -> torch.Tensor:
    s = load_split("fashion-mnist", split)
    return binarize_static(s.x, s.levels).flatten(1).float()


def bound(model: DBM, x: torch.Tensor, betas: int) -> float:
    """Mean negative mean-field bound on x [N, D] in nats, log Z by AIS (100 runs x ``betas``)."""
    log_z = model.log_partition("ais", betas=betas, generator=torch.Generator().manual_seed(0)).log_z
    return log_z - float(model.variational_bound(x).mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pretrain", type=int, default=2, help="pretraining epochs per layer (default 2)")
    p.add_argument("--steps", type=int, default=1500, help="joint updates per setting (default 1500)")
    p.add_argument("--every", type=int, default=750, help="report every this many updates (default 750)")
    p.add_argument("--betas", type=int, default=4000, help="AIS temperatures of the reported bound (default 4000)")
    p.add_argument("--settings", default="0.001:0.9:1,0.001:0.5:1,0.0003:0.5:1,0.0003:0.5:0")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    train, val = binary("train"), binary("val")[:1000]
    torch.manual_seed(0)
    base = DBM(DBMConfig(hidden=(500, 1000), pretrain_epochs=args.pretrain))
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for epoch in range(2 * args.pretrain):
        for idx in torch.randperm(len(train), generator=gen).split(64):
            base.step_visible(train[idx], generator=gen, epoch=epoch)
    print(
        f"pretrained {args.pretrain} epochs per layer in {time.perf_counter() - start:.0f} s; bound before "
        f"composition {bound(base, val, args.betas):.2f} nats (AIS 100 x {args.betas})",
        flush=True,
    )
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(1))
    batches = [order[i % len(order) : i % len(order) + 64] for i in range(0, args.steps * 64, 64)]
    for setting in args.settings.split(","):
        rate, momentum, compose = setting.split(":")
        model = copy.deepcopy(base)
        model.config.joint_learning_rate, model.config.momentum = float(rate), float(momentum)
        if compose == "0":
            model.compose = lambda: None  # keep the bottom RBM's bias
        gen = torch.Generator().manual_seed(2)
        line = []
        for k, idx in enumerate(batches, 1):
            model.step_visible(train[idx], generator=gen, epoch=2 * args.pretrain)
            if k % args.every == 0:
                line.append(f"{k}: chains {float(model.chain_v.mean()):.3f}, {bound(model, val, args.betas):.2f}")
        print(f"lr {rate} momentum {momentum} compose {compose} | " + " | ".join(line), flush=True)


if __name__ == "__main__":
    main()

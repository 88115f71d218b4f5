"""Engine overhead: a fully connected autoencoder trained through `untaught.train` vs a plain loop.

Both train the same model (same initial weights), on the same data, with the same batches, fused
Adam, batch size and threads, for the same epochs; each epoch ends with a validation pass and a
checkpoint, as the engine's does. Printed: wall time of the whole fit and images/s of training, for
``--rounds`` alternating rounds, and the median engine / plain ratios.

    bench/run.sh python bench/autoencoders_engine_overhead.py --data fashion-mnist --epochs 3 --threads 2
"""

from __future__ import annotations

import argparse
import copy
import io
import statistics
import tempfile
import time

import torch

import untaught
from untaught.models.autoencoders import Autoencoder, AutoencoderConfig
from untaught.training import prepare
from untaught.training.data import loader
from untaught.training.module import adam


def plain_loop(model: Autoencoder, data, *, epochs: int, batch_size: int, lr: float, seed: int) -> dict:
    """The loop a user would write: shuffled batches, fused Adam, a val pass and a checkpoint per epoch."""
    opt = adam(model.parameters(), lr=lr)
    x_train, x_val = data.train.x, data.val.x
    steps, train_seconds = 0, 0.0
    started = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed + epoch))
        t0 = time.perf_counter()
        for i in range(len(x_train) // batch_size):
            x = x_train[order[i * batch_size : (i + 1) * batch_size]]
            loss, _ = model.loss(x, generator=torch.Generator().manual_seed(steps))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
        train_seconds += time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            val = sum(model.loss(v)[0].item() * len(v) for v in x_val.split(max(batch_size, 256))) / len(x_val)
        buffer = io.BytesIO()
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch}, buffer)
    fit = time.perf_counter() - started
    return {"fit_seconds": fit, "train_seconds": train_seconds, "images": steps * batch_size, "val_loss": val}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", default="256")
    p.add_argument("--code", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="alternating plain / engine rounds; medians reported")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = prepare(args.data)
    torch.manual_seed(0)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    model = Autoencoder(AutoencoderConfig(shape=data.shape, levels=data.levels, hidden=hidden, code=args.code))
    print(
        f"model: ae {data.shape} hidden={hidden} code={args.code} ({sum(p.numel() for p in model.parameters())} "
        f"parameters); {args.data}: {len(data.train)} train images, batch {args.batch_size}, {args.epochs} epochs, "
        f"{args.threads} thread(s), torch {torch.__version__}"
    )
    # warm-up outside the measurement (first-call allocations, fused-kernel set-up)
    warm = copy.deepcopy(model)
    plain_loop(
        warm,
        untaught.training.data.TrainingData("warm", *(data.val,) * 3, data.levels),
        epochs=1,
        batch_size=args.batch_size,
        lr=1e-3,
        seed=0,
    )

    with tempfile.TemporaryDirectory() as tmp:  # the engine's one-time imports and set-up, outside the measurement
        warm_data = untaught.training.data.TrainingData("warm", *(data.val,) * 3, data.levels)
        untaught.train(copy.deepcopy(model), warm_data, out=f"{tmp}/warm", epochs=1, threads=args.threads,
                       progress=False, samples=0, batch_size=args.batch_size)  # fmt: skip
    n_batches = len(loader(data, "train", batch_size=args.batch_size, seed=0))
    images = n_batches * args.batch_size * args.epochs
    print(f"{'round':<6} {'':<16} {'fit s':>8} {'images/s (fit)':>15} {'images/s (steps)':>17} {'val loss':>9}")
    ratios = []
    for r in range(args.rounds):  # alternating, so that a slow spell of the machine hits both
        plain = plain_loop(copy.deepcopy(model), data, epochs=args.epochs, batch_size=args.batch_size, lr=1e-3, seed=0)
        with tempfile.TemporaryDirectory() as tmp:
            m = untaught.train(
                copy.deepcopy(model), data, out=f"{tmp}/run", epochs=args.epochs, batch_size=args.batch_size,
                threads=args.threads, progress=False, samples=0, select="last",
            ).metrics  # fmt: skip
        rows = [
            ("plain loop", plain["fit_seconds"], plain["images"] / plain["fit_seconds"],
             plain["images"] / plain["train_seconds"], plain["val_loss"]),
            ("untaught engine", m["fit_seconds"], images / m["fit_seconds"], m["train_images_per_second"],
             m["val_loss"]),
        ]  # fmt: skip
        for name, fit, per_fit, per_step, val in rows:
            print(f"{r:<6} {name:<16} {fit:>8.2f} {per_fit:>15.0f} {per_step:>17.0f} {val:>9.3f}", flush=True)
        ratios.append((rows[1][2] / rows[0][2], rows[1][3] / rows[0][3]))
    fit_ratio, step_ratio = (statistics.median(r[i] for r in ratios) for i in (0, 1))
    print(
        f"engine / plain, median of {args.rounds} round(s): whole fit {fit_ratio:.3f}, training steps only "
        f"{step_ratio:.3f} (per round: {', '.join(f'{a:.3f}/{b:.3f}' for a, b in ratios)})"
    )


if __name__ == "__main__":
    main()

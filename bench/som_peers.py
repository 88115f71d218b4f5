"""SOM 20x20 on ``digits`` and Fashion-MNIST: untaught against MiniSom, XPySom and torchsom in one run.

Every map has 20 x 20 units on a rectangular grid, a Gaussian neighbourhood whose radius goes from 10
(half the grid) to 1, a learning rate starting at 0.5, PCA initialisation, and the same number of
passes over the training images (scaled to [0, 1]). Each library trains with its own rule:

* untaught batch: batch map on minibatches of 128, exponential decay (library defaults);
* untaught online: Kohonen's rule one example at a time, exponential decay;
* MiniSom: online rule, random order, σ ``inverse_decay_to_one``, learning rate ``inverse_decay_to_zero``
  (its default asymptotic decay would stop at σ = 10/3 and lose to everyone on quantisation error);
* XPySom: batch map over each pass, exponential decay from (10, 0.5) to (1, 0.01);
* torchsom: minibatches of 128, σ ``sig_inverse_decay_to_one``, learning rate ``lr_inverse_decay_to_zero``.

Training time is wall time of the library's fit call (untaught: its update steps, the way its engine
runs them); quantisation error (mean euclidean distance to the best unit, pixel units in [0, 1]) and
topographic error (best and second units not among the 8 grid neighbours, MiniSom's definition) are
computed by ONE function on every library's prototypes, on the test split.

    python bench/som_peers.py [--threads 1] [--digits-epochs 20] [--fashion-epochs 3] [--fashion-train 10000]

The online learners (MiniSom, torchsom's per-batch error bookkeeping, untaught's online rule) take
1-3 s per 1000 Fashion-MNIST images per pass here, so by default the Fashion-MNIST maps see the first
10,000 training images three times (the test split is whole).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from untaught.data import load_split
from untaught.models.som import SOM, SOMConfig

ROWS = COLS = 20


def measures(weights: np.ndarray, test: torch.Tensor) -> tuple[float, float]:
    """Quantisation and topographic error of prototypes [ROWS * COLS, D] (row-major) on test [N, D]."""
    model = SOM(SOMConfig(shape=(test.shape[1],), levels=None, rows=ROWS, cols=COLS))
    with torch.no_grad():
        model.weight.copy_(torch.as_tensor(weights, dtype=torch.float32).reshape(ROWS * COLS, -1))
    return model.quantisation_error(test), model.topographic_error(test)


def ours(train: torch.Tensor, epochs: int, mode: str) -> np.ndarray:
    batch = 128
    steps = epochs * (len(train) // batch)
    model = SOM(SOMConfig(shape=(train.shape[1],), levels=None, rows=ROWS, cols=COLS, mode=mode, decay_steps=steps))
    gen = torch.Generator().manual_seed(0)
    step = 0
    for _ in range(epochs):
        for idx in torch.randperm(len(train), generator=gen).split(batch)[: len(train) // batch]:
            model.step_vectors(train.index_select(0, idx), step=step, generator=gen)
            step += 1
    return model.weight.detach().numpy()


def minisom(train: np.ndarray, epochs: int) -> np.ndarray:
    from minisom import MiniSom

    som = MiniSom(
        ROWS, COLS, train.shape[1], sigma=10, learning_rate=0.5, random_seed=0,
        decay_function="inverse_decay_to_zero", sigma_decay_function="inverse_decay_to_one",
    )  # fmt: skip
    som.pca_weights_init(train)
    som.train(train, epochs * len(train), random_order=True)
    return som.get_weights().reshape(ROWS * COLS, -1)


def xpysom(train: np.ndarray, epochs: int) -> np.ndarray:
    from xpysom import XPySom

    som = XPySom(
        ROWS, COLS, train.shape[1], sigma=10, sigmaN=1, learning_rate=0.5, learning_rateN=0.01,
        decay_function="exponential", random_seed=0,
    )  # fmt: skip
    som.pca_weights_init(train)
    som.train(train, epochs)
    return np.asarray(som.get_weights()).reshape(ROWS * COLS, -1)


def torchsom(train: torch.Tensor, epochs: int) -> np.ndarray:
    from torchsom import SOM as TorchSOM

    som = TorchSOM(
        ROWS, COLS, train.shape[1], epochs=epochs, batch_size=128, sigma=10.0, learning_rate=0.5,
        lr_decay_function="lr_inverse_decay_to_zero", sigma_decay_function="sig_inverse_decay_to_one",
        initialization_mode="pca", device="cpu", random_seed=0,
    )  # fmt: skip
    som.initialize_weights(train, mode="pca")
    som.fit(train, verbose=False)
    return som.weights.detach().reshape(ROWS * COLS, -1).numpy()


def run(name: str, epochs: int, threads: int, limit: int | None = None) -> None:
    train = load_split(name, "train").x.flatten(1).float()[:limit]
    test = load_split(name, "test").x.flatten(1).float()
    levels = 17 if name == "digits" else 256
    train, test = train / (levels - 1), test / (levels - 1)
    train_np = train.numpy().astype(np.float64)
    print(
        f"\n{name}: {len(train)} training x {train.shape[1]} dims, {epochs} passes, test {len(test)}; threads {threads}"
    )
    print(f"{'library':<18} {'train s':>9} {'QE (test)':>10} {'TE (test)':>10}")
    rows = {}
    contenders = [
        ("untaught batch", lambda: ours(train, epochs, "batch")),
        ("untaught online", lambda: ours(train, epochs, "online")),
        ("MiniSom", lambda: minisom(train_np, epochs)),
        ("XPySom", lambda: xpysom(train_np, epochs)),
        ("torchsom", lambda: torchsom(train, epochs)),
    ]
    for label, fit in contenders:
        with threadpool_limits(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            try:
                weights = fit()
            except Exception as e:  # a peer failing is reported, not hidden
                print(f"{label:<18} failed: {type(e).__name__}: {e}")
                continue
            seconds = time.perf_counter() - t0
        qe, te = measures(weights, test)
        rows[label] = (seconds, qe, te)
        print(f"{label:<18} {seconds:9.2f} {qe:10.4f} {te:10.4f}")
    peers = {k: v for k, v in rows.items() if not k.startswith("untaught")}
    if peers and "untaught batch" in rows:
        fastest = min(peers, key=lambda k: peers[k][0])
        s, qe, te = rows["untaught batch"]
        print(
            f"untaught batch vs the fastest peer ({fastest}): {peers[fastest][0] / s:.1f}x faster; "
            f"QE {qe:.4f} vs {peers[fastest][1]:.4f}, TE {te:.4f} vs {peers[fastest][2]:.4f}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--digits-epochs", type=int, default=20)
    p.add_argument("--fashion-epochs", type=int, default=3)
    p.add_argument("--fashion-train", type=int, default=10_000, help="first N training images (default 10000)")
    p.add_argument("--skip-fashion", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    run("digits", args.digits_epochs, args.threads)
    if not args.skip_fashion:
        run("fashion-mnist", args.fashion_epochs, args.threads, args.fashion_train)


if __name__ == "__main__":
    main()

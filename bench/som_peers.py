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

Times are wall time, in two parts: ``init``, the library's PCA initialisation (untaught: moments of the
first minibatch of 128 and a float64 ``eigh``; MiniSom and XPySom: ``np.cov`` of the whole training set
and a float64 ``np.linalg.eig``; torchsom: its ``initialize_weights``), and ``train``, the training
passes (untaught: shuffling, minibatch gathers and the update steps called directly, as the engine runs
them, but no Lightning start-up; XPySom: its conversion of the float64 data to float32 and its passes in
data order). Each library first fits 256 images once, untimed (imports, first calls). No evaluation is
timed, and every library gets its data already scaled, as it takes it (untaught and torchsom: a float32
tensor; MiniSom and XPySom: a float64 array). Quantisation error (mean euclidean distance to the best
unit, pixel units in [0, 1]) and topographic error (best and second units not among the 8 grid
neighbours, MiniSom's definition) are computed by ONE function on every library's prototypes, on the
test split.

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


Fit = tuple[np.ndarray, float, float]  # prototypes [ROWS * COLS, D], init seconds, train seconds


def ours(train: torch.Tensor, epochs: int, mode: str) -> Fit:
    batch = 128
    steps = epochs * (len(train) // batch)
    t0 = time.perf_counter()
    model = SOM(SOMConfig(shape=(train.shape[1],), levels=None, rows=ROWS, cols=COLS, mode=mode, decay_steps=steps))
    gen = torch.Generator().manual_seed(0)
    perms = [torch.randperm(len(train), generator=gen) for _ in range(epochs)]  # the generator's only use
    with torch.no_grad():  # what the first step would do: PCA of the first minibatch
        model.initialise(train.index_select(0, perms[0][:batch]), gen, None)
    t1 = time.perf_counter()
    step = 0
    for perm in perms:
        for idx in perm.split(batch)[: len(train) // batch]:
            model.step_vectors(train.index_select(0, idx), step=step, generator=gen)
            step += 1
    return model.weight.detach().numpy(), t1 - t0, time.perf_counter() - t1


def minisom(train: np.ndarray, epochs: int) -> Fit:
    from minisom import MiniSom

    t0 = time.perf_counter()
    som = MiniSom(
        ROWS, COLS, train.shape[1], sigma=10, learning_rate=0.5, random_seed=0,
        decay_function="inverse_decay_to_zero", sigma_decay_function="inverse_decay_to_one",
    )  # fmt: skip
    som.pca_weights_init(train)
    t1 = time.perf_counter()
    som.train(train, epochs * len(train), random_order=True)
    return som.get_weights().reshape(ROWS * COLS, -1), t1 - t0, time.perf_counter() - t1


def xpysom(train: np.ndarray, epochs: int) -> Fit:
    from xpysom import XPySom

    t0 = time.perf_counter()
    som = XPySom(
        ROWS, COLS, train.shape[1], sigma=10, sigmaN=1, learning_rate=0.5, learning_rateN=0.01,
        decay_function="exponential", random_seed=0,
    )  # fmt: skip
    som.pca_weights_init(train)
    t1 = time.perf_counter()
    som.train(train, epochs)
    return np.asarray(som.get_weights()).reshape(ROWS * COLS, -1), t1 - t0, time.perf_counter() - t1


def torchsom(train: torch.Tensor, epochs: int) -> Fit:
    from torchsom import SOM as TorchSOM

    t0 = time.perf_counter()
    som = TorchSOM(
        ROWS, COLS, train.shape[1], epochs=epochs, batch_size=128, sigma=10.0, learning_rate=0.5,
        lr_decay_function="lr_inverse_decay_to_zero", sigma_decay_function="sig_inverse_decay_to_one",
        initialization_mode="pca", device="cpu", random_seed=0,
    )  # fmt: skip
    som.initialize_weights(train, mode="pca")
    t1 = time.perf_counter()
    som.fit(train, verbose=False)
    return som.weights.detach().reshape(ROWS * COLS, -1).numpy(), t1 - t0, time.perf_counter() - t1


def run(name: str, epochs: int, threads: int, limit: int | None = None) -> None:
    train = load_split(name, "train").x.flatten(1).float()[:limit]
    test = load_split(name, "test").x.flatten(1).float()
    levels = 17 if name == "digits" else 256
    train, test = train / (levels - 1), test / (levels - 1)
    train_np = train.numpy().astype(np.float64)
    print(
        f"\n{name}: {len(train)} training x {train.shape[1]} dims, {epochs} passes, test {len(test)}; threads {threads}"
    )
    print(f"{'library':<18} {'total s':>9} {'init s':>8} {'train s':>9} {'QE (test)':>10} {'TE (test)':>10}")
    rows = {}
    contenders = [
        ("untaught batch", lambda x, n, e: ours(x, e, "batch")),
        ("untaught online", lambda x, n, e: ours(x, e, "online")),
        ("MiniSom", lambda x, n, e: minisom(n, e)),
        ("XPySom", lambda x, n, e: xpysom(n, e)),
        ("torchsom", lambda x, n, e: torchsom(x, e)),
    ]
    for label, fit in contenders:
        with threadpool_limits(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit(train[:256], train_np[:256], 1)  # warm-up: first calls (imports, BLAS/LAPACK set-up) untimed
                weights, init, seconds = fit(train, train_np, epochs)
            except Exception as e:  # a peer failing is reported, not hidden
                print(f"{label:<18} failed: {type(e).__name__}: {e}")
                continue
        qe, te = measures(weights, test)
        rows[label] = (init + seconds, init, seconds, qe, te)
        print(f"{label:<18} {init + seconds:9.2f} {init:8.2f} {seconds:9.2f} {qe:10.4f} {te:10.4f}")
    peers = {k: v for k, v in rows.items() if not k.startswith("untaught")}
    if peers and "untaught batch" in rows:
        qe, te = rows["untaught batch"][3:]
        for what, col in (("total", 0), ("train only", 2)):
            fastest = min(peers, key=lambda k: peers[k][col])
            print(
                f"untaught batch vs the fastest peer by {what} time ({fastest}): "
                f"{peers[fastest][col] / rows['untaught batch'][col]:.2f}x faster; "
                f"QE {qe:.4f} vs {peers[fastest][3]:.4f}, TE {te:.4f} vs {peers[fastest][4]:.4f}"
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

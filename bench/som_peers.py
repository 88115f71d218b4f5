"""SOM 20x20 on ``digits`` and Fashion-MNIST: untaught against MiniSom, XPySom and torchsom in one run.

Every map has 20 x 20 units on a rectangular grid, a Gaussian neighbourhood exp(-d²/2σ²) whose radius
σ goes from 10 (half the grid) to 1, a learning rate starting at 0.5, PCA initialisation, and the same
number of passes over the training images (scaled to [0, 1]). Each library trains with its own rule:

* untaught batch: batch map on minibatches of 256 (``--batch``), exponential decay over all passes but the last, which
  converges at σ = 1 (the batch map of the whole pass, accumulated; library defaults, ``decay_steps_for``);
* untaught online: Kohonen's rule one example at a time, exponential decay;
* MiniSom: online rule, random order, σ ``inverse_decay_to_one``, learning rate ``inverse_decay_to_zero``
  (its default asymptotic decay would stop at σ = 10/3 and lose to everyone on quantisation error);
* XPySom: batch map over each pass, exponential decay from (10, 0.5) to (1, 0.01), ``std_coeff=1``. Its
  default ``std_coeff=0.5`` makes its Gaussian exp(-2d²/σ²), i.e. radius σ/2: the row "XPySom σ/2" is
  XPySom as it comes, and "untaught batch σ/2" untaught with the same narrower neighbourhood (5 -> 0.5);
* torchsom: minibatches of 128, σ ``sig_inverse_decay_to_one``, learning rate ``lr_inverse_decay_to_zero``.

XPySom's exponential decay stops one pass short of its end radius (its last pass is at σ = 1.12 after 20
passes, 2.15 after 3), while untaught's last pass is at σ = 1; a wider last neighbourhood trades
quantisation error for topographic error. ``--last-sigma 1,2`` adds both batch maps with their last
pass at each given radius (XPySom's end radius chosen so), so they are compared at one neighbourhood.

Times are wall time, in two parts: ``init``, the library's PCA initialisation (untaught: moments of the
first minibatch and a float64 ``eigh``; MiniSom and XPySom: ``np.cov`` of the whole training set
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
                              [--rounds 3] [--last-sigma 1,1.5,2] [--batch 256]

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
from untaught.models.som import SOM, SOMConfig, decay_steps_for

ROWS = COLS = 20


def measures(weights: np.ndarray, test: torch.Tensor) -> tuple[float, float]:
    """Quantisation and topographic error of prototypes [ROWS * COLS, D] (row-major) on test [N, D]."""
    model = SOM(SOMConfig(shape=(test.shape[1],), levels=None, rows=ROWS, cols=COLS))
    with torch.no_grad():
        model.weight.copy_(torch.as_tensor(weights, dtype=torch.float32).reshape(ROWS * COLS, -1))
    return model.quantisation_error(test), model.topographic_error(test)


Fit = tuple[np.ndarray, float, float]  # prototypes [ROWS * COLS, D], init seconds, train seconds


def ours(
    train: torch.Tensor, epochs: int, mode: str, sigma: tuple[float, float] = (10.0, 1.0), batch: int = 256
) -> Fit:
    t0 = time.perf_counter()
    model = SOM(
        SOMConfig(
            shape=(train.shape[1],), levels=None, rows=ROWS, cols=COLS, mode=mode, sigma_start=sigma[0],
            sigma_end=sigma[1], decay_steps=decay_steps_for(epochs, len(train) // batch, mode),
        )
    )  # fmt: skip
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


def xpysom(train: np.ndarray, epochs: int, std_coeff: float = 1.0, last: float | None = None) -> Fit:
    """XPySom's batch map, radius 10 -> 1; with ``last``, its end chosen so that its last pass has σ = last
    (its exponential decay stops one pass short of its end: σ_t = 10 (σ_N / 10)^(t / N), t < N)."""
    from xpysom import XPySom

    sigma_n = 1.0 if last is None else 10 * (last / 10) ** (epochs / max(epochs - 1, 1))
    t0 = time.perf_counter()
    som = XPySom(
        ROWS, COLS, train.shape[1], sigma=10, sigmaN=sigma_n, learning_rate=0.5, learning_rateN=0.01,
        decay_function="exponential", random_seed=0, std_coeff=std_coeff,
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


def run(
    name: str,
    epochs: int,
    threads: int,
    limit: int | None = None,
    rounds: int = 1,
    last: tuple[float, ...] = (),
    batch: int = 256,
) -> None:
    train = load_split(name, "train").x.flatten(1).float()[:limit]
    test = load_split(name, "test").x.flatten(1).float()
    levels = 17 if name == "digits" else 256
    train, test = train / (levels - 1), test / (levels - 1)
    train_np = train.numpy().astype(np.float64)
    print(
        f"\n{name}: {len(train)} training x {train.shape[1]} dims, {epochs} passes, test {len(test)}; "
        f"threads {threads}; {rounds} round(s), libraries alternating, median times; untaught's batch map on "
        f"minibatches of {batch}"
    )
    contenders = [
        ("untaught batch", lambda x, n, e: ours(x, e, "batch", batch=batch)),
        ("untaught online", lambda x, n, e: ours(x, e, "online")),
        ("MiniSom", lambda x, n, e: minisom(n, e)),
        ("XPySom", lambda x, n, e: xpysom(n, e)),
        ("torchsom", lambda x, n, e: torchsom(x, e)),
        ("untaught batch σ/2", lambda x, n, e: ours(x, e, "batch", (5.0, 0.5), batch)),
        ("XPySom σ/2", lambda x, n, e: xpysom(n, e, 0.5)),
    ]
    for s in last:  # the same last neighbourhood for both batch maps: untaught ends at s, XPySom's last pass is at s
        contenders += [
            (f"untaught last σ {s:g}", lambda x, n, e, s=s: ours(x, e, "batch", (10.0, s), batch)),
            (f"XPySom last σ {s:g}", lambda x, n, e, s=s: xpysom(n, e, last=s)),
        ]
    results: dict[str, list[tuple[float, float, float, float]]] = {}  # label -> per round (init, train, QE, TE)
    for r in range(rounds):
        for label, fit in contenders:
            if r and label not in results:
                continue  # failed in the first round
            with threadpool_limits(threads), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    if r == 0:  # warm-up: first calls (imports, BLAS/LAPACK set-up) untimed
                        fit(train[:256], train_np[:256], 1)
                    weights, init, seconds = fit(train, train_np, epochs)
                except Exception as e:  # a peer failing is reported, not hidden
                    print(f"{label:<18} failed: {type(e).__name__}: {e}")
                    continue
            results.setdefault(label, []).append((init, seconds, *measures(weights, test)))
    head = f"{'library':<18} {'total s':>8} {'init s':>7} {'train s':>8} {'QE (test)':>10} {'TE (test)':>10}"
    print(f"{head}  train s per round")
    rows = {}
    for label, runs in results.items():
        init, seconds = float(np.median([x[0] for x in runs])), float(np.median([x[1] for x in runs]))
        total = float(np.median([x[0] + x[1] for x in runs]))
        qe, te = runs[0][2:]
        same = all(x[2:] == runs[0][2:] for x in runs)
        rows[label] = (total, init, seconds, qe, te)
        per_round = " ".join(f"{x[1]:.2f}" for x in runs)
        note = (
            ""
            if same
            else "  (errors differ between rounds: " + ", ".join(f"{x[2]:.4f}/{x[3]:.4f}" for x in runs) + ")"
        )
        print(f"{label:<18} {total:8.2f} {init:7.2f} {seconds:8.2f} {qe:10.4f} {te:10.4f}  {per_round}{note}")
    for half in (False, True):  # compare maps with the same neighbourhood only
        ours_label = "untaught batch" + (" σ/2" if half else "")
        peers = {
            k: v
            for k, v in rows.items()
            if not k.startswith("untaught") and " last σ" not in k and k.endswith(" σ/2") == half
        }
        if not peers or ours_label not in rows:
            continue
        qe, te = rows[ours_label][3:]
        for what, col in (("total", 0), ("train only", 2)):
            fastest = min(peers, key=lambda k: peers[k][col])
            print(
                f"{ours_label} vs the fastest peer with its neighbourhood by {what} time ({fastest}): "
                f"{peers[fastest][col] / rows[ours_label][col]:.2f}x faster; "
                f"QE {qe:.4f} vs {peers[fastest][3]:.4f}, TE {te:.4f} vs {peers[fastest][4]:.4f}"
            )
    for s in last:
        a, b = rows.get(f"untaught last σ {s:g}"), rows.get(f"XPySom last σ {s:g}")
        if a and b:
            print(
                f"last σ {s:g}: untaught {b[2] / a[2]:.2f}x faster than XPySom in training "
                f"({b[0] / a[0]:.2f}x in total); "
                f"QE {a[3]:.4f} vs {b[3]:.4f}, TE {a[4]:.4f} vs {b[4]:.4f}"
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--digits-epochs", type=int, default=20)
    p.add_argument("--fashion-epochs", type=int, default=3)
    p.add_argument("--fashion-train", type=int, default=10_000, help="first N training images (default 10000)")
    p.add_argument("--skip-fashion", action="store_true")
    p.add_argument("--rounds", type=int, default=3, help="timed fits per library, alternating (default 3)")
    p.add_argument(
        "--last-sigma", default="",
        help="comma-separated radii: also untaught's and XPySom's batch maps with their last pass at each",
    )  # fmt: skip
    p.add_argument("--batch", type=int, default=256, help="minibatch of untaught's batch map (default 256)")
    args = p.parse_args()
    last = tuple(float(s) for s in args.last_sigma.split(",") if s)
    torch.set_num_threads(args.threads)
    run("digits", args.digits_epochs, args.threads, rounds=args.rounds, last=last, batch=args.batch)
    if not args.skip_fashion:
        run("fashion-mnist", args.fashion_epochs, args.threads, args.fashion_train, args.rounds, last, args.batch)


if __name__ == "__main__":
    main()

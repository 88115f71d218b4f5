"""Sparse coding against scikit-learn and SPAMS, side by side, in one run (issue 9's protocol).

Data: ``bsds500-patches`` (8x8 grey BSDS500 patches, DC removed, divided by the training patches'
global std), 50,000 training and 10,000 test patches; λ = 1, 100 atoms; 2 threads for everyone.

1. One epoch of dictionary learning over the 50,000 patches (minibatches of 256). The like-for-like
   row is untaught's ``DictionaryLearner.fit(X)`` against scikit-learn's
   ``MiniBatchDictionaryLearning.fit(X)`` (fit_algorithm cd and lars, max_iter=1 = one pass): both
   take the same float32/float64 array, check it, initialise, shuffle and make one pass of minibatch
   steps. Also shown: the engine's training-step time of ``untaught.train`` (online, the same step),
   and SPAMS trainDL (196 minibatches of 256 = one pass). Each dictionary is scored by the exact mean
   test objective ½‖x − zD‖² + λ‖z‖₁ (codes by the float64 homotopy, duality gap ≤ 1e-9).
2. Encoding the 10,000 test patches with one fixed dictionary (scikit-learn's cd dictionary from part 1)
   with untaught's homotopy (float32 and float64; every patch's duality gap certifies 1e-4 relative;
   on the CPU each row's path is a compiled loop, and the batched tensor path other devices take,
   ``lockstep=True``, is timed too)
   and FISTA (float32, the same certificate; and without restarts, stopped on a 1e-4 relative change of
   the objective: uncertified), scikit-learn's SparseCoder (lasso_lars, lasso_cd) and
   SPAMS lasso; every method's total objective is compared to the exact one. Every time is the best
   of ``ROUNDS`` rounds (the median is printed too).

usage: bench/run.sh python bench/sparse_coding_bench.py [--encoding-only]
(``--encoding-only``: part 2 alone, after one scikit-learn cd fit for its dictionary)
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "2")
# idle OpenMP workers sleep instead of spinning: with busy-waiting, 2 threads on a 2-core machine
# that other processes also use ran untaught's small-batch steps up to 35x slower than 1 thread
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import tempfile
import time
import warnings

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

import untaught
from untaught.data import load_split
from untaught.models.sparse_coding import DictionaryLearner, SparseCoding, SparseCodingConfig, fista, lasso_objective
from untaught.models.sparse_coding.homotopy import homotopy

THREADS, LAM, ATOMS, BATCH, ROUNDS = 2, 1.0, 100, 256, 5


def exact_objective(x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Per-patch lasso objective at the optimum (float64 homotopy, relative duality gap ≤ 1e-9)."""
    r = homotopy(x, d, LAM, tol=1e-9, stop="gap", max_iter=200_000)
    assert r.converged.all()
    return lasso_objective(x, r.codes, d, LAM)


def timed(fn, repeat: int = 1):
    """(best, median) wall-clock seconds of ``repeat`` calls, and the last call's result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return (min(times), float(np.median(times))), out


def main() -> None:
    encoding_only = "--encoding-only" in sys.argv[1:]
    torch.set_num_threads(THREADS)
    threadpool_limits(THREADS)
    print(
        f"torch {torch.__version__}: {torch.get_num_threads()} threads; BLAS/OpenMP pools:",
        ", ".join(f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info()),
    )
    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    train = load_split("bsds500-patches", "train").x.flatten(1)
    test = load_split("bsds500-patches", "test").x.flatten(1)
    if os.environ.get("SPARSE_CODING_BENCH_QUICK"):  # a smoke run of the script on slices
        train, test = train[:2560], test[:500]
    xtr, xte = train.numpy().astype(np.float64), test.numpy().astype(np.float64)
    test64 = test.double()
    print(f"train {tuple(train.shape)}, test {tuple(test.shape)}, λ = {LAM}, {ATOMS} atoms, batch {BATCH}")
    try:
        import spams
    except ImportError:
        spams = None
        print("SPAMS not installed (pip install spams-bin): its rows are skipped")

    # -- 1. one epoch of dictionary learning --------------------------------------------------------
    from sklearn.decomposition import MiniBatchDictionaryLearning, SparseCoder

    print(
        "\n1. one epoch of dictionary learning (50,000 patches, batches of 256); test objective = exact mean per patch"
    )
    dictionaries, seconds = {}, {}
    xtr32 = train.numpy()
    for threads in () if encoding_only else (THREADS, 1):
        torch.set_num_threads(threads)
        threadpool_limits(threads)
        label = f"untaught DictionaryLearner.fit, {threads} thr"
        t, est = timed(
            lambda: DictionaryLearner(n_components=ATOMS, alpha=LAM, batch_size=BATCH, n_iter=1, random_state=0).fit(
                xtr32
            ),
            ROUNDS,
        )
        seconds[label], dictionaries[label] = t, torch.from_numpy(est.components_.astype(np.float64))
        with tempfile.TemporaryDirectory() as tmp:
            torch.manual_seed(0)
            model = SparseCoding(SparseCodingConfig(shape=(1, 8, 8), atoms=ATOMS, lam=LAM))
            run = untaught.train(
                model, "bsds500-patches", epochs=1, batch_size=BATCH, threads=threads, progress=False,
                out=os.path.join(tmp, "run"), samples=0,
            )  # fmt: skip
        label = f"untaught engine steps, {threads} thr"
        seconds[label] = (run.metrics["train_step_seconds"],) * 2
        dictionaries[label] = run.model.dictionary.detach().double()
    torch.set_num_threads(THREADS)
    threadpool_limits(THREADS)
    for algo, rounds in (("cd", 1),) if encoding_only else (("cd", ROUNDS), ("lars", 1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, est = timed(
                lambda algo=algo: MiniBatchDictionaryLearning(
                    n_components=ATOMS, alpha=LAM, batch_size=BATCH, max_iter=1, fit_algorithm=algo,
                    random_state=0, tol=0, max_no_improvement=None,
                ).fit(xtr32),
                rounds,
            )  # fmt: skip
        seconds[f"sklearn MiniBatchDL {algo}"] = t
        dictionaries[f"sklearn MiniBatchDL {algo}"] = torch.from_numpy(est.components_.astype(np.float64))
    if spams is not None and not encoding_only:
        xf = np.asfortranarray(xtr.T)
        t, d = timed(
            lambda: spams.trainDL(
                xf, K=ATOMS, lambda1=LAM, mode=2, iter=-(-len(xtr) // BATCH), batchsize=BATCH, numThreads=THREADS,
                verbose=False,
            ),
            ROUNDS,
        )  # fmt: skip
        seconds["SPAMS trainDL"] = t
        dictionaries["SPAMS trainDL"] = torch.from_numpy(np.ascontiguousarray(d.T))
    base = seconds["sklearn MiniBatchDL cd"][0]
    print(f"{'method':<36} {'best s':>7} {'median s':>8} {'vs sklearn cd':>13} {'test objective':>15}")
    for name, d in {} if encoding_only else dictionaries.items():
        d = d / d.norm(dim=1, keepdim=True).clamp_min(1e-12)
        obj = float(exact_objective(test64, d).mean())
        best, median = seconds[name]
        print(f"{name:<36} {best:7.3f} {median:8.3f} {base / best:12.1f}x {obj:15.4f}")
    if spams is not None and not encoding_only:
        ours = seconds[f"untaught DictionaryLearner.fit, {THREADS} thr"][0]
        print(f"untaught DictionaryLearner / SPAMS time ratio: {ours / seconds['SPAMS trainDL'][0]:.2f}")

    # -- 2. encoding with a fixed dictionary ----------------------------------------------------------
    d64 = dictionaries["sklearn MiniBatchDL cd"]
    d64 = d64 / d64.norm(dim=1, keepdim=True)
    dnp = d64.numpy()
    reference = float(exact_objective(test64, d64).sum())
    print(f"\n2. encoding 10,000 test patches, fixed dictionary (sklearn cd's); exact objective {reference:.4f}")
    rows = {}
    d32, test32 = d64.float(), test.float().contiguous()

    def total(z) -> float:
        return float(lasso_objective(test64, torch.as_tensor(z).double(), d64, LAM).sum())

    runs = (
        ("untaught homotopy float32", lambda: homotopy(test32, d32, LAM, tol=1e-4, stop="gap")),
        ("untaught homotopy float64", lambda: homotopy(test64, d64, LAM, tol=1e-4, stop="gap")),
        ("untaught homotopy f32 lockstep", lambda: homotopy(test32, d32, LAM, tol=1e-4, stop="gap", lockstep=True)),
        ("untaught FISTA float32", lambda: fista(test32, d32, LAM, tol=1e-4, stop="gap")),
        ("untaught FISTA f32 obj-stop", lambda: fista(test32, d32, LAM, tol=1e-4, restart=False)),
    )
    for label, fn in runs:
        t, r = timed(fn, ROUNDS)
        rows[label] = (t, total(r.codes))
        steps = r.iterations.double()
        kind = "path pieces" if "homotopy" in label else "iterations"
        certified = bool(r.converged.all())
        print(f"{label}: {kind} per patch mean {steps.mean():.2f}, max {int(steps.max())}; all certified: {certified}")
    for algo, repeat in (("lasso_lars", 3), ("lasso_cd", ROUNDS)):
        coder = SparseCoder(dictionary=dnp, transform_algorithm=algo, transform_alpha=LAM)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, z = timed(lambda coder=coder: coder.transform(xte), repeat=repeat)
        rows[f"sklearn SparseCoder {algo}"] = (t, total(z))
    if spams is not None:
        xf, df = np.asfortranarray(xte.T), np.asfortranarray(dnp.T)
        t, z = timed(lambda: spams.lasso(xf, D=df, lambda1=LAM, mode=2, numThreads=THREADS), repeat=ROUNDS)
        rows["SPAMS lasso (LARS)"] = (t, total(z.toarray().T))
    torch.set_num_threads(1)
    t, r = timed(lambda: homotopy(test32, d32, LAM, tol=1e-4, stop="gap"), ROUNDS)
    rows["untaught homotopy f32, 1 thread"] = (t, total(r.codes))
    torch.set_num_threads(THREADS)
    ours = rows["untaught homotopy float32"][0][0]
    print(f"{'method':<32} {'best s':>7} {'median s':>8} {'untaught f32 faster by':>23} {'rel. error':>11}")
    for name, ((best, median), obj) in rows.items():
        print(f"{name:<32} {best:7.4f} {median:8.4f} {best / ours:22.1f}x {(obj - reference) / reference:11.2e}")
    print("load average (1, 5, 15 min) at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()

"""Sparse coding against scikit-learn and SPAMS, side by side, in one run (issue 9's protocol).

Data: ``bsds500-patches`` (8x8 grey BSDS500 patches, DC removed, divided by the training patches'
global std), 50,000 training and 10,000 test patches; λ = 1, 100 atoms; 2 threads for everyone.

1. One epoch of dictionary learning over the 50,000 patches (minibatches of 256): untaught's online
   dictionary learning through the engine (``untaught.train``; the time is the engine's training-step
   time), scikit-learn's MiniBatchDictionaryLearning (fit_algorithm cd and lars, max_iter=1 = one pass)
   and SPAMS trainDL (196 minibatches of 256 = one pass). Each dictionary is scored by the exact mean
   test objective ½‖x − zD‖² + λ‖z‖₁ (codes by FISTA in float64 to a duality gap of 1e-9).
2. Encoding the 10,000 test patches with one fixed dictionary (scikit-learn's cd dictionary from part 1)
   with untaught's FISTA (float32 and float64, stopped when every patch's duality gap certifies
   1e-4 relative; and float32 stopped on a 1e-4 relative change of the objective, uncertified),
   scikit-learn's SparseCoder (lasso_lars, lasso_cd) and SPAMS lasso; every method's
   total objective is compared to the exact one.

usage: bench/run.sh python bench/sparse_coding_bench.py
"""

from __future__ import annotations

import os

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
from untaught.models.sparse_coding import SparseCoding, SparseCodingConfig, fista, lasso_objective

THREADS, LAM, ATOMS, BATCH = 2, 1.0, 100, 256


def exact_objective(x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Per-patch lasso objective at the optimum (float64 FISTA to a relative duality gap of 1e-9)."""
    r = fista(x, d, LAM, tol=1e-9, stop="gap", max_iter=200_000)
    assert r.converged.all()
    return lasso_objective(x, r.codes, d, LAM)


def timed(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
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
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        model = SparseCoding(SparseCodingConfig(shape=(1, 8, 8), atoms=ATOMS, lam=LAM))
        run = untaught.train(
            model,
            "bsds500-patches",
            epochs=1,
            batch_size=BATCH,
            threads=THREADS,
            progress=False,
            out=os.path.join(tmp, "run"),
            samples=0,
        )
        seconds["untaught online (engine)"] = run.metrics["train_step_seconds"]
        dictionaries["untaught online (engine)"] = run.model.dictionary.detach().double()
        # the same at 1 thread: on a loaded 2-core machine, 2 threads can wait on each other
        torch.manual_seed(0)
        model = SparseCoding(SparseCodingConfig(shape=(1, 8, 8), atoms=ATOMS, lam=LAM))
        run1 = untaught.train(
            model, "bsds500-patches", epochs=1, batch_size=BATCH, threads=1, progress=False,
            out=os.path.join(tmp, "run1"), samples=0,
        )  # fmt: skip
        seconds["untaught online, 1 thread"] = run1.metrics["train_step_seconds"]
        dictionaries["untaught online, 1 thread"] = run1.model.dictionary.detach().double()
        torch.set_num_threads(THREADS)
    for algo in ("cd", "lars"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = MiniBatchDictionaryLearning(
                n_components=ATOMS,
                alpha=LAM,
                batch_size=BATCH,
                max_iter=1,
                fit_algorithm=algo,
                random_state=0,
                tol=0,
                max_no_improvement=None,
            )
            t, _ = timed(lambda est=est: est.fit(xtr))
        seconds[f"sklearn MiniBatchDL {algo}"] = t
        dictionaries[f"sklearn MiniBatchDL {algo}"] = torch.from_numpy(est.components_.copy())
    if spams is not None:
        xf = np.asfortranarray(xtr.T)
        t, d = timed(
            lambda: spams.trainDL(
                xf,
                K=ATOMS,
                lambda1=LAM,
                mode=2,
                iter=-(-len(xtr) // BATCH),
                batchsize=BATCH,
                numThreads=THREADS,
                verbose=False,
            )
        )
        seconds["SPAMS trainDL"] = t
        dictionaries["SPAMS trainDL"] = torch.from_numpy(np.ascontiguousarray(d.T))
    base = seconds["sklearn MiniBatchDL cd"]
    print(f"{'method':<28} {'seconds':>8} {'speed-up vs sklearn cd':>23} {'test objective':>15}")
    for name, d in dictionaries.items():
        d = d / d.norm(dim=1, keepdim=True).clamp_min(1e-12)
        obj = float(exact_objective(test64, d).mean())
        print(f"{name:<28} {seconds[name]:8.2f} {base / seconds[name]:22.1f}x {obj:15.4f}")
    if spams is not None:
        print(f"untaught / SPAMS time ratio: {seconds['untaught online (engine)'] / seconds['SPAMS trainDL']:.2f}")

    # -- 2. encoding with a fixed dictionary ----------------------------------------------------------
    d64 = dictionaries["sklearn MiniBatchDL cd"]
    d64 = d64 / d64.norm(dim=1, keepdim=True)
    dnp = d64.numpy()
    reference = float(exact_objective(test64, d64).sum())
    print(f"\n2. encoding 10,000 test patches, fixed dictionary (sklearn cd's); exact objective {reference:.4f}")
    rows = {}
    d32, test32 = d64.float(), test.float().contiguous()
    runs = (
        ("untaught FISTA float32", test32, d32, "gap"),
        ("untaught FISTA f32 obj-stop", test32, d32, "objective"),
        ("untaught FISTA float64", test64, d64, "gap"),
    )
    for label, x, d, stop in runs:
        t, r = timed(lambda x=x, d=d, stop=stop: fista(x, d, LAM, tol=1e-4, stop=stop), repeat=3)
        rows[label] = (t, float(lasso_objective(x.double(), r.codes.double(), d64, LAM).sum()))
    for algo, repeat in (("lasso_lars", 1), ("lasso_cd", 1)):
        coder = SparseCoder(dictionary=dnp, transform_algorithm=algo, transform_alpha=LAM)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, z = timed(lambda coder=coder: coder.transform(xte), repeat=repeat)
        rows[f"sklearn SparseCoder {algo}"] = (t, float(lasso_objective(test64, torch.from_numpy(z), d64, LAM).sum()))
    if spams is not None:
        xf, df = np.asfortranarray(xte.T), np.asfortranarray(dnp.T)
        t, z = timed(lambda: spams.lasso(xf, D=df, lambda1=LAM, mode=2, numThreads=THREADS), repeat=3)
        rows["SPAMS lasso (LARS)"] = (
            t,
            float(lasso_objective(test64, torch.from_numpy(z.toarray().T), d64, LAM).sum()),
        )
    torch.set_num_threads(1)
    t, r = timed(lambda: fista(test32, d32, LAM, tol=1e-4, stop="gap"), repeat=3)
    rows["untaught FISTA f32, 1 thread"] = (t, float(lasso_objective(test64, r.codes.double(), d64, LAM).sum()))
    torch.set_num_threads(THREADS)
    ours = rows["untaught FISTA float32"][0]
    print(f"{'method':<28} {'seconds':>8} {'untaught f32 faster by':>23} {'rel. objective error':>21}")
    for name, (t, obj) in rows.items():
        print(f"{name:<28} {t:8.3f} {t / ours:22.1f}x {(obj - reference) / reference:21.2e}")
    print("load average (1, 5, 15 min) at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()

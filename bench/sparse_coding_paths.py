"""The homotopy's two paths on one machine: the compiled per-row loop (CPU) and the lockstep tensor path.

On ``bsds500-patches`` (8x8, λ = 1, 100 atoms; the dictionary from one epoch of
``DictionaryLearner``), best of ``ROUNDS`` calls each:

1. numba's first call: compiling the kernel into an empty cache, then loading it from that cache,
   each in a fresh process (float32 signals);
2. coding one minibatch of 256 patches: compiled homotopy, lockstep homotopy, and FISTA without
   restarts (the solver 'auto' took below 1,024 signals before the compiled path);
3. coding the 10,000 test patches: compiled and lockstep homotopy, at 1 and 2 threads;
4. one epoch of ``DictionaryLearner.fit`` over the 50,000 training patches with ``solver='fista'``
   and ``solver='homotopy'`` (what 'auto' now picks on a CPU), at 1 and 2 threads.

    bench/run.sh python bench/sparse_coding_paths.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as bench/sparse_coding_bench.py

import subprocess
import sys
import tempfile

import torch
from sparse_coding_bench import timed

from untaught.data import load_split
from untaught.models.sparse_coding import DictionaryLearner, fista, homotopy

LAM, ATOMS, ROUNDS = 1.0, 100, 5
FIRST_CALL = """
import time, torch
from untaught.models.sparse_coding import homotopy
x = torch.randn(256, 64); d = torch.randn(100, 64); d = d / d.norm(dim=1, keepdim=True)
t = time.perf_counter(); homotopy(x, d, 1.0); print(time.perf_counter() - t)
"""


def best(fn, rounds: int = ROUNDS) -> float:
    """Best seconds of ``rounds`` calls after one warm-up call."""
    fn()
    return timed(fn, rounds)[0][0]


def first_calls() -> tuple[float, float]:
    """Seconds of the first homotopy call in a fresh process: into an empty numba cache, then from it."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        run = [sys.executable, "-c", FIRST_CALL]
        calls = (subprocess.run(run, env=env, check=True, capture_output=True, text=True) for _ in "ab")
        cold, warm = (float(call.stdout) for call in calls)
    return cold, warm


def main() -> None:
    cold, warm = first_calls()
    print(f"1. first call in a fresh process: compile {cold:.2f} s, load from the cache {warm:.2f} s")
    train = load_split("bsds500-patches", "train").x.flatten(1).float().contiguous()
    test = load_split("bsds500-patches", "test").x.flatten(1).float().contiguous()
    torch.set_num_threads(2)
    learner = DictionaryLearner(n_components=ATOMS, alpha=LAM, batch_size=256, n_iter=1, random_state=0)
    d = torch.from_numpy(learner.fit(train.numpy()).components_).float()
    batch = train[:256]
    print("2. one minibatch of 256 patches, 2 threads (ms):")
    for label, fn in (
        ("compiled homotopy", lambda: homotopy(batch, d, LAM)),
        ("lockstep homotopy", lambda: homotopy(batch, d, LAM, lockstep=True)),
        ("FISTA, no restarts", lambda: fista(batch, d, LAM, restart=False)),
    ):
        print(f"   {label:<20} {1e3 * best(fn, 50):8.2f}")
    print("3. the 10,000 test patches (s):")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        rows = best(lambda: homotopy(test, d, LAM))
        lock = best(lambda: homotopy(test, d, LAM, lockstep=True))
        print(f"   {threads} thread(s): compiled {rows:.4f}, lockstep {lock:.4f}: {lock / rows:.1f}x")
    print("4. one epoch of DictionaryLearner.fit over 50,000 patches (s):")
    x = train.numpy()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        times = {
            solver: best(
                lambda solver=solver: DictionaryLearner(
                    n_components=ATOMS, alpha=LAM, batch_size=256, n_iter=1, random_state=0, solver=solver
                ).fit(x),
                3,
            )
            for solver in ("fista", "homotopy")
        }
        print(f"   {threads} thread(s): fista {times['fista']:.3f}, homotopy {times['homotopy']:.3f}: "
              f"{times['fista'] / times['homotopy']:.1f}x")  # fmt: skip
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()

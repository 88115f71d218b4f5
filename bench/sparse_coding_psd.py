"""PSD: the encoder's one-pass codes against FISTA on the same 10,000 bsds500 test patches.

Trains PSD (λ = 1, 100 atoms, α = 1) through the engine on the 50,000 training patches (at most
4 epochs or 2 minutes of training), then measures on the test patches, at 2 threads:
the encoder's time against FISTA's to a certified 1e-4 (duality gap, float32), the reconstruction
error ‖x − zD‖² of the encoder's codes against that of the exact lasso codes, and the FISTA
iterations from a cold start against a start at the encoder's prediction.

usage: bench/run.sh python bench/sparse_coding_psd.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
# idle OpenMP workers sleep instead of spinning: with busy-waiting, 2 threads on a 2-core machine
# that other processes also use ran untaught's small-batch steps up to 35x slower than 1 thread
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import tempfile
import time

import torch

import untaught
from untaught.data import load_split
from untaught.models.sparse_coding import PSD, PSDConfig, fista, lasso_objective

THREADS, LAM = 2, 1.0


def best_time(fn, repeat=5):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    torch.set_num_threads(THREADS)
    policy, load = os.environ.get("OMP_WAIT_POLICY"), os.getloadavg()[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY={policy}; load {load:.2f}")
    torch.manual_seed(0)
    model = PSD(PSDConfig(shape=(1, 8, 8), atoms=100, lam=LAM, alpha=1.0))
    with tempfile.TemporaryDirectory() as tmp:
        run = untaught.train(
            model,
            "bsds500-patches",
            epochs=4,
            max_time=2.0,
            batch_size=256,
            threads=THREADS,
            progress=False,
            out=os.path.join(tmp, "run"),
            samples=0,
            select="last",
        )
    m = run.model.float()
    print(
        f"trained {run.metrics['epochs']} epochs ({run.metrics['steps']} steps) in "
        f"{run.metrics['train_step_seconds']:.1f} s of training steps; test PSD loss {run.metrics['test_loss']:.4f}"
    )
    x = load_split("bsds500-patches", "test").x.flatten(1).contiguous()
    d = m.dictionary.detach()
    with torch.no_grad():
        t_enc, f = best_time(lambda: m.predict(x))
        t_fista, r = best_time(lambda: fista(x, d, LAM, tol=1e-4, stop="gap"), repeat=3)
        exact = fista(x.double(), d.double(), LAM, tol=1e-9, stop="gap", max_iter=100_000)
        cold = fista(x, d, LAM, tol=1e-4, stop="objective", check_every=1)
        warm = fista(x, d, LAM, tol=1e-4, stop="objective", check_every=1, init=f)
    rec = lambda z: float((x.double() - z.double() @ d.double()).pow(2).sum(1).mean())  # noqa: E731
    print(
        f"encoder F(x): {t_enc * 1e3:.2f} ms for {len(x)} patches; FISTA to a 1e-4 gap: {t_fista * 1e3:.1f} ms "
        f"-> encoder {t_fista / t_enc:.0f}x faster"
    )
    print(
        f"reconstruction error per patch: encoder {rec(f):.3f}, FISTA 1e-4 {rec(r.codes):.3f}, exact lasso "
        f"{rec(exact.codes):.3f} -> encoder / exact = {rec(f) / rec(exact.codes):.2f} (‖x‖² = {rec(f * 0):.3f})"
    )
    obj = lambda z: float(lasso_objective(x.double(), z.double(), d.double(), LAM).mean())  # noqa: E731
    print(f"lasso objective per patch: encoder {obj(f):.3f}, exact {obj(exact.codes):.3f}")
    print(
        f"FISTA iterations to a 1e-4 objective change: cold {cold.iterations.double().mean():.1f}, "
        f"warm from the encoder {warm.iterations.double().mean():.1f}"
    )


if __name__ == "__main__":
    main()

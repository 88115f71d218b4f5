"""PSD: the encoder's one-pass codes against FISTA on the same 10,000 bsds500 test patches.

Trains PSD (λ = 1, 100 atoms) through the engine on the 50,000 training patches (at most 4 epochs
or 2 minutes of training each), twice: the paper's encoder g·tanh(Wx + b) with the defaults α = 1,
encoder step 0.05, and the shrinkage encoder g·shrink_θ(Wx) with α = 8, encoder step 0.01. Then
measures on the test patches, at 2 threads:
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
from untaught.models.sparse_coding.homotopy import homotopy

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
    x = load_split("bsds500-patches", "test").x.flatten(1).contiguous()
    for encoder, alpha, lr in (("tanh", 1.0, 0.05), ("shrink", 8.0, 0.01)):
        torch.manual_seed(0)
        config = PSDConfig(shape=(1, 8, 8), atoms=100, lam=LAM, alpha=alpha, encoder=encoder, encoder_lr=lr)
        with tempfile.TemporaryDirectory() as tmp:
            run = untaught.train(
                PSD(config), "bsds500-patches", epochs=4, max_time=2.0, batch_size=256, threads=THREADS,
                progress=False, out=os.path.join(tmp, "run"), samples=0, select="last",
            )  # fmt: skip
        m = run.model.float()
        print(
            f"\n{encoder} encoder, alpha {alpha}, encoder step {lr}: trained {run.metrics['epochs']} epochs "
            f"({run.metrics['steps']} steps) in {run.metrics['train_step_seconds']:.1f} s of training steps; "
            f"test PSD loss {run.metrics['test_loss']:.4f}"
        )
        d = m.dictionary.detach()
        with torch.no_grad():
            t_enc, f = best_time(lambda m=m: m.predict(x))
            t_fista, r = best_time(lambda d=d: fista(x, d, LAM, tol=1e-4, stop="gap"), repeat=3)
            exact = homotopy(x.double(), d.double(), LAM, tol=1e-9)
            cold = fista(x, d, LAM, tol=1e-4, stop="objective", check_every=1)
            warm = fista(x, d, LAM, tol=1e-4, stop="objective", check_every=1, init=f)

        def rec(z, d=d):
            return float((x.double() - z.double() @ d.double()).pow(2).sum(1).mean())

        def obj(z, d=d):
            return float(lasso_objective(x.double(), z.double(), d.double(), LAM).mean())

        print(
            f"encoder F(x): {t_enc * 1e3:.2f} ms for {len(x)} patches; FISTA to a 1e-4 gap: {t_fista * 1e3:.1f} ms "
            f"-> encoder {t_fista / t_enc:.0f}x faster"
        )
        print(
            f"reconstruction error per patch: encoder {rec(f):.3f}, FISTA 1e-4 {rec(r.codes):.3f}, exact lasso "
            f"{rec(exact.codes):.3f} -> encoder / exact = {rec(f) / rec(exact.codes):.3f} (‖x‖² = {rec(f * 0):.3f})"
        )
        print(
            f"lasso objective per patch: encoder {obj(f):.3f}, exact {obj(exact.codes):.3f}; non-zeros per patch: "
            f"encoder {(f != 0).sum(1).double().mean():.1f}, exact {(exact.codes != 0).sum(1).double().mean():.1f}"
        )
        print(
            f"FISTA iterations to a 1e-4 objective change: cold {cold.iterations.double().mean():.1f}, "
            f"warm from the encoder {warm.iterations.double().mean():.1f}"
        )


if __name__ == "__main__":
    main()

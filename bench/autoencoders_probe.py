"""Codes of AE, DAE, CAE and sparse AE at equal code size, next to PCA and raw pixels.

For each model: train through the engine (same architecture: one sigmoid layer of ``--code`` units
and its decoder; only the regulariser differs), then measure on the test split the reconstruction
error (mean squared error per pixel, intensities in [0, 1]) and the accuracy of a linear probe
(scikit-learn logistic regression on standardised train codes). PCA with the same number of
components and logistic regression on the raw pixels are measured in the same run.

    bench/run.sh python bench/autoencoders_probe.py --data fashion-mnist --code 128 --epochs 6
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

import untaught
from untaught.codes import embed, linear_probe
from untaught.registry import get_model_class
from untaught.training import prepare

SETTINGS = {
    "ae": dict(),
    "dae": dict(corruption="masking", noise=0.25),
    "cae": dict(penalty="contractive", penalty_weight=0.1),
    "sparse-ae": dict(penalty="kl", penalty_weight=1.0, sparsity=0.05),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="digits")
    p.add_argument("--code", type=int, default=32)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-iter", type=int, default=1000, help="L-BFGS iteration limit of every probe (as the CLI's)")
    p.add_argument("--models", default=",".join(SETTINGS))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = prepare(args.data)
    scale = data.levels - 1
    flat = {s: getattr(data, s).x.flatten(1).double().numpy() / scale for s in ("train", "test")}
    print(
        f"{args.data}: {len(data.train)} train / {len(data.test)} test, code size {args.code}, "
        f"{args.epochs} epochs of batch {args.batch_size}, Adam lr {args.lr}, {args.threads} thread(s); "
        f"probe: logistic regression, L-BFGS up to {args.max_iter} iterations"
    )
    rows = []

    def probe(name: str, train_codes: np.ndarray, test_codes: np.ndarray, mse: float | None, fit_s: float) -> None:
        result = linear_probe(train_codes, data.train.y, test_codes, data.test.y, max_iter=args.max_iter)
        rows.append((name, train_codes.shape[1], mse, result.accuracy, result.iterations, result.converged))
        mse_text = "-" if mse is None else f"{mse:.5f}"
        print(
            f"  {name:<12} {train_codes.shape[1]:>5} features  test MSE {mse_text:>8}  probe accuracy "
            f"{result.accuracy:.4f}  (fit {fit_s:.1f} s, probe {result.seconds:.1f} s, {result.iterations} "
            f"L-BFGS iterations{'' if result.converged else ', NOT converged'})",
            flush=True,
        )

    for name in args.models.split(","):
        cls = get_model_class(name)
        config = cls.Config(
            shape=data.shape, levels=data.levels, hidden=(), code=args.code, code_activation="sigmoid", **SETTINGS[name]
        )
        torch.manual_seed(0)
        model = cls(config)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            run = untaught.train(
                model, data, out=f"{tmp}/run", epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                threads=args.threads, progress=False, samples=0,
            )  # fmt: skip
        fit_s = time.perf_counter() - started
        model = run.model.eval()
        with torch.no_grad():
            recon = torch.cat([model.reconstruct(x).flatten(1).double() for x in data.test.x.split(1000)]).numpy()
        mse = float(((recon - flat["test"]) ** 2).mean())
        probe(name, embed(model, data.train.x), embed(model, data.test.x), mse, fit_s)

    from sklearn.decomposition import PCA

    started = time.perf_counter()
    pca = PCA(args.code, random_state=0).fit(flat["train"])
    fit_s = time.perf_counter() - started
    codes = {s: pca.transform(v) for s, v in flat.items()}
    mse = float(((pca.inverse_transform(codes["test"]) - flat["test"]) ** 2).mean())
    probe(f"PCA-{args.code}", codes["train"], codes["test"], mse, fit_s)
    probe("raw pixels", flat["train"], flat["test"], 0.0, 0.0)

    print(f"\n| {args.data} | features | test MSE / pixel | linear probe test accuracy | L-BFGS iterations |")
    print("| --- | --- | --- | --- | --- |")
    for name, features, mse, accuracy, iterations, converged in rows:
        print(f"| {name} | {features} | {mse:.5f} | {accuracy:.4f} | {iterations}{'' if converged else ' (cut)'} |")


if __name__ == "__main__":
    main()

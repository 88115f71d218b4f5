"""Train one latent-variable model on dynamically binarised Fashion-MNIST for a wall-clock budget
through the engine, then tighten its test bound with the IWAE estimator on the first test images.

    python bench/latent_fmnist_nll.py vae --minutes 2.5 --k 1000 --images 1000 --out runs/bench-vae-fmnist

The run folder keeps the engine's metrics (the full test set's L_1 bound, i.e. the ELBO in
expectation) and gains an evaluation record for the IWAE-k bound over the first ``--images`` test
images (the leaderboard uses only whole-test-set numbers, so this one stays in the bench's table).
All models get the same budget, batch size, learning rate, images and k.
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model", help="vae, iwae, conv-vae, iaf-vae or draw")
    p.add_argument("--minutes", type=float, default=2.5)
    p.add_argument("--k", type=int, default=1000)
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--set", action="append", default=[], help="config overrides, e.g. --set steps=16")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    import untaught
    from untaught.evaluation import evaluate_nll, record_evaluation
    from untaught.registry import get_model_class
    from untaught.training import prepare

    data = prepare("fashion-mnist", binarize="dynamic")
    cls = get_model_class(args.model)
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    torch.manual_seed(0)
    model = cls(cls.Config(shape=data.shape, levels=data.levels, **overrides))
    options = dict(epochs=10_000, max_time=args.minutes, batch_size=args.batch_size, lr=args.lr)
    options |= dict(threads=args.threads, progress=False, samples=64)
    run = untaught.train(model, data, out=args.out, binarize="dynamic", **options)
    m = run.metrics
    print(
        f"{args.model}: {m['epochs']} epochs ({m['steps']} steps) in {m['fit_seconds']:.0f} s; "
        f"test L_1 bound over {m['test_n']} images: NLL <= {m['test_nll_nats']:.2f} ± {m['test_nll_stderr_nats']:.2f}"
    )
    model = run.model.eval()
    model.config.iwae_k = args.k
    from untaught.data import Split

    subset = Split(data.test.x[: args.images], data.test.y[: args.images], data.test.levels)
    started = time.perf_counter()
    result = evaluate_nll(model, subset, batch_size=100)
    seconds = time.perf_counter() - started
    record_evaluation(run.path, result, "test", f"iwae_k={args.k} on the first {args.images} test images", seconds)
    print(f"{args.model}: IWAE k={args.k} over the first {args.images} test images: {result} [{seconds:.0f} s]")
    model.config.iwae_k = 1
    print(f"{args.model}: L_1 (the ELBO in expectation) over the same images: {evaluate_nll(model, subset)}")


if __name__ == "__main__":
    main()

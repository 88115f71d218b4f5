"""Deep autoencoders on Fashion-MNIST: the fine-tuned stacked autoencoder's test accuracy, and the
RBM-pretrained deep autoencoder's test reconstruction error next to PCA with as many components.

    bench/run.sh python bench/autoencoders_deep.py stacked-ae --epochs 45 --pretrain-epochs 2 --out runs/sae
    bench/run.sh python bench/autoencoders_deep.py rbm-deep-ae --epochs 26 --pretrain-epochs 2
    bench/run.sh python bench/autoencoders_deep.py stacked-ae --resume runs/sae --epochs 45   # a run cut by its budget

Reference points: the published scikit-learn MLPClassifier 256-128-100 reaches 0.883 test accuracy
on Fashion-MNIST (the dataset's benchmark table; cited, not re-run); PCA is fitted in this run.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

import untaught
from untaught.io import CONFIG, read_json
from untaught.registry import get_model_class
from untaught.training import TrainingData, prepare


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", choices=["stacked-ae", "rbm-deep-ae"])
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--hidden", default=None, help="layer sizes (default: the model's)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--pretrain-epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--activation", default="relu", help="stacked-ae only (default relu)")
    p.add_argument("--dropout", type=float, default=0.2, help="stacked-ae only (default 0.2)")
    p.add_argument("--max-time", type=float, default=None, help="minutes")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="keep the run folder here (default: a temporary folder)")
    p.add_argument("--resume", help="continue this kept run to --epochs / --max-time (both for the whole run)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.resume:
        budget = dict(epochs=args.epochs, max_time=args.max_time, threads=args.threads, progress=False)
        run = untaught.resume(args.resume, **budget)
        if run.model.name != args.model:
            raise ValueError(f"{args.resume} holds a {run.model.name} run, not {args.model}")
        data = prepare(read_json(run.path / CONFIG)["train"]["data"])
        print(f"resumed {args.resume}: {run.metrics['epochs']} epochs in all; kept {run.metrics['selected']}")
        measure(args.model, run.model.eval(), data)
        return
    data = prepare(args.data)
    cls = get_model_class(args.model)
    fields = dict(shape=data.shape, levels=data.levels, pretrain_epochs=args.pretrain_epochs)
    if args.hidden:
        fields["hidden"] = tuple(int(h) for h in args.hidden.split(","))
    if args.model == "stacked-ae":
        fields |= dict(activation=args.activation, dropout=args.dropout)
    torch.manual_seed(0)
    model = cls(cls.Config(**fields))
    config = model.config
    print(
        f"{args.model} {config.hidden} on {args.data}: {args.pretrain_epochs} pretraining epoch(s) per layer, "
        f"{args.epochs} epochs in all, batch {args.batch_size}, Adam lr {args.lr}, {args.threads} thread(s)"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = untaught.train(
            model, data, out=args.out or f"{tmp}/run", epochs=args.epochs, max_time=args.max_time,
            batch_size=args.batch_size, lr=args.lr, threads=args.threads, progress=False, samples=0,
        )  # fmt: skip
    print(
        f"trained {run.metrics['epochs']} epochs in {time.perf_counter() - started:.0f} s; "
        f"kept {run.metrics['selected']}"
    )
    measure(args.model, run.model.eval(), data)


def measure(name: str, model: torch.nn.Module, data: TrainingData) -> None:
    """Print the test table: the stacked network's accuracy, or the deep autoencoder's error next to PCA's."""
    config = model.config
    x, y = data.test.x, data.test.y
    if name == "stacked-ae":
        with torch.no_grad():
            predicted = torch.cat([model.classify(chunk).argmax(1) for chunk in x.split(1000)])
        accuracy = float((predicted == y).double().mean())
        print("\n| model | test accuracy |\n| --- | --- |")
        print(f"| stacked-ae {config.hidden}, fine-tuned | {accuracy:.4f} |")
        print("| MLPClassifier 256-128-100 (published, Fashion-MNIST benchmark) | 0.883 |")
        return
    from sklearn.decomposition import PCA

    flat = {s: getattr(data, s).x.flatten(1).double().numpy() / (data.levels - 1) for s in ("train", "test")}
    with torch.no_grad():
        recon = torch.cat([model.reconstruct(chunk).flatten(1).double() for chunk in x.split(1000)]).numpy()
        up_down = torch.cat([model.rbm_up_down(chunk).flatten(1).double() for chunk in x.split(1000)]).numpy()
    k = config.hidden[-1]
    pca = PCA(k, random_state=0).fit(flat["train"])
    pca_recon = pca.inverse_transform(pca.transform(flat["test"]))
    rows = [
        (f"rbm-deep-ae {config.hidden}, fine-tuned", ((recon - flat["test"]) ** 2).mean()),
        ("the RBM stack before fine-tuning (up-down pass)", ((up_down - flat["test"]) ** 2).mean()),
        (f"PCA, {k} components", ((pca_recon - flat["test"]) ** 2).mean()),
    ]
    print(f"\n| {data.name} test | squared error per image | per pixel |\n| --- | --- | --- |")
    for name, mse in rows:
        print(f"| {name} | {mse * flat['test'].shape[1]:.2f} | {mse:.5f} |")


if __name__ == "__main__":
    main()

"""Codes of representation models: ``embed`` a dataset, ``probe`` the codes with a linear classifier,
and the pictures of an autoencoder run. Also the ``untaught embed | probe | pictures`` commands.

    codes = embed(model, split.x)                      # float32 numpy [N, K]
    result = linear_probe(train_codes, train_y, test_codes, test_y)   # ProbeResult(accuracy=...)
"""

from __future__ import annotations

import argparse
import io
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


@torch.no_grad()
def embed(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """``model.encode`` over ``x`` [N, *shape] in batches, in eval mode: float32 numpy [N, K]."""
    if "encode" not in model.capabilities():
        raise TypeError(f"{model.name} has no encoder: there are no codes to compute")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    codes = [model.encode(chunk.to(device)).flatten(1).float().cpu() for chunk in x.split(batch_size)]
    model.train(was_training)
    return torch.cat(codes).numpy()


@dataclass(frozen=True)
class ProbeResult:
    """Accuracy of a linear classifier fitted on train codes: on the evaluation codes, and on train;
    ``iterations`` of L-BFGS it took (``converged`` if fewer than the limit)."""

    accuracy: float
    train_accuracy: float
    n_train: int
    n_eval: int
    features: int
    seconds: float
    iterations: int
    converged: bool


def check_labels(y: torch.Tensor | np.ndarray, what: str) -> np.ndarray:
    """Labels as int64 numpy; a clear error if the dataset has none (every label is -1)."""
    y = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y, dtype=np.int64)
    if len(y) == 0 or (y < 0).all():
        raise ValueError(f"{what} has no labels (every label is -1); a linear probe needs a labelled dataset")
    if (y < 0).any():
        raise ValueError(f"{what} has {(y < 0).sum()} unlabelled examples (label -1); expected every example labelled")
    return y


def linear_probe(
    train_codes: np.ndarray,
    train_y: Any,
    eval_codes: np.ndarray,
    eval_y: Any,
    *,
    c: float = 1.0,
    max_iter: int = 1000,
) -> ProbeResult:
    """Multinomial logistic regression (scikit-learn, L-BFGS, L2 strength ``1 / c``) on standardised
    codes; the scaler and classifier see only the training codes."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_y, eval_y = check_labels(train_y, "the training split"), check_labels(eval_y, "the evaluation split")
    if train_codes.shape[1] != eval_codes.shape[1]:
        raise ValueError(f"train codes have {train_codes.shape[1]} features, evaluation codes {eval_codes.shape[1]}")
    started = time.perf_counter()
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
    with warnings.catch_warnings():  # reported as ``converged`` instead
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(train_codes, train_y)
    iterations = int(clf[-1].n_iter_.max())
    return ProbeResult(
        accuracy=float(clf.score(eval_codes, eval_y)),
        train_accuracy=float(clf.score(train_codes, train_y)),
        n_train=len(train_y),
        n_eval=len(eval_y),
        features=train_codes.shape[1],
        seconds=time.perf_counter() - started,
        iterations=iterations,
        converged=iterations < max_iter,
    )


# -- commands ------------------------------------------------------------------------------------------
def _run_data(folder: Path, data: str | None) -> Any:
    """The run's prepared dataset (its own binarize / levels settings), or ``data`` if given."""
    from .io import CONFIG, read_json
    from .training import prepare, run_data

    if data and data != read_json(folder / CONFIG)["train"]["data"]:
        return prepare(data)
    return run_data(folder)


def _load(run: str, threads: int | None) -> tuple[Path, Any]:
    from .io import load_model, run_folder

    if threads:
        torch.set_num_threads(threads)
    folder = run_folder(run)
    return folder, load_model(folder)


def _check_shape(model: Any, data: Any) -> None:
    if tuple(model.config.shape) != data.shape or model.config.levels != data.levels:
        raise ValueError(
            f"{data.name!r} gives shape {data.shape} with {data.levels} levels; the model was trained on "
            f"shape {tuple(model.config.shape)} with {model.config.levels} levels"
        )


def cmd_embed(args: argparse.Namespace) -> int:
    from .io import atomic_write_bytes

    folder, model = _load(args.run, args.threads)
    data = _run_data(folder, args.data)
    _check_shape(model, data)
    split = getattr(data, args.split)
    codes = embed(model, split.x, args.batch_size)
    out = Path(args.output)
    buffer = io.BytesIO()
    if out.suffix == ".npz":
        np.savez(buffer, codes=codes, labels=split.y.numpy())
    elif out.suffix == ".npy":
        np.save(buffer, codes)
    else:
        raise ValueError(f"-o must end in .npy (codes) or .npz (codes and labels); got {str(out)!r}")
    atomic_write_bytes(out, buffer.getvalue())
    print(f"wrote codes {codes.shape[0]} x {codes.shape[1]} of {data.name} ({args.split}) to {out}")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    folder, model = _load(args.run, args.threads)
    data = _run_data(folder, args.data)
    _check_shape(model, data)
    check_labels(data.train.y, f"{data.name!r} (train)")
    codes = {s: embed(model, getattr(data, s).x, args.batch_size) for s in ("train", args.split)}
    result = linear_probe(
        codes["train"], data.train.y, codes[args.split], getattr(data, args.split).y, c=args.c, max_iter=args.max_iter
    )
    print(
        f"{model.name} codes ({result.features}-d) on {data.name}: linear probe {args.split} accuracy "
        f"{result.accuracy:.4f} (train {result.train_accuracy:.4f}; {result.n_train} train / "
        f"{result.n_eval} {args.split} examples; logistic regression, C={args.c}, {result.iterations} L-BFGS "
        f"iterations{'' if result.converged else ' = --max-iter: NOT converged'}, {result.seconds:.1f} s)"
    )
    if hasattr(model, "classify"):
        split = getattr(data, args.split)
        with torch.no_grad():
            predicted = torch.cat([model.classify(x).argmax(1) for x in split.x.split(args.batch_size)])
        accuracy = float((predicted == split.y).double().mean())
        print(f"{model.name} classifier head: {args.split} accuracy {accuracy:.4f}")
    return 0


def cmd_pictures(args: argparse.Namespace) -> int:
    """Reconstructions, first-layer filters, noisy / clean / denoised triplets and a 2-D code map."""
    for path in write_pictures(args.run, n=args.n, seed=args.seed, threads=args.threads):
        print(f"wrote {path}")
    return 0


@torch.no_grad()
def write_pictures(run: str | Path, *, n: int = 32, seed: int = 0, threads: int | None = None) -> list[Path]:
    """Write the pictures of an autoencoder run into its folder and return their paths."""
    from .viz.codes import code_scatter, filter_images, principal_plane, save_rows, to_levels
    from .viz.grid import save_grid

    folder, model = _load(str(run), threads)
    for needed in ("encode", "decode"):
        if needed not in model.capabilities():
            raise TypeError(f"{model.name} has no {needed}: pictures need an autoencoder")
    data = _run_data(folder, None)
    levels = data.levels
    if levels is None or len(data.shape) != 3:
        raise ValueError(f"pictures need image data with levels; {data.name!r} is {data.shape} with {levels}")
    test = data.test
    x = test.x[:n]
    written = []
    recon = to_levels(model.decode(model.encode(x)), levels)
    written.append(save_rows([x, recon], levels, folder / "reconstructions.png"))
    first = _first_layer(model)
    if first is not None:
        written.append(save_grid(filter_images(first.weight, data.shape), 256, folder / "filters.png", min_tile=24))
    if getattr(model.config, "corruption", "none") != "none":
        clean = model.inputs(x)
        noisy = model.corrupt(clean, torch.Generator().manual_seed(seed))
        denoised = model.decode(model._encode_float(noisy))
        triplet = [to_levels(noisy, levels), x, to_levels(denoised, levels)]
        written.append(save_rows(triplet, levels, folder / "denoising.png"))
    codes = embed(model, test.x)
    plane = principal_plane(codes.astype(np.float64))
    written.append(code_scatter(plane, test.y.numpy(), folder / "codes.png"))
    return written


def _first_layer(model: torch.nn.Module) -> torch.nn.Module | None:
    """The first linear or convolutional layer (for RBM-pretrained models, the first RBM's weights)."""
    rbms = getattr(model, "rbms", None)
    if rbms is not None:
        layer = torch.nn.Linear(1, 1)
        layer.weight = torch.nn.Parameter(rbms[0].weight.detach().T)  # [H, D], as a linear layer's
        return layer
    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
            return module
    return None


def add_commands(sub: Any) -> None:
    p = sub.add_parser("embed", help="write the codes of a dataset split (.npy, or .npz with labels)")
    p.add_argument("run", help="run folder of a model with encode()")
    p.add_argument("--data", help="dataset (default: the run's own, with its binarize / levels)")
    p.add_argument("--split", choices=["train", "val", "test"], default="test")
    p.add_argument("-o", "--output", required=True, help="codes.npy, or codes.npz (arrays 'codes' and 'labels')")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--threads", type=int)
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser(
        "probe",
        help="linear-probe accuracy of a run's codes (logistic regression on train codes)",
        description="Fit scikit-learn's logistic regression on standardised train codes and print the "
        "accuracy on --split (test by default). Needs a labelled dataset.",
    )
    p.add_argument("run", help="run folder of a model with encode()")
    p.add_argument("--data", help="dataset (default: the run's own)")
    p.add_argument("--split", choices=["val", "test"], default="test")
    p.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the classifier (default 1)")
    p.add_argument("--max-iter", type=int, default=1000, help="L-BFGS iterations (default 1000)")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--threads", type=int)
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser(
        "pictures",
        help="write an autoencoder run's pictures into its folder",
        description="Writes reconstructions.png (test inputs above their reconstructions), filters.png "
        "(first-layer filters), denoising.png (noisy / clean / denoised rows, for corrupting models) and "
        "codes.png (test codes coloured by label: the code itself if 2-d, else its first two principal "
        "components).",
    )
    p.add_argument("run", help="run folder")
    p.add_argument("-n", type=int, default=32, help="test images shown (default 32)")
    p.add_argument("--seed", type=int, default=0, help="seed of the corruption shown (default 0)")
    p.add_argument("--threads", type=int)
    p.set_defaults(func=cmd_pictures)

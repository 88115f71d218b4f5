"""Test NLL (nats and bits/dim) of the autoregressive models under a fixed CPU time budget, next to
the independent-pixel baseline, through untaught's own engine (``untaught.train``).

Every model trains for ``--minutes`` of wall time (``max_time``; validation inside the budget),
keeps its best validation epoch and is evaluated on the whole test split (``--epoch-images`` and
``--val-images`` shorten the epochs and their validation on 28x28 data, so that a budget of minutes
holds several validated epochs). The baseline models each
pixel independently with a categorical distribution over the dataset's levels fitted on the
training split (add-1/2 smoothing): what an autoregressive model must beat.

Sizes (chosen for a CPU budget of minutes, not the papers' GPU sizes):
    fvbn            no hyperparameters
    nade            hidden 500 (binary data), 100 otherwise
    pixelcnn        15 residual blocks x 32 channels, head 32 (pytorch-generative's MNIST size)
    gated-pixelcnn  5 layers x 32 channels, head 32 on 28x28; 10 x 64 on digits
    pixelsnail      2 blocks x 32 channels, keys 8, values 16;  pixelrnn  2 Row LSTM layers x 32
    pixelrnn-diagonal  2 Diagonal BiLSTM layers x 32 (``pixelrnn --layer diagonal``)
    pixelcnn++      3 resolutions, 1 gated resnet per resolution x 32 channels, 5 logistics, dropout 0.5
    pixel-transformer  2 layers x 64, 4 heads;  wavenet  8 layers x 32 channels (python-chars)

``--set key=value`` (JSON values) overrides a hyperparameter of every model of the run.

    python bench/autoregressive_nll.py --data digits --minutes 1 --models fvbn,nade,pixelcnn,gated-pixelcnn
    python bench/autoregressive_nll.py --data fashion-mnist --binarize static --minutes 3 --models pixelcnn \
        --epoch-images 6400 --val-images 1000 --pictures bench/pictures/ar-fmnist-binary
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import torch

import untaught
from untaught.registry import get_model_class
from untaught.training import prepare

# bench names that are a registered model with another layer type: name -> (model, fixed options)
VARIANTS = {"pixelrnn-diagonal": ("pixelrnn", {"layer": "diagonal"})}


def sizes(name: str, shape: tuple[int, ...], levels: int) -> dict:
    small = shape[-1] <= 8
    return {
        "fvbn": {},
        "nade": {"hidden": 500 if levels == 2 else 100},
        "pixelcnn": {"blocks": 15, "channels": 32, "head": 32},
        "gated-pixelcnn": {"layers": 10, "channels": 64, "head": 32} if small else {"layers": 5, "channels": 32},
        "pixelsnail": {"blocks": 2, "channels": 32, "key": 8, "value": 16},
        "pixelrnn": {"layers": 2, "hidden": 32},
        "pixelrnn-diagonal": {"layers": 2, "hidden": 32},
        "pixelcnn++": {"channels": 32, "resnets": 1, "scales": 3, "mixtures": 5},
        "pixel-transformer": {"layers": 2, "dim": 64, "heads": 4},
        "wavenet": {"layers": 8, "channels": 32},
    }[name]


def independent_pixels(train: torch.Tensor, test: torch.Tensor, levels: int) -> float:
    """Test NLL in nats of per-pixel categoricals fitted on ``train`` (add-1/2 smoothing)."""
    flat = train.flatten(1).long()  # [N, D]
    cells = (torch.arange(flat.shape[1]) * levels + flat).flatten()  # one counter per (pixel, level)
    counts = torch.bincount(cells, minlength=flat.shape[1] * levels).view(-1, levels).double() + 0.5  # [D, levels]
    logp = (counts / counts.sum(1, keepdim=True)).log()
    return float(-logp.gather(1, test.flatten(1).long().T).sum(0).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--binarize", choices=["static", "dynamic"])
    parser.add_argument("--minutes", type=float, default=1.0, help="training budget per model (wall time)")
    parser.add_argument("--models", default="fvbn,nade,pixelcnn,gated-pixelcnn")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--epoch-images", type=int, help="training images per epoch (default: the whole split)")
    parser.add_argument("--val-images", type=int, help="validate on the first N validation images (default: all)")
    parser.add_argument("--set", action="append", default=[], help="hyperparameter override, e.g. --set dropout=0")
    parser.add_argument("--pictures", help="copy each run's 64 samples to PICTURES-NAME-samples.png")
    args = parser.parse_args()
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    torch.set_num_threads(args.threads)
    data = prepare(args.data, binarize=args.binarize)
    dims = math.prod(data.shape)
    label = args.data + (f" ({args.binarize}ally binarised)" if args.binarize else f" ({data.levels} levels)")
    print(
        f"{label}: torch {torch.__version__}, {args.threads} threads, {args.minutes} min per model, batch "
        f"{args.batch_size}, lr {args.lr}"
    )
    base = independent_pixels(data.train.x, data.test.x, data.levels)
    print(f"  {'independent pixels':<16} test NLL {base:9.3f} nats = {base / dims / math.log(2):.4f} bits/dim")
    for name in args.models.split(","):
        registered, fixed = VARIANTS.get(name, (name, {}))
        cls = get_model_class(registered)
        hyper = {**fixed, **sizes(name, data.shape, data.levels), **overrides}
        torch.manual_seed(0)
        model = cls(cls.Config(shape=data.shape, levels=data.levels, **hyper))
        stamp = time.strftime("%Y%m%d-%H%M%S")
        suffix = f"-{args.binarize}" if args.binarize else ""
        run = untaught.train(
            model,
            data,
            out=f"runs/bench-{name}-{args.data}{suffix}-{stamp}",
            max_time=args.minutes,
            threads=args.threads,
            batch_size=args.batch_size,
            lr=args.lr,
            progress=False,
            samples=64,
            binarize=args.binarize,
            epoch_images=args.epoch_images,
            val_images=args.val_images,
        )
        m = run.metrics
        print(
            f"  {name:<16} test NLL {m['test_nll_nats']:9.3f} ± {m['test_nll_stderr_nats']:.3f} nats = "
            f"{m['test_bpd']:.4f} bits/dim; {m['epochs']} epochs, {m['steps']} steps, "
            f"{m['train_images_per_second']:.0f} images/s, {m['parameters']} parameters, {hyper}; {run.path}"
        )
        if args.pictures:
            shutil.copyfile(Path(run.path) / "samples.png", f"{args.pictures}-{name}-samples.png")


if __name__ == "__main__":
    main()

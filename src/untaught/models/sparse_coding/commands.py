"""``untaught sparse-coding-pictures RUN``: the pictures of a trained sparse coding (or PSD) run.

* ``atoms.png``: the dictionary's atoms as a grid of patches (mid-grey = 0);
* ``reconstruction.png``: a photograph (left) and its reconstruction from the sparse codes of its
  non-overlapping patches (right), with the PSNR in dB printed and written into ``pictures.json``;
* ``sparsity.png``: a histogram of the number of non-zero codes per test patch.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch


def reconstruct_image(
    model: Any, image: np.ndarray, scale: float, batch: int = 4096
) -> tuple[np.ndarray, torch.Tensor]:
    """Code every non-overlapping patch of a grey image [H, W] in [0, 1] and rebuild it.

    Each patch loses its mean (kept aside and added back), is divided by ``scale`` (the dataset's
    global constant), coded by ``model.encode`` and decoded. Returns the reconstruction [H', W']
    (the image cropped to whole patches) and the codes [P, K].
    """
    p = model.config.shape[-1]
    h, w = (image.shape[0] // p) * p, (image.shape[1] // p) * p
    if h == 0 or w == 0:
        raise ValueError(f"the patch size {p} is larger than the image of {image.shape[1]}x{image.shape[0]} pixels")
    tiles = image[:h, :w].reshape(h // p, p, w // p, p).transpose(0, 2, 1, 3).reshape(-1, p * p)
    dc = tiles.mean(1, keepdims=True)
    x = torch.from_numpy((tiles - dc) / scale).to(next(model.parameters()).dtype).view(-1, *model.config.shape)
    with torch.no_grad():
        codes = torch.cat([model.encode(chunk) for chunk in x.split(batch)])
        recon = torch.cat([model.decode(chunk) for chunk in codes.split(batch)])
    out = recon.flatten(1).double().numpy() * scale + dc
    return out.reshape(h // p, w // p, p, p).transpose(0, 2, 1, 3).reshape(h, w), codes


def psnr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1]."""
    mse = float(np.mean((reference - np.clip(estimate, 0, 1)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def write_pictures(run: str | Path, *, image: str | None = None) -> dict[str, Any]:
    from PIL import Image

    from ...data import load_split
    from ...data.patches import held_out_images, patch_source, read_grey
    from ...io import CONFIG, load_run, read_json, write_json
    from ...viz.filters import save_filters

    folder, model = load_run(
        run, lambda m: "dictionary" in dict(m.named_parameters()), "sparse-coding-pictures draws sparse coding models"
    )
    data_name = read_json(folder / CONFIG)["train"]["data"]
    k = model.config.atoms
    atoms = model.dictionary.detach().float().view(k, 1, *model.config.shape[-2:])
    paths = [save_filters(atoms, folder / "atoms.png", count=None)]
    result: dict[str, Any] = {"data": data_name}
    source = patch_source(data_name)  # (image folder, patch size, the scale the patches were divided by)
    if source is None and image is not None:
        raise ValueError(
            f"{folder} was trained on {data_name!r}, not on patches of photographs: there is no scale to code "
            "a photograph with"
        )
    if source is not None:
        image = image or str(held_out_images(source[0])[0])
        grey = read_grey(image)
        recon, codes = reconstruct_image(model, grey, source[2])
        value = psnr(grey[: recon.shape[0], : recon.shape[1]], recon)
        pair = np.concatenate([grey[: recon.shape[0], : recon.shape[1]], np.clip(recon, 0, 1)], axis=1)
        Image.fromarray((pair * 255).round().astype(np.uint8)).save(folder / "reconstruction.png")
        paths.append(folder / "reconstruction.png")
        result.update(
            image=str(image),
            scale=source[2],
            psnr_db=value,
            nonzero_per_patch=float((codes != 0).sum(1).double().mean()),
        )
        print(
            f"{Path(image).name}: PSNR {value:.2f} dB from {result['nonzero_per_patch']:.2f} non-zero codes per patch"
        )
    test = load_split(data_name, "test").x[:2000]
    with torch.no_grad():
        nonzero = (model.encode(test.to(next(model.parameters()).dtype)) != 0).sum(1).numpy()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(nonzero, bins=np.arange(nonzero.max() + 2) - 0.5, color="0.3")
    ax.set_xlabel(f"non-zero codes per patch (of {k})")
    ax.set_ylabel("test patches")
    ax.set_title(f"{model.name}: mean {nonzero.mean():.2f} non-zeros")
    fig.tight_layout()
    fig.savefig(folder / "sparsity.png", dpi=100)
    plt.close(fig)
    paths.append(folder / "sparsity.png")
    result["test_nonzero_mean"] = float(nonzero.mean())
    write_json(folder / "pictures.json", result)
    for path in paths:
        print(f"wrote {path}")
    return result


def cmd_pictures(args: argparse.Namespace) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    write_pictures(args.run, image=args.image)
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "sparse-coding-pictures",
        help="atoms, a photograph rebuilt from its sparse patch codes (PSNR), code sparsity",
    )
    p.add_argument("run", help="run folder of a sparse-coding or psd model")
    p.add_argument("--image", help="photograph to reconstruct (default: the first test image of the run's folder)")
    p.add_argument("--threads", type=int)
    p.set_defaults(func=cmd_pictures)

"""Context encoder vs mean-fill and OpenCV inpainting: PSNR inside a centred hole.

128 x 128 grid crops of BSDS500 test photographs (1200) and of the Kodak images (576), each with
the centred hole the model was trained for (64 x 64): PSNR of the hole's pixels only (RGB, peak
255), the mean over crops, for

* mean-fill: every hole pixel set to the mean colour of the crop's context (the pixels outside);
* OpenCV's Telea (fast marching) and Navier-Stokes inpainting, radius 5;
* the context encoder of run folder RUN.

Writes RUN/inpainting.png (rows: hole, context encoder, Telea, original) for held-out crops.

    bench/run.sh python bench/context_encoder_psnr.py runs/ce --threads 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from untaught.data import load_split
from untaught.io import load_model, run_folder
from untaught.models.context_encoder import make_masks
from untaught.viz.codes import save_rows


def psnr_in_hole(filled: np.ndarray, original: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """PSNR (dB, peak 255) over the hole pixels of each image: filled/original uint8 [N, C, H, W],
    hole bool [H, W]."""
    diff = filled.astype(np.float64) - original.astype(np.float64)
    mse = (diff[:, :, hole] ** 2).mean((1, 2))
    return 10 * np.log10(255.0**2 / np.maximum(mse, 1e-12))


def mean_fill(x: np.ndarray, hole: np.ndarray) -> np.ndarray:
    out = x.copy()
    context = x[:, :, ~hole].astype(np.float64).mean(2)  # [N, C]
    out[:, :, hole] = np.round(context)[:, :, None].astype(np.uint8)
    return out


def opencv_fill(x: np.ndarray, hole: np.ndarray, method: int, radius: float) -> np.ndarray:
    import cv2

    mask = hole.astype(np.uint8) * 255
    out = np.empty_like(x)
    for i, image in enumerate(x):
        bgr = np.ascontiguousarray(image.transpose(1, 2, 0)[:, :, ::-1])
        out[i] = cv2.inpaint(bgr, mask, radius, method)[:, :, ::-1].transpose(2, 0, 1)
    return out


@torch.no_grad()
def model_fill(model, x: np.ndarray, mask: torch.Tensor, batch: int = 64) -> np.ndarray:
    xs = torch.from_numpy(x)
    out = [model.inpaint(chunk, mask[: len(chunk)]) for chunk in xs.split(batch)]
    return torch.cat(out).numpy()


def main() -> None:
    import cv2

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", help="run folder of a trained context-encoder")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--radius", type=float, default=5.0, help="OpenCV inpainting radius (default 5)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    folder = run_folder(args.run)
    model = load_model(folder).eval()
    c, h, w = model.config.shape
    hole = make_masks("center", 1, h, w, model.config.hole)[0, 0].bool().numpy()
    mask = torch.from_numpy(hole).float()[None, None].expand(64, 1, h, w)
    print(
        f"{model.name} from {folder} ({sum(p.numel() for p in model.parameters())} parameters, trained with "
        f"{model.config.mask} masks); {w}x{h} crops, centred {model.config.hole}x{model.config.hole} hole; "
        f"{args.threads} thread(s), OpenCV {cv2.__version__}"
    )
    methods = {
        "mean-fill": lambda x: mean_fill(x, hole),
        "OpenCV Telea": lambda x: opencv_fill(x, hole, cv2.INPAINT_TELEA, args.radius),
        "OpenCV Navier-Stokes": lambda x: opencv_fill(x, hole, cv2.INPAINT_NS, args.radius),
        "context encoder": lambda x: model_fill(model, x, mask),
    }
    table = {}
    for dataset in ("bsds500", "kodak"):
        x = load_split(dataset, "test").x
        if tuple(x.shape[1:]) != (c, h, w):
            raise ValueError(f"{dataset} crops are {tuple(x.shape[1:])}; the model takes {(c, h, w)}")
        x = x.numpy()
        for name, method in methods.items():
            started = time.perf_counter()
            filled = method(x)
            assert np.array_equal(filled[:, :, ~hole], x[:, :, ~hole]), f"{name} changed the context"
            values = psnr_in_hole(filled, x, hole)
            stderr = values.std() / np.sqrt(len(values))
            table[dataset, name] = (values.mean(), stderr, len(values))
            print(
                f"  {dataset:<8} {name:<22} PSNR in hole {values.mean():6.2f} ± {stderr:.2f} dB "
                f"({len(values)} crops, {time.perf_counter() - started:.1f} s)",
                flush=True,
            )
            if dataset == "kodak" and name in ("context encoder", "OpenCV Telea"):
                table[name] = filled[::48][:12]
        if dataset == "kodak":
            shown = x[::48][:12]
            holed = shown.copy()
            holed[:, :, hole] = 128
            rows = [torch.from_numpy(a) for a in (holed, table["context encoder"], table["OpenCV Telea"], shown)]
            save_rows(rows, 256, folder / "inpainting.png")
            print(f"  wrote {folder / 'inpainting.png'} (rows: hole, context encoder, Telea, original; Kodak crops)")
    print("\n| PSNR in the hole (dB) | " + " | ".join(methods) + " |")
    print("| --- |" + " --- |" * len(methods))
    for dataset in ("bsds500", "kodak"):
        cells = [f"{table[dataset, m][0]:.2f} ± {table[dataset, m][1]:.2f}" for m in methods]
        print(f"| {dataset} test ({table[dataset, 'mean-fill'][2]} crops) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

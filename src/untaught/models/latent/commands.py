"""``untaught canvases RUN``: DRAW's canvas sequence as an animated GIF and as a grid picture."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import torch


def canvas_pictures(frames: torch.Tensor, out: Path, *, duration_ms: int = 120) -> tuple[Path, Path]:
    """Write ``frames`` [T, n, C, H, W] (probabilities in [0, 1]) as ``canvases.gif`` (one frame per
    step, the n samples tiled) and ``canvases.png`` (one row per sample, one column per step)."""
    from PIL import Image

    from ...io import atomic_write_bytes
    from ...viz import image_grid, save_grid

    levels = (frames * 255).round().to(torch.uint8).cpu()
    t, n = levels.shape[:2]
    pictures = [Image.fromarray(image_grid(levels[i], 256)) for i in range(t)]
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0)
    gif = atomic_write_bytes(out / "canvases.gif", buffer.getvalue())
    grid = save_grid(levels.transpose(0, 1).reshape(t * n, *levels.shape[2:]), 256, out / "canvases.png", nrow=t)
    return gif, grid


def cmd_canvases(args: argparse.Namespace) -> int:
    from ...io import load_run

    folder, model = load_run(args.run, lambda m: hasattr(m, "canvases"), "canvases are drawn by DRAW")
    if args.n < 1:
        raise ValueError(f"-n must be >= 1; got {args.n}")
    frames = model.canvases(args.n, generator=torch.Generator().manual_seed(args.seed))
    gif, grid = canvas_pictures(frames, Path(args.output or folder))
    print(f"wrote {gif} ({len(frames)} steps) and {grid} (one row per sample)")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("canvases", help="DRAW: the canvas after every step, as a GIF and a grid picture")
    p.add_argument("run", help="run folder of a trained DRAW model")
    p.add_argument("-n", type=int, default=8, help="samples (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", help="folder for canvases.gif and canvases.png (default: the run folder)")
    p.set_defaults(func=cmd_canvases)

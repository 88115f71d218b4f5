"""``untaught inpaint``: fill a hole in a photograph of any size with a trained context encoder.

The model works on windows of its training size (e.g. 128 x 128). A photograph larger than that is
not resized: the hole is filled window by window (the window centred on a central hole; for block
and region masks, a grid of windows over the whole photograph, each filling the hole pixels it
holds). A photograph smaller than one window is enlarged (bicubic) so that it fits, filled, and
brought back to its own size.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch


def hole_mask(
    kind: str, height: int, width: int, hole: int, *, at: tuple[int, int] | None = None, seed: int = 0
) -> torch.Tensor:
    """The mask [1, 1, H, W] (1 = hole) of a ``height`` x ``width`` photograph.

    ``center``: a ``hole`` x ``hole`` square centred at ``at`` = (x, y) (default: the image centre);
    ``block`` / ``region``: random masks of :func:`untaught.models.context_encoder.make_masks`.
    """
    from .models.context_encoder import make_masks

    if hole < 1:
        raise ValueError(f"--hole must be a positive side in pixels; got {hole}")
    if hole > min(height, width):
        raise ValueError(f"the hole ({hole}x{hole} pixels) is larger than the {width}x{height} image")
    if kind != "center":
        if at is not None:
            raise ValueError("--at applies to the center mask only")
        return make_masks(kind, 1, height, width, hole, torch.Generator().manual_seed(seed))
    cx, cy = at if at is not None else (width // 2, height // 2)
    left, top = cx - hole // 2, cy - hole // 2
    if left < 0 or top < 0 or left + hole > width or top + hole > height:
        raise ValueError(
            f"the {hole}x{hole} hole centred at x={cx}, y={cy} is not inside the {width}x{height} image; "
            f"expected a centre with {hole // 2} <= x <= {width - (hole - hole // 2)} and "
            f"{hole // 2} <= y <= {height - (hole - hole // 2)}"
        )
    mask = torch.zeros(1, 1, height, width)
    mask[..., top : top + hole, left : left + hole] = 1
    return mask


def _starts(size: int, window: int) -> list[int]:
    """Window offsets covering [0, size): a grid with stride ``window``, the last one flush with the end."""
    starts = list(range(0, size - window + 1, window))
    if starts[-1] + window < size:
        starts.append(size - window)
    return starts


def fill(model: Any, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fill ``mask`` (float [1, 1, H, W]) in ``image`` (uint8 [1, C, H, W], H and W >= the model's
    window) window by window; pixels outside the hole are returned unchanged."""
    _, wh, ww = model.config.shape
    _, _, h, w = image.shape
    out = image.clone()
    holes = mask[0, 0].nonzero()
    if len(holes) == 0:
        return out
    top_y, top_x = holes.min(0).values.tolist()
    bottom_y, bottom_x = holes.max(0).values.tolist()
    if bottom_y - top_y < wh and bottom_x - top_x < ww:
        # one window centred on the hole, moved inside the image if needed
        cy, cx = (top_y + bottom_y + 1) // 2, (top_x + bottom_x + 1) // 2
        windows = [(min(max(cy - wh // 2, 0), h - wh), min(max(cx - ww // 2, 0), w - ww))]
    else:
        windows = [(y, x) for y in _starts(h, wh) for x in _starts(w, ww)]
    todo = mask != 0  # hole pixels not filled yet (filled ones serve as context for later windows)
    for y, x in windows:
        m = todo[..., y : y + wh, x : x + ww]
        if not m.any():
            continue
        out[..., y : y + wh, x : x + ww] = model.inpaint(out[..., y : y + wh, x : x + ww], m.float())
        todo[..., y : y + wh, x : x + ww] = False
    return out


def inpaint_file(model: Any, path: str | Path, kind: str, *, hole: int | None, at: Any, seed: int) -> tuple:
    """Read ``path``, build the mask, fill it: (masked uint8 [H, W, C], filled uint8 [H, W, C])."""
    from PIL import Image

    from .data.photos import read_image

    channels, wh, ww = model.config.shape
    if channels not in (1, 3):
        raise ValueError(f"inpaint needs a model of grey or RGB images; this one has {channels} channels")
    array = read_image(path, grey=channels == 1)
    array = array[..., None] if array.ndim == 2 else array
    h, w = array.shape[:2]
    hole = hole or model.config.hole
    mask = hole_mask(kind, h, w, hole, at=at, seed=seed)
    side = hole if kind == "center" else hole // 2 if kind == "block" else 0  # region holes span windows
    if side > min(wh, ww):
        raise ValueError(
            f"the {kind} hole (side {side} pixels) is larger than the model's {ww}x{wh} window; use a smaller --hole"
        )
    scale = max(wh / h, ww / w, 1.0)
    work, work_mask = array, mask
    if scale > 1:  # smaller than a window: enlarge, fill, shrink back
        size = (max(ww, round(w * scale)), max(wh, round(h * scale)))
        work = np.asarray(Image.fromarray(array.squeeze(-1) if channels == 1 else array).resize(size, Image.BICUBIC))
        work = work[..., None] if work.ndim == 2 else work
        work_mask = torch.nn.functional.interpolate(mask, size=(size[1], size[0]), mode="nearest")
    x = torch.from_numpy(np.ascontiguousarray(work.transpose(2, 0, 1)))[None]
    filled = fill(model, x, work_mask)[0].numpy().transpose(1, 2, 0)
    if scale > 1:
        small = np.asarray(
            Image.fromarray(filled.squeeze(-1) if channels == 1 else filled).resize((w, h), Image.BICUBIC)
        )
        small = small[..., None] if small.ndim == 2 else small
        filled = np.where(mask[0, 0, :, :, None].numpy() > 0, small, array)
    masked = np.where(mask[0, 0, :, :, None].numpy() > 0, np.uint8(128), array)
    return masked, filled


def cmd_inpaint(args: argparse.Namespace) -> int:
    from PIL import Image

    from .io import atomic_write_bytes, load_model, run_folder

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(run_folder(args.run))
    if "inpaint" not in dir(model):
        raise TypeError(f"{model.name} cannot inpaint; train a context-encoder")
    at = None
    if args.at:
        try:
            at = tuple(int(v) for v in args.at.split(","))
            assert len(at) == 2
        except (ValueError, AssertionError):
            raise ValueError(f"--at must be X,Y in pixels, e.g. 240,160; got {args.at!r}") from None
    masked, filled = inpaint_file(model, args.image, args.mask, hole=args.hole, at=at, seed=args.seed)
    gap = np.full((masked.shape[0], 8, masked.shape[2]), 255, dtype=np.uint8)
    picture = np.concatenate([masked, gap, filled], axis=1)
    buffer = io.BytesIO()
    Image.fromarray(picture.squeeze(-1) if picture.shape[2] == 1 else picture).save(buffer, format="PNG")
    atomic_write_bytes(args.output, buffer.getvalue())
    if args.filled:
        buffer = io.BytesIO()
        Image.fromarray(filled.squeeze(-1) if filled.shape[2] == 1 else filled).save(buffer, format="PNG")
        atomic_write_bytes(args.filled, buffer.getvalue())
    print(f"wrote {args.output} (left: the hole, right: filled by {model.name})")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "inpaint",
        help="fill a hole in a photograph with a trained context encoder",
        description=(__doc__ or "").split("\n\n", 1)[1].strip(),
    )
    p.add_argument("run", help="run folder of a context-encoder")
    p.add_argument("image", help="photograph (JPEG, PNG, ...) of any size")
    p.add_argument(
        "--mask", choices=["center", "block", "region"], default="center", help="hole shape (default center)"
    )
    p.add_argument("--hole", type=int, help="hole side in pixels (default: the model's training hole)")
    p.add_argument("--at", help="centre X,Y of a center hole in pixels (default: the image centre)")
    p.add_argument("--seed", type=int, default=0, help="seed of random block / region masks")
    p.add_argument("-o", "--output", required=True, help="PNG: the photograph with its hole, next to the filled one")
    p.add_argument("--filled", help="also write the filled photograph alone to this PNG")
    p.add_argument("--threads", type=int)
    p.set_defaults(func=cmd_inpaint)

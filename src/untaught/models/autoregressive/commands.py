"""``untaught complete RUN``: autoregressive completion and super-resolution pictures of a run.

Completion keeps the top ``--rows`` rows of test images and samples the rest from the model's exact
conditionals; each row of the picture is one test image: the original, the given part (the rest
grey), then ``--samples`` completions. For a Gated PixelCNN trained with ``--lowres f``,
``--superres`` instead gives the model each test image's f-times smaller version: original, the
small image enlarged, then samples of ``p(x | small)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_complete(args: argparse.Namespace) -> int:
    import torch

    from ...io import load_model, run_folder
    from ...training import run_data
    from ...viz import save_grid

    folder = run_folder(args.run)
    model = load_model(folder)
    if not hasattr(model, "complete"):
        raise ValueError(f"{model.name} is not an autoregressive image model: it cannot complete images")
    data = run_data(folder)
    x = getattr(data, args.split).x[: args.n]
    torch.set_num_threads(args.threads or torch.get_num_threads())
    levels, (_, h, w) = model.config.levels, model.config.shape
    gen = torch.Generator().manual_seed(args.seed)
    rows = [x]
    if args.superres:
        if not getattr(model.config, "lowres", 0):
            raise ValueError(f"--superres needs a model trained with --lowres; {folder} has none")
        small = model.downsample(x)
        rows.append(torch.nn.functional.interpolate(small.float(), size=(h, w)).to(torch.uint8))
        rows += [
            model.sample(len(x), lowres=small, temperature=args.temperature, generator=gen) for _ in range(args.samples)
        ]
    else:
        if not 0 <= args.rows <= h:
            raise ValueError(f"--rows must be in [0, {h}]; got {args.rows}")
        shown = x.clone()
        shown[:, :, args.rows :] = (levels - 1) // 2
        rows.append(shown)
        rows += [model.complete(x, args.rows, temperature=args.temperature, generator=gen) for _ in range(args.samples)]
    grid = torch.stack(rows, 1).flatten(0, 1)  # image by image: original, given, samples
    out = Path(args.output or folder / ("superres.png" if args.superres else f"complete-{args.rows}rows.png"))
    save_grid(grid, levels, out, nrow=len(rows))
    print(f"wrote {out}: {len(x)} {args.split} images, each row: original, given, {args.samples} samples")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    text = "complete partly given test images (or enlarge small ones) with an autoregressive run"
    p = sub.add_parser("complete", help=text, description=text)
    p.add_argument("run", help="run folder")
    p.add_argument("--rows", type=int, default=14, help="rows given from the top (default 14)")
    p.add_argument("--superres", action="store_true", help="sample from the image's low-resolution version")
    p.add_argument("-n", type=int, default=8, help="test images (default 8)")
    p.add_argument("--samples", type=int, default=4, help="completions per image (default 4)")
    p.add_argument("--split", choices=["train", "val", "test"], default="test")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int)
    p.add_argument("-o", "--output", help="PNG path (default RUN/complete-Rrows.png or RUN/superres.png)")
    p.set_defaults(func=cmd_complete)

"""``untaught codec-eval FOLDER``: the rate-distortion table, BD-rates and plot of our codecs and of
JPEG, WebP and JPEG 2000 on a folder of images (see :mod:`.evaluate` for what is measured).

Our codecs are the shipped weights of the learned codecs (``--models``, default: every codec model
with shipped weights; ``--qualities``, default: all shipped levels) or run folders of trained codecs;
a rate-controlled codec (WaveOne) runs at target bpps (``--bpps``) instead of levels. The classic
codecs run at the target bpps (``--targets``), matched per image. Writes ``table.md``, ``results.csv``
(one row per image and setting) and ``rd.png`` into ``--out``, atomically.

``--low-rate`` draws the lecture's figure instead (:mod:`.lowrate`): WaveOne at ``--bpp``, the other
codecs at their lowest level, the classic codecs at their smallest file at least as large as ours, one
PNG per image, and ``lowrate.md`` / ``lowrate.csv``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any


def learned_codecs(
    models: Sequence[str] | None, qualities: Sequence[int] | None, bpps: Sequence[float] | None = None
) -> list[Any]:
    """Our codecs as :class:`.evaluate.LearnedCodec`: ``models`` by name or run folder (None: every
    codec model with shipped weights, none if this version has no learned codecs), at ``qualities``
    (None: every shipped level); a rate-controlled codec at the target ``bpps`` (None: 0.08, 0.1,
    0.15, 0.25), one LearnedCodec per shipped level."""
    from .evaluate import DEFAULT_BPPS, LearnedCodec
    from .files import codec_name

    bpps = DEFAULT_BPPS if bpps is None else tuple(bpps)
    if not bpps or not all(math.isfinite(b) and b > 0 for b in bpps):
        raise ValueError(f"target bpps must be positive numbers of bits per pixel; got {list(bpps)}")
    try:
        from .codec import available_qualities, compress_image, decompress_image, load_codec, rate_controlled
    except ImportError as e:
        if models is None:
            return []
        raise RuntimeError(
            f"the learned codecs are not available in this version of untaught ({e}); "
            "run codec-eval without --models to measure the classic codecs only"
        ) from None
    from ...registry import get_model_class, model_names

    shipped = {name: available_qualities(name) for name in model_names() if name.startswith("codec-")}
    if models is None:
        models = [name for name, levels in shipped.items() if levels]
    codecs = []
    for model in models:
        if Path(model).is_dir():  # a trained codec's run folder: its own weights, no levels
            codec, run = load_codec(str(model)), str(model)
            pair = partial(compress_image, model=run), partial(decompress_image, model=run)
            name = f"{codec.name} ({Path(model).name})"
            if rate_controlled(codec):
                levels = {b: (partial(pair[0], bpp=b), pair[1]) for b in bpps}
                codecs.append(LearnedCodec(name, levels, rate_controlled=True))
            else:
                codecs.append(LearnedCodec(name, {codec.config.quality: pair}))
            continue
        model = codec_name(model)
        levels = list(qualities) if qualities else shipped.get(model, [])
        missing = [q for q in levels if q not in shipped.get(model, [])]
        if not levels or missing:
            offer = ", ".join(f"{name} (qualities {','.join(map(str, q))})" for name, q in shipped.items() if q)
            raise ValueError(
                f"untaught ships no weights for {model!r}"
                + (f" at quality {','.join(map(str, missing))}" if missing else "")
                + f"; expected one of: {offer or 'none (no codec weights are shipped yet)'}"
            )
        if rate_controlled(get_model_class(model)):
            for q in levels:
                rates = {b: (partial(compress_image, model=model, quality=q, bpp=b), decompress_image) for b in bpps}
                codecs.append(LearnedCodec(model if len(levels) == 1 else f"{model} q={q}", rates, True))
        else:
            pairs = {q: (partial(compress_image, model=model, quality=q), decompress_image) for q in levels}
            codecs.append(LearnedCodec(model, pairs))
    names = [c.name for c in codecs]
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"each codec may be given once; given more than once: {', '.join(twice)}")
    return codecs


def codec_eval(
    folder: str | Path,
    *,
    out: str | Path,
    models: Sequence[str] | None = None,
    qualities: Sequence[int] | None = None,
    bpps: Sequence[float] | None = None,
    classic: Sequence[str] | None = None,
    targets: Sequence[float] | None = None,
    side: str = "nearest",
    max_images: int | None = None,
    threads: int = 1,
    progress: bool = True,
) -> Any:
    """Evaluate, print the table and BD-rates, write table.md, results.csv and rd.png into ``out``;
    returns the :class:`.evaluate.Evaluation`."""
    import torch

    from ...io import atomic_write_bytes
    from .classic import CODECS
    from .evaluate import DEFAULT_TARGETS, evaluate_folder

    if threads < 1:
        raise ValueError(f"--threads must be >= 1; got {threads}")
    torch.set_num_threads(threads)
    codecs = learned_codecs(models, qualities, bpps)
    if bpps is not None and not any(c.rate_controlled for c in codecs):
        given = ", ".join(c.name for c in codecs) or "none"
        raise ValueError(f"--bpps sets the rates of a rate-controlled codec (codec-waveone); the codecs are: {given}")
    if not codecs:
        print("no learned codec with shipped weights: measuring the classic codecs only", file=sys.stderr)
    result = evaluate_folder(
        folder,
        learned=codecs,
        classic=tuple(CODECS) if classic is None else classic,
        targets=DEFAULT_TARGETS if targets is None else targets,
        side=side,
        max_images=max_images,
        threads=threads,
        progress=(lambda line: print(line, file=sys.stderr, flush=True)) if progress else None,
    )
    table = result.table()
    print(table, end="")
    out = Path(out)
    atomic_write_bytes(out / "table.md", table.encode())
    atomic_write_bytes(out / "results.csv", result.csv().encode())
    title = f"rate-distortion on {Path(folder).name}, {len(result.images)} images"
    atomic_write_bytes(out / "rd.png", result.plot(title))
    print(f"wrote table.md, results.csv and rd.png to {out} ({result.seconds:.0f} s, {threads} thread(s))")
    return result


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def cmd_codec_eval(args: argparse.Namespace) -> int:
    out = args.out or f"runs/codec-eval-{Path(args.folder).name}-{time.strftime('%Y%m%d-%H%M%S')}"
    mode, other = (
        ("--low-rate", ("bpps", "targets", "side"))
        if args.low_rate
        else ("codec-eval without --low-rate", ("bpp", "crop"))
    )
    for option in other:
        if getattr(args, option) is not None:
            raise ValueError(f"--{option} does not apply to {mode}")
    if args.low_rate:
        from .lowrate import low_rate_eval

        low_rate_eval(
            args.folder,
            out=out,
            models=args.models,
            qualities=args.qualities,
            classic=args.codecs,
            bpp=0.1 if args.bpp is None else args.bpp,
            crop=256 if args.crop is None else args.crop,
            max_images=args.max_images,
            threads=args.threads,
            progress=args.progress,
        )
        return 0
    codec_eval(
        args.folder,
        out=out,
        models=args.models,
        qualities=args.qualities,
        bpps=args.bpps,
        classic=args.codecs,
        targets=args.targets,
        side=args.side or "nearest",
        max_images=args.max_images,
        threads=args.threads,
        progress=args.progress,
    )
    return 0


def add_commands(sub: Any) -> None:
    from ...cli import tuple_of

    p = sub.add_parser(
        "codec-eval",
        help="rate-distortion table, BD-rates and plot of our codecs and JPEG, WebP, JPEG 2000 on a folder",
        description=(__doc__ or "").split("\n\n", 1)[1].strip(),
    )
    p.add_argument("folder", help="folder of images (PNG, JPEG, ...), e.g. ../shared/data/kodak")
    p.add_argument(
        "--models", nargs="+", metavar="NAME", help="our codecs: names or run folders (default: all shipped)"
    )
    p.add_argument(
        "--qualities", type=tuple_of(int), help="quality levels of our codecs, e.g. 1,2,3,4 (default: all shipped)"
    )
    p.add_argument(
        "--bpps", type=tuple_of(float), help="target bpps of a rate-controlled codec (default 0.08,0.1,0.15,0.25)"
    )
    p.add_argument(
        "--codecs",
        type=_names,
        default=None,
        help="classic codecs, comma-separated, '' for none (default: jpeg,webp,jpeg2000)",
    )
    p.add_argument("--targets", type=tuple_of(float), help="target bpps of the classic codecs (default 0.125,...,2)")
    p.add_argument(
        "--side",
        choices=["nearest", "below", "above"],
        help="per image, the classic file nearest each target, or nearest from below / above (default nearest)",
    )
    p.add_argument(
        "--low-rate",
        action="store_true",
        help="the lecture's figure: WaveOne at --bpp next to every codec at about its file size, one PNG per image",
    )
    p.add_argument("--bpp", type=float, help="with --low-rate: WaveOne's target bpp (default 0.1)")
    p.add_argument("--crop", type=int, help="with --low-rate: central crop shown, in pixels; 0: whole (default 256)")
    p.add_argument("--out", help="output folder (default runs/codec-eval-FOLDER-TIME)")
    p.add_argument("--max-images", type=int, help="only the first N images (by name)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads (default: all cores)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress lines on stderr")
    p.set_defaults(func=cmd_codec_eval)

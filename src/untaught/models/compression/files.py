"""``untaught compress`` and ``untaught decompress``: images to ``.utk`` files and back.

Any image Pillow reads (PNG, JPEG, ...), of any size up to 4096 x 4096 pixels: greyscale images
(modes 1, L, LA, I, I;16, F) stay grey, everything else is coded as RGB (alpha is dropped, and
said). Files are written atomically: an output appears only once it is complete.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import numpy as np

from .container import MAX_PIXELS

GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def read_photo(path: str | Path) -> tuple[np.ndarray, str]:
    """The image at ``path`` as uint8 [H, W] (grey) or [H, W, 3] (RGB), and a note on what was dropped."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(
                    f"{str(path)!r} has {image.width}x{image.height} pixels; the codecs take at most {MAX_PIXELS}"
                )
            image.load()
            grey = image.mode in GREY_MODES
            note = " (alpha channel dropped)" if "A" in image.mode else ""
            if image.mode in ("I", "I;16", "F"):
                raise ValueError(f"{str(path)!r} is a {image.mode} image of more than 8 bits; give an 8-bit image")
            return np.asarray(image.convert("L" if grey else "RGB")), note
    except FileNotFoundError:
        raise FileNotFoundError(f"image {str(path)!r} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(
            f"cannot read {str(path)!r} as an image ({e}); expected a PNG, JPEG or other Pillow format"
        ) from None


def codec_name(name: str) -> str:
    """A registered codec name; short names work too ('mean-scale' for 'codec-mean-scale')."""
    from ...registry import model_names

    return name if name in model_names() or f"codec-{name}" not in model_names() else f"codec-{name}"


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _threads(n: int | None) -> None:
    if n is not None:
        import torch

        if n < 1:
            raise ValueError(f"--threads must be >= 1; got {n}")
        torch.set_num_threads(n)


def cmd_compress(args: argparse.Namespace) -> int:
    from ...io import atomic_write_bytes
    from .codec import available_qualities, compress_image

    _threads(args.threads)
    image, note = read_photo(args.image)
    model = args.model if Path(args.model).is_dir() else codec_name(args.model)
    quality = None if Path(args.model).is_dir() else args.quality
    if quality is None and not Path(args.model).is_dir():  # level 2, or the lowest the model ships
        levels = available_qualities(model)
        quality = 2 if 2 in levels or not levels else levels[0]
    data = compress_image(image, model=model, quality=quality, bpp=args.bpp)
    atomic_write_bytes(args.output, data)
    h, w = image.shape[:2]
    kind = "grey" if image.ndim == 2 else "RGB"
    level = f"quality {quality}" if quality is not None else "its run folder"
    print(
        f"{args.image}: {w}x{h} {kind}{note} -> {args.output}: {len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp "
        f"({model}, {level})"
    )
    return 0


def cmd_decompress(args: argparse.Namespace) -> int:
    from ...io import atomic_write_bytes
    from .codec import decompress_image

    _threads(args.threads)
    try:
        data = Path(args.file).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"compressed file {args.file!r} does not exist") from None
    image = decompress_image(data, model=args.model)
    atomic_write_bytes(args.output, png_bytes(image))
    h, w = image.shape[:2]
    print(f"{args.file}: {len(data)} bytes -> {args.output}: {w}x{h} {'grey' if image.ndim == 2 else 'RGB'}")
    return 0


def cmd_ship(args: argparse.Namespace) -> int:
    from .codec import ship

    target = ship(args.run, args.quality)
    model = target.name.rsplit("-q", 1)[0].removeprefix("codec-")
    print(
        f"wrote {target}: `untaught compress IMAGE -o FILE --model {model} --quality {args.quality}` "
        "now uses these weights"
    )
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "compress",
        help="compress an image into a .utk file with a learned codec",
        description=(__doc__ or "").split("\n\n", 1)[1].strip(),
    )
    p.add_argument("image", help="PNG, JPEG or other image, 1x1 to 4096x4096 pixels")
    p.add_argument("-o", "--output", required=True, help="the .utk file to write")
    p.add_argument(
        "--quality", type=int, help="shipped quality level (1 = smallest files; default 2, or the model's lowest)"
    )
    p.add_argument(
        "--model",
        default="codec-mean-scale",
        help="codec with shipped weights (mean-scale (default), hyperprior, factorized, waveone) "
        "or the run folder of a trained codec",
    )
    p.add_argument("--bpp", type=float, help="target bits per pixel of a rate-controlled codec (waveone)")
    p.add_argument("--threads", type=int, help="torch threads (the file does not depend on it)")
    p.set_defaults(func=cmd_compress)

    p = sub.add_parser("decompress", help="decode a .utk file into a PNG")
    p.add_argument("file", help="a .utk file written by untaught compress")
    p.add_argument("-o", "--output", required=True, help="the PNG to write (only once decoding succeeded)")
    p.add_argument("--model", help="run folder of the codec, if the file was made by weights untaught does not ship")
    p.add_argument("--threads", type=int, help="torch threads (the image does not depend on it)")
    p.set_defaults(func=cmd_decompress)

    p = sub.add_parser("codec-ship", help="make a trained codec one of the shipped quality levels")
    p.add_argument("run", help="run folder of a trained codec")
    p.add_argument("--quality", type=int, required=True, help="the quality level it becomes (1 = smallest files)")
    p.set_defaults(func=cmd_ship)

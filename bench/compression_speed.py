"""Encode and decode time of the learned codecs on a 768x512 Kodak image, next to the classic codecs.

For each shipped codec (one quality level each, the middle one): the whole compress and decompress
(image in, file bytes out and back), the entropy coding alone (range coding of the already quantised
latents, encode and decode), and megapixels per second; JPEG (libjpeg-turbo), WebP (method 6) and
JPEG 2000 (OpenJPEG) through Pillow at about the same bpp, in the same run. Median of --repeats runs
after one warm-up. Prints a Markdown table.

    bench/run.sh python bench/compression_speed.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from untaught.data.photos import find_folder, read_image
from untaught.models.compression import classic, coding
from untaught.models.compression.codec import Codec, available_qualities, load_codec
from untaught.registry import model_names


def timed(fn, repeats: int) -> tuple[float, object]:
    fn()  # warm-up
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def entropy_coding_times(codec: Codec, x: torch.Tensor, repeats: int) -> tuple[float, float]:
    """Range coding alone: the quantised latents of ``x`` coded and decoded with the codec's tables."""
    with torch.no_grad():
        y, z_hat, mean, rows = codec._symbols(codec.prepare(x)[0])
    if z_hat is None:
        q, rows = y.long(), torch.arange(y.shape[1]).view(1, -1, 1, 1).expand_as(y)
        tables = (codec.table_counts, codec.table_offsets, codec.table_lengths)
    else:
        q = torch.round(y.double() - mean).long()
        tables = (codec.gauss_counts, codec.gauss_offsets, codec.gauss_lengths)
    encode, data = timed(lambda: coding.encode(q, rows, *tables), repeats)
    decode, back = timed(lambda: coding.decode(data, rows, *tables), repeats)
    assert torch.equal(back.view_as(q), q)
    return encode, decode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default="kodim01.png", help="a Kodak image (default kodim01.png)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    image = read_image(find_folder("kodak") / args.image)
    h, w = image.shape[:2]
    megapixels = h * w / 1e6
    x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None]
    print(f"{args.image}: {w}x{h}\n")
    columns = ["codec", "bpp", "encode (s)", "decode (s)", "entropy encode (s)", "entropy decode (s)"]
    print("| " + " | ".join([*columns, "encode MP/s", "decode MP/s"]) + " |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rates = []
    for name in model_names():
        levels = available_qualities(name) if name.startswith("codec-") else []
        if not levels:
            continue
        codec = load_codec(name, levels[len(levels) // 2])
        encode, data = timed(lambda codec=codec: codec.compress(x), args.repeats)
        decode, _ = timed(lambda codec=codec, data=data: codec.decompress(data), args.repeats)
        bpp = 8 * len(data) / (h * w)
        rates.append(bpp)
        entropy = entropy_coding_times(codec, x, args.repeats) if isinstance(codec, Codec) else None
        ent = f"{entropy[0]:.3f} | {entropy[1]:.3f}" if entropy else "- | -"
        print(f"| {name} q{codec.config.quality} | {bpp:.3f} | {encode:.3f} | {decode:.3f} | {ent} | "
              f"{megapixels / encode:.2f} | {megapixels / decode:.2f} |")  # fmt: skip
    target = float(np.median(rates)) if rates else 0.5
    for name in ("jpeg", "webp", "jpeg2000"):
        codec = classic.get_codec(name)
        match = codec.match(image, [target], side="nearest")[0]
        encode, data = timed(lambda codec=codec, match=match: codec.encode(image, match.parameter), args.repeats)
        decode, _ = timed(lambda data=data: classic.decode(data), args.repeats)
        print(f"| {name} | {8 * len(data) / (h * w):.3f} | {encode:.3f} | {decode:.3f} | - | - | "
              f"{megapixels / encode:.2f} | {megapixels / decode:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()

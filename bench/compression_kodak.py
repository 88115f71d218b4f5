"""Rate-distortion on the 24 Kodak images (evaluation only), by `untaught codec-eval`'s machinery.

    bench/run.sh python bench/compression_kodak.py --threads 2

Prints the table (mean bpp from the real files, PSNR and MS-SSIM on 8-bit RGB, per image then
averaged) and the BD-rates, and writes table.md, results.csv and rd.png into --out; then the
smallest file each classic codec can make of each image (JPEG and WebP have a floor). The classic codecs
(Pillow: JPEG 4:2:0, WebP method 6, JPEG 2000 through OpenJPEG) run at target bpps matched per image;
our codecs run at their shipped quality levels, if any weights ship. Reference values on this
machine (../shared/data/README.md): JPEG 2000 at 0.25 / 0.5 / 1 bpp, 29.2 / 32.2 / 36.0 dB.
"""

from __future__ import annotations

import argparse

import numpy as np

from untaught.data.photos import find_folder
from untaught.models.compression.commands import codec_eval
from untaught.models.compression.evaluate import DEFAULT_TARGETS, read_folder, smallest_files


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kodak", help="the Kodak folder (default: shared/data/kodak, as the dataset registry finds it)")
    p.add_argument("--models", nargs="+", help="our codecs (default: all with shipped weights)")
    p.add_argument("--qualities", help="comma-separated quality levels of our codecs (default: all shipped)")
    p.add_argument("--targets", default=",".join(map(str, DEFAULT_TARGETS)), help="target bpps of the classic codecs")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="runs/bench-compression-kodak")
    args = p.parse_args()
    folder = args.kodak or find_folder("kodak")
    if folder is None:
        raise SystemExit("Kodak not found: give --kodak FOLDER (the 24 kodim*.png images)")
    codec_eval(
        folder,
        out=args.out,
        models=args.models,
        qualities=[int(q) for q in args.qualities.split(",")] if args.qualities else None,
        targets=[float(t) for t in args.targets.split(",")],
        threads=args.threads,
    )
    rows = smallest_files(read_folder(folder))
    print("\nSmallest file per image (JPEG quality 1, WebP quality 0, JPEG 2000 ratio 100000):\n")
    print("| codec | bpp: mean (min - max) | PSNR (dB) | MS-SSIM |\n| --- | --- | ---: | ---: |")
    for codec in dict.fromkeys(m.codec for m in rows):
        ms = [m for m in rows if m.codec == codec]
        bpp = np.array([m.bpp for m in ms])
        print(
            f"| {codec} | {bpp.mean():.4f} ({bpp.min():.4f} - {bpp.max():.4f}) | {np.mean([m.psnr for m in ms]):.2f} "
            f"| {np.mean([m.ms_ssim for m in ms]):.4f} |"
        )


if __name__ == "__main__":
    main()

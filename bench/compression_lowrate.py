"""Low-bitrate compression on the 24 Kodak images (issue 12): WaveOne next to the rate-distortion
codecs and JPEG, WebP, JPEG 2000, by `untaught codec-eval`'s machinery. Two parts, each one locked run:

    bench/run.sh python bench/compression_lowrate.py --part table
    bench/run.sh python bench/compression_lowrate.py --part figure

``--part table``: WaveOne rate-controlled at each target bpp (``--bpps``, default 0.08, 0.1, 0.15,
0.25), the rate-distortion codecs at every shipped level, and the classic codecs per image at their
smallest file at least as large as each target (so at least as large as WaveOne's, which stays under
its target): table.md, results.csv, rd.png; then, per target, on how many images WaveOne's MS-SSIM is
higher than each classic codec's.

``--part figure``: ``codec-eval --low-rate`` at ``--bpp`` (default 0.1): per image, every codec at
WaveOne's own file size (the classic codecs at their smallest file at least as large, the RD codecs
at their lowest level), one PNG each, lowrate.md with the counts and the size ratios at equal MS-SSIM;
the figure of ``--picture`` (chosen before the run) is copied into bench/pictures/.

Both print WaveOne's training budget, read from the config.json shipped beside its weights.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from untaught.data.photos import find_folder
from untaught.models.compression.classic import CODECS
from untaught.models.compression.codec import WEIGHTS
from untaught.models.compression.commands import codec_eval
from untaught.models.compression.lowrate import low_rate_eval


def training_budget(model: str) -> str:
    """What the shipped weights of ``model`` (or a run folder) were trained on, from their config.json."""
    folder = Path(model) if Path(model).is_dir() else next(iter(sorted(WEIGHTS.glob(f"{model}-q*"))), None)
    if folder is None or not (folder / "config.json").is_file():
        return f"{model}: no shipped weights or run folder with a config.json"
    record = json.loads((folder / "config.json").read_text())
    train = record.get("trained") or record.get("train") or {}
    metrics = record.get("training_metrics") or {}
    if not metrics and (folder / "metrics.json").is_file():
        metrics = json.loads((folder / "metrics.json").read_text())
    keys = ("data", "epochs", "batch_size", "lr", "max_time", "init", "threads")
    wanted = ("epochs", "steps", "fit_seconds", "parameters", "val_loss", "selected")
    return (
        f"{folder}: model {json.dumps(record.get('model_config'))}\n  training: "
        f"{json.dumps({k: train.get(k) for k in keys})}\n  metrics: {json.dumps({k: metrics.get(k) for k in wanted})}"
    )


def wins_per_target(result, bpps: list[float]) -> None:
    """Per target: images where the rate-controlled codec's MS-SSIM beats each classic codec's."""
    ours = [c for c in result.codecs() if c not in CODECS and all(p.setting.endswith(" bpp") for p in result.curve(c))]
    print("\n| target | ours | " + " | ".join(f"ours above {c} (MS-SSIM)" for c in CODECS) + " |")
    print("| --- | --- |" + " ---: |" * len(CODECS))
    for name in ours:
        for target in bpps:
            setting = f"{target:g} bpp"
            per = {
                c: {m.image: m.ms_ssim for m in result.measurements if m.codec == c and m.setting == setting}
                for c in (name, *CODECS)
            }
            counts = [sum(per[name][i] > per[c][i] for i in per[name]) for c in CODECS]
            print(f"| {setting} | {name} | " + " | ".join(f"{k}/{len(per[name])}" for k in counts) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=["table", "figure"], required=True)
    p.add_argument("--kodak", help="the Kodak folder (default: shared/data/kodak, as the dataset registry finds it)")
    p.add_argument("--models", nargs="+", help="our codecs, names or run folders (default: all with shipped weights)")
    p.add_argument("--bpps", default="0.08,0.1,0.15,0.25", help="--part table: WaveOne's target bpps")
    p.add_argument("--bpp", type=float, default=0.1, help="--part figure: WaveOne's target bpp")
    p.add_argument("--picture", default="kodim23.png", help="--part figure: the image whose figure goes to the README")
    p.add_argument("--max-images", type=int, help="only the first N images (a quick check)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="runs/bench-compression-lowrate")
    args = p.parse_args()
    folder = args.kodak or find_folder("kodak")
    if folder is None:
        raise SystemExit("Kodak not found: give --kodak FOLDER (the 24 kodim*.png images)")
    print("\n".join(training_budget(m) for m in args.models or ["codec-waveone"]) + "\n")
    out = Path(args.out) / args.part
    if args.part == "table":
        bpps = [float(b) for b in args.bpps.split(",")]
        result = codec_eval(
            folder,
            out=out,
            models=args.models,
            bpps=bpps,
            targets=bpps,
            side="above",
            max_images=args.max_images,
            threads=args.threads,
        )
        wins_per_target(result, bpps)
        return
    low_rate_eval(folder, out=out, models=args.models, bpp=args.bpp, max_images=args.max_images, threads=args.threads)
    picture = out / f"lowrate-{Path(args.picture).stem}.png"
    if picture.is_file():
        target = Path("bench/pictures") / f"compression-lowrate-{args.bpp:g}bpp-{picture.stem[len('lowrate-') :]}.png"
        shutil.copyfile(picture, target)
        print(f"copied {picture} to {target}")


if __name__ == "__main__":
    main()

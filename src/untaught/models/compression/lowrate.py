"""Low-bitrate comparison, the lecture's WaveOne figure (issue 12): every codec at about our file size.

For every image:

* ours: a rate-controlled codec (WaveOne) at a target bpp;
* the rate-distortion codecs at one quality level each (their lowest shipped level);
* each classic codec (JPEG, WebP, JPEG 2000) at its smallest file at least as large as ours
  (:meth:`.classic.ClassicCodec.match`, ``side="above"``). JPEG and WebP cannot go below a floor
  (about 0.1 bpp on Kodak): where even their smallest file is larger than ours, that file is shown,
  and the caption and the table say so.

Every reconstruction is measured on the whole image (bpp from the real file; PSNR in dB and MS-SSIM on
8-bit RGB, :mod:`.quality`) and drawn next to the original, cropped to a central region if asked (one
PNG per image). The size ratio at equal MS-SSIM is, per image, the size of the classic codec's smallest
file whose MS-SSIM is at least ours over the size of ours: a bisection over the codec's parameter that
assumes MS-SSIM grows with it. Where the codec's smallest file already reaches our MS-SSIM the ratio is
an upper bound; where its largest does not, there is none.
"""

from __future__ import annotations

import io
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classic import ClassicCodec, decode, get_codec
from .evaluate import Evaluation, LearnedCodec, Measurement, measure, read_folder
from .quality import image_quality

OURS_SIZE = "smallest >= ours"  # the setting of a classic codec's file matched to ours
FLOOR = "smallest file"  # ... where the codec cannot go as low as ours


@dataclass(frozen=True)
class Reconstruction:
    """One codec's file of an image, measured; ``image`` the decoded uint8 [H, W, 3]; ``note`` why it
    is not the file the comparison asks for (a classic codec's floor), else ''."""

    measurement: Measurement
    image: np.ndarray
    note: str = ""


@dataclass(frozen=True)
class EqualQuality:
    """A classic codec's smallest file whose MS-SSIM is at least ours: its size in bytes (None: even
    its largest file falls short), its MS-SSIM, and ``bound``: its smallest file already reaches ours,
    so the size at equal MS-SSIM is at most ``bytes``."""

    codec: str
    bytes: int | None
    ms_ssim: float
    bound: bool


@dataclass(frozen=True)
class Comparison:
    """One image: the original uint8 [H, W, 3], ours at ``target`` bpp, the others, and per classic
    codec its file at our MS-SSIM."""

    name: str
    original: np.ndarray
    target: float
    ours: Reconstruction
    others: list[Reconstruction]
    equal: dict[str, EqualQuality]

    def ratio(self, codec: str) -> tuple[float, bool]:
        """(size of ``codec``'s file at our MS-SSIM / size of ours, whether it is an upper bound);
        NaN if it was not searched or cannot be reached."""
        found = self.equal.get(codec)
        if found is None or found.bytes is None:
            return math.nan, False
        return found.bytes / self.ours.measurement.bytes, found.bound


def equal_ms_ssim(codec: ClassicCodec, image: np.ndarray, target: float) -> EqualQuality:
    """The smallest file of ``codec`` for ``image`` uint8 [H, W, 3] whose MS-SSIM is at least
    ``target`` (integer parameters exactly; JPEG 2000 to 1% of the size or a ratio step of 0.1%)."""
    files: dict[float, tuple[int, float]] = {}

    def probe(s: float) -> tuple[int, float]:
        if s not in files:
            data = codec.encode(image, codec.to_parameter(s))
            files[s] = (len(data), image_quality(image, decode(data))[1])
        return files[s]

    def apart(lo: float, hi: float) -> bool:
        if codec.integer:
            return hi - lo > 1
        return probe(hi)[0] > 1.01 * probe(lo)[0] and hi - lo >= 1e-3

    lo, hi = codec.s_min, codec.s_max
    if probe(lo)[1] >= target:
        return EqualQuality(codec.name, *probe(lo), bound=True)
    if probe(hi)[1] < target:
        return EqualQuality(codec.name, None, probe(hi)[1], bound=False)
    while apart(lo, hi):
        s = (lo + hi) // 2 if codec.integer else (lo + hi) / 2
        if probe(s)[1] >= target:
            hi = s
        else:
            lo = s
    return EqualQuality(codec.name, *probe(hi), bound=False)


def _only_level(codec: LearnedCodec) -> tuple[float, Callable[[np.ndarray], bytes], Callable[[bytes], np.ndarray]]:
    if len(codec.levels) != 1:
        raise ValueError(f"the low-rate comparison codes {codec.name} at one level; got {len(codec.levels)}")
    [(level, (compress, decompress))] = codec.levels.items()
    return level, compress, decompress


def _learned(codec: LearnedCodec, name: str, image: np.ndarray) -> Reconstruction:
    level, compress, decompress = _only_level(codec)
    data = compress(image)
    decoded = decompress(data)
    return Reconstruction(measure(codec.name, codec.setting(level), level, name, image, data, decoded), decoded)


def compare_image(
    name: str,
    image: np.ndarray,
    ours: LearnedCodec,
    *,
    learned: Sequence[LearnedCodec] = (),
    classic: Sequence[str] = ("jpeg", "webp", "jpeg2000"),
) -> Comparison:
    """Code ``image`` uint8 [H, W, 3] with ``ours`` (rate-controlled, one target bpp), the ``learned``
    codecs (one level each) and the ``classic`` codecs at their smallest file at least as large as
    ours, and search each classic codec's smallest file at our MS-SSIM."""
    if not ours.rate_controlled:
        raise ValueError(f"ours must be a rate-controlled codec (levels are target bpps); {ours.name} is not")
    mine = _learned(ours, name, image)
    others = [_learned(codec, name, image) for codec in learned]
    equal = {}
    for codec in map(get_codec, classic):
        [file] = codec.match(image, [mine.measurement.bpp], side="above")
        note = ""
        if file.at_limit and file.bpp > mine.measurement.bpp:
            note = (
                f"{codec.name} cannot go as low as {mine.measurement.bpp:.4f} bpp: its smallest file "
                f"({codec.parameter_name} {file.parameter:g}) is {file.bpp:.4f} bpp"
            )
        decoded = decode(file.data)
        setting = FLOOR if note else OURS_SIZE
        measured = measure(codec.name, setting, file.parameter, name, image, file.data, decoded)
        others.append(Reconstruction(measured, decoded, note))
        equal[codec.name] = equal_ms_ssim(codec, image, mine.measurement.ms_ssim)
    return Comparison(name, image, _only_level(ours)[0], mine, others, equal)


def crop_box(height: int, width: int, size: int | None) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the central ``size`` x ``size`` region (clipped to the image);
    the whole image if ``size`` is None or 0."""
    if size is None or size == 0:
        return 0, 0, height, width
    if size < 0:
        raise ValueError(f"crop must be a positive number of pixels (0: the whole image); got {size}")
    h, w = min(size, height), min(size, width)
    return (height - h) // 2, (width - w) // 2, h, w


def caption(comparison: Comparison, crop: int | None = 256) -> list[str]:
    """The lines under the figure: what is compared, the region shown, and each codec's floor note."""
    height, width = comparison.original.shape[:2]
    top, left, h, w = crop_box(height, width, crop)
    region = f"a {w}x{h} crop at ({left}, {top}) of {width}x{height}"
    if (h, w) == (height, width):
        region = "the whole image"
    lines = [
        f"{comparison.ours.measurement.codec} at a {comparison.target:g} bpp target; classic codecs at their smallest "
        f"file at least as large as ours. Shown: {region}; numbers: the whole image."
    ]
    return lines + [r.note for r in comparison.others if r.note]


def figure(comparison: Comparison, crop: int | None = 256) -> bytes:
    """PNG bytes: the original and every reconstruction side by side (the central ``crop`` pixels, or
    the whole image), with bpp, PSNR and MS-SSIM of the whole image under each, and the caption."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    top, left, h, w = crop_box(*comparison.original.shape[:2], crop)
    panels = [(f"original ({comparison.name})", comparison.original, "")]
    for r in (comparison.ours, *comparison.others):
        m = r.measurement
        numbers = f"{m.bpp:.4f} bpp ({m.bytes} B)\nPSNR {m.psnr:.2f} dB, MS-SSIM {m.ms_ssim:.4f}"
        panels.append((f"{m.codec}\n{m.setting}", r.image, numbers))
    columns = len(panels) if len(panels) <= 5 else math.ceil(len(panels) / 2)
    rows = math.ceil(len(panels) / columns)
    lines = caption(comparison, crop)
    panel = 3.2  # inches per panel's width
    fig = Figure(figsize=(columns * panel, rows * (panel * h / w + 1.0) + 0.2 * len(lines)), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, (title, picture, numbers) in zip(axes, panels, strict=False):
        ax.imshow(picture[top : top + h, left : left + w], interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(numbers, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[len(panels) :]:
        ax.axis("off")
    fig.supxlabel("\n".join(lines), fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


@dataclass
class LowRate:
    """The comparisons of a folder, and their tables."""

    comparisons: list[Comparison]
    seconds: float = 0.0

    def codecs(self) -> list[str]:
        first = self.comparisons[0]
        return [r.measurement.codec for r in (first.ours, *first.others)]

    def _rows(self, codec: str) -> list[tuple[Comparison, Reconstruction]]:
        return [(c, r) for c in self.comparisons for r in (c.ours, *c.others) if r.measurement.codec == codec]

    def wins(self, codec: str) -> int:
        """Images where ours has a higher MS-SSIM than ``codec``."""
        return sum(c.ours.measurement.ms_ssim > r.measurement.ms_ssim for c, r in self._rows(codec))

    def table(self) -> str:
        """Markdown: the mean over images per codec, with the counts and size ratios, then every image."""
        first = self.comparisons[0]
        ours = first.ours.measurement.codec
        n = len(self.comparisons)
        lines = [
            f"{n} image(s). Ours: {ours} at a target of {first.target:g} bpp. Rate-distortion codecs at one "
            "quality level each; classic codecs at their smallest file at least as large as ours, per image "
            "(or their smallest file where they cannot go as low). bpp from the real files; PSNR and MS-SSIM "
            "on the whole 8-bit RGB image, per image, then averaged. Size at equal MS-SSIM: per image, the "
            "classic codec's smallest file with MS-SSIM at least ours over our file; geometric mean (min - "
            "max) over the images where it exists ('<=': some are upper bounds, the codec's smallest file "
            "already reaching our MS-SSIM).",
            "",
            "| codec | setting | bpp | PSNR (dB) | MS-SSIM | file >= ours | ours: higher MS-SSIM "
            "| size at equal MS-SSIM (x ours) |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for codec in self.codecs():
            rows = self._rows(codec)
            ms = [r.measurement for _, r in rows]
            settings = ", ".join(f"{s} ({sum(m.setting == s for m in ms)})" if len({m.setting for m in ms}) > 1 else s
                                 for s in dict.fromkeys(m.setting for m in ms))  # fmt: skip
            larger = sum(r.measurement.bytes >= c.ours.measurement.bytes for c, r in rows)
            own = codec == ours
            lines.append(
                f"| {codec} | {settings} | {np.mean([m.bpp for m in ms]):.4f} | {np.mean([m.psnr for m in ms]):.2f} "
                f"| {np.mean([m.ms_ssim for m in ms]):.4f} | {'' if own else f'{larger}/{n}'} "
                f"| {'' if own else f'{self.wins(codec)}/{n}'} | {'1' if own else self._ratio_summary(codec)} |"
            )
        lines += [
            "",
            "| image | codec | setting | bytes | bpp | PSNR (dB) | MS-SSIM | size at equal MS-SSIM (x ours) |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for c in self.comparisons:
            for r in (c.ours, *c.others):
                m = r.measurement
                ratio, bound = c.ratio(m.codec)
                shown = "" if m.codec not in c.equal else "n/a" if math.isnan(ratio) else f"{'<=' * bound}{ratio:.2f}"
                lines.append(
                    f"| {c.name} | {m.codec} | {m.setting} | {m.bytes} | {m.bpp:.4f} | {m.psnr:.2f} | {m.ms_ssim:.4f} "
                    f"| {shown} |"
                )
        return "\n".join(lines) + "\n"

    def _ratio_summary(self, codec: str) -> str:
        found = [c.ratio(codec) for c in self.comparisons if codec in c.equal]
        if not found:
            return ""
        ratios = np.array([r for r, _ in found if not math.isnan(r)])
        if not len(ratios):
            return f"n/a (never reaches ours, {len(found)} images)"
        bound = "<=" * any(b for _, b in found)
        text = f"{bound}{np.exp(np.log(ratios).mean()):.2f} ({ratios.min():.2f} - {ratios.max():.2f})"
        return text + (f", {len(ratios)} of {len(found)} images" if len(ratios) < len(found) else "")

    def csv(self) -> str:
        """One row per image and codec, as :meth:`.evaluate.Evaluation.csv`."""
        measurements = [r.measurement for c in self.comparisons for r in (c.ours, *c.others)]
        return Evaluation([c.name for c in self.comparisons], measurements, "matched to ours").csv()


def split_codecs(codecs: Sequence[LearnedCodec]) -> tuple[LearnedCodec, list[LearnedCodec]]:
    """Ours (the one rate-controlled codec) and the others, each at its lowest level."""
    controlled = [c for c in codecs if c.rate_controlled]
    if len(controlled) != 1:
        given = ", ".join(c.name for c in controlled) or "none"
        raise ValueError(
            "the low-rate comparison needs exactly one rate-controlled codec (codec-waveone, shipped or a run "
            f"folder given with --models); got {given}"
        )
    others = [LearnedCodec(c.name, {min(c.levels): c.levels[min(c.levels)]}) for c in codecs if not c.rate_controlled]
    return controlled[0], others


def low_rate_eval(
    folder: str | Path,
    *,
    out: str | Path,
    models: Sequence[str] | None = None,
    qualities: Sequence[int] | None = None,
    classic: Sequence[str] | None = None,
    bpp: float = 0.1,
    crop: int | None = 256,
    max_images: int | None = None,
    threads: int = 1,
    progress: bool = True,
) -> LowRate:
    """``untaught codec-eval FOLDER --low-rate``: compare, print the table, write ``lowrate.md``,
    ``lowrate.csv`` and one ``lowrate-<image>.png`` per image into ``out`` (atomically)."""
    import torch

    from ...io import atomic_write_bytes
    from .classic import CODECS
    from .commands import learned_codecs

    if not (math.isfinite(bpp) and bpp > 0):
        raise ValueError(f"--bpp must be a positive number of bits per pixel; got {bpp}")
    if threads < 1:
        raise ValueError(f"--threads must be >= 1; got {threads}")
    torch.set_num_threads(threads)
    ours, others = split_codecs(learned_codecs(models, qualities, bpps=(bpp,)))
    classic = tuple(CODECS) if classic is None else tuple(classic)
    for name in classic:
        get_codec(name)  # unknown names fail before any coding
    images = read_folder(folder, max_images)
    started = time.perf_counter()
    out = Path(out)
    comparisons = []
    for name, image in images.items():
        comparison = compare_image(name, image, ours, learned=others, classic=classic)
        comparisons.append(comparison)
        atomic_write_bytes(out / f"lowrate-{Path(name).stem}.png", figure(comparison, crop))
        if progress:
            took = time.perf_counter() - started
            print(f"{name}: {comparison.ours.measurement.bpp:.4f} bpp [{took:.0f} s]", file=sys.stderr, flush=True)
    result = LowRate(comparisons, time.perf_counter() - started)
    table = result.table()
    print(table, end="")
    atomic_write_bytes(out / "lowrate.md", table.encode())
    atomic_write_bytes(out / "lowrate.csv", result.csv().encode())
    print(f"wrote lowrate.md, lowrate.csv and {len(comparisons)} lowrate-*.png to {out} ({result.seconds:.0f} s)")
    return result

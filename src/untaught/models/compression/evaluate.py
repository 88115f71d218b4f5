"""Rate-distortion evaluation over a folder of images: bpp, PSNR, MS-SSIM, BD-rates, table and plot.

Every image is read as 8-bit RGB (grey images are converted) and coded by each codec; bpp comes from
the real file: ``len(bytes) * 8 / (H * W)``. PSNR (dB) and MS-SSIM are computed per image on the
decoded 8-bit RGB image (float64, :mod:`.quality`) and averaged over the images, as the literature
does on Kodak: one point per codec setting.

* Our codecs (:class:`LearnedCodec`) come as a ``compress(image) -> bytes`` / ``decompress(bytes) ->
  image`` pair per quality level, so this module does not depend on any model: one point per level;
  a rate-controlled codec (WaveOne) has one pair per target bpp instead.
* The classic codecs (:mod:`.classic`) are run at target bpps **matched per image**: for every image
  and target, the file nearest the target (or the nearest from below / above, ``side``), so each
  point is the mean over images of files of about the target size. The table gives the real mean.

BD-rates (Bjøntegaard 2001, VCEG-M33): the mean difference in log-rate between two rate-distortion
curves over the range of quality where both are measured, as a percentage of the anchor's rate
(negative: fewer bits for the same quality). ``method="cubic"`` fits log-rate as a cubic polynomial
of the quality (at least 4 points per curve); ``"pchip"`` interpolates it piecewise-cubically
(monotone Hermite, as VCEG-AL22 / the JVET tools; at least 2 points). Quality is PSNR in dB, or
MS-SSIM in dB, ``-10 log10(1 - MS-SSIM)``.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .classic import CODECS, Side, bits_per_pixel, decode, get_codec
from .quality import image_quality, ms_ssim_db

Compress = Callable[[np.ndarray], bytes]
Decompress = Callable[[bytes], np.ndarray]

DEFAULT_TARGETS = (0.125, 0.25, 0.375, 0.5, 0.75, 1.0, 1.5, 2.0)
DEFAULT_BPPS = (0.08, 0.1, 0.15, 0.25)  # target rates of a rate-controlled codec (issue 12's)
BD_METHODS = ("cubic", "pchip")


@dataclass(frozen=True)
class LearnedCodec:
    """One of our codecs: a ``(compress, decompress)`` pair per quality level, or per target bpp if
    ``rate_controlled``. ``compress`` takes a uint8 RGB image [H, W, 3] and returns the file's bytes;
    ``decompress`` returns the image."""

    name: str
    levels: Mapping[float, tuple[Compress, Decompress]]
    rate_controlled: bool = False

    def setting(self, level: float) -> str:
        """How a level is named in the tables: "q=3", "0.1 bpp" for a target rate, "trained run" for
        quality 0 (weights that are not a shipped level)."""
        if self.rate_controlled:
            return f"{level:g} bpp"
        return f"q={level:g}" if level else "trained run"


@dataclass(frozen=True)
class Measurement:
    """One image coded at one setting: the file's size and the decoded image's quality."""

    codec: str
    setting: str  # "q=3" for our codecs, "0.25 bpp" for a target of the classic ones or of WaveOne
    parameter: float  # the quality level or target bpp, or the classic codec's parameter chosen for this image
    image: str
    bytes: int
    bpp: float
    psnr: float  # dB
    ms_ssim: float


@dataclass(frozen=True)
class Point:
    """A codec at one setting, averaged over the images."""

    codec: str
    setting: str
    bpp: float
    psnr: float
    ms_ssim: float
    images: int

    @property
    def ms_ssim_db(self) -> float:
        return float(ms_ssim_db(self.ms_ssim))


@dataclass(frozen=True)
class BDRate:
    """BD-rates (percent) of ``codec`` against ``anchor``; NaN where the curves do not overlap or
    have too few points for the method."""

    codec: str
    anchor: str
    psnr: dict[str, float]  # method -> percent
    ms_ssim: dict[str, float]


def bd_rate(
    anchor_bpp: Sequence[float],
    anchor_quality: Sequence[float],
    test_bpp: Sequence[float],
    test_quality: Sequence[float],
    *,
    method: str = "cubic",
) -> float:
    """Bjøntegaard delta rate of the test curve against the anchor, in percent (negative: the test
    codec needs fewer bits for the same quality), over the quality range both curves cover; NaN if
    the ranges do not overlap. Quality in dB (PSNR, or MS-SSIM in dB)."""
    if method not in BD_METHODS:
        raise ValueError(f"BD-rate method must be one of {', '.join(BD_METHODS)}; got {method!r}")
    curves = []
    for name, rates, quality in (("anchor", anchor_bpp, anchor_quality), ("test", test_bpp, test_quality)):
        r, q = np.asarray(rates, dtype=np.float64), np.asarray(quality, dtype=np.float64)
        if r.shape != q.shape or r.ndim != 1:
            raise ValueError(f"{name} rates and qualities must be two lists of equal length; got {r.shape}, {q.shape}")
        need = 4 if method == "cubic" else 2
        if len(r) < need:
            raise ValueError(f"a {method} BD-rate needs at least {need} points per curve; the {name} has {len(r)}")
        if not (np.all(np.isfinite(q)) and np.all(np.isfinite(r)) and np.all(r > 0)):
            raise ValueError(f"{name} rates must be positive and qualities finite; got {r.tolist()}, {q.tolist()}")
        order = np.argsort(q)
        if np.any(np.diff(q[order]) <= 0):
            raise ValueError(f"{name} qualities must be distinct; got {q.tolist()}")
        curves.append((q[order], np.log(r[order])))
    low = max(curves[0][0][0], curves[1][0][0])
    high = min(curves[0][0][-1], curves[1][0][-1])
    if not low < high:
        return math.nan
    integrals = []
    for q, log_rate in curves:
        if method == "cubic":
            antiderivative = np.polyint(np.polyfit(q, log_rate, 3))
            integrals.append(np.polyval(antiderivative, high) - np.polyval(antiderivative, low))
        else:
            from scipy.interpolate import PchipInterpolator

            integrals.append(PchipInterpolator(q, log_rate).integrate(low, high))
    return float((math.exp((integrals[1] - integrals[0]) / (high - low)) - 1) * 100)


def measure(
    codec: str, setting: str, parameter: float, image_name: str, image: np.ndarray, data: bytes, decoded: np.ndarray
) -> Measurement:
    """One file of ``image`` uint8 [H, W, 3] and its decoding, measured: bpp, PSNR (dB), MS-SSIM."""
    if not isinstance(decoded, np.ndarray) or decoded.shape != image.shape or decoded.dtype != np.uint8:
        got = f"{decoded.dtype} {decoded.shape}" if isinstance(decoded, np.ndarray) else type(decoded).__name__
        raise ValueError(f"{codec} ({setting}) decoded {image_name} as {got}; expected uint8 {image.shape}")
    psnr, ms_ssim = image_quality(image, decoded)
    bpp = bits_per_pixel(data, *image.shape[:2])
    return Measurement(codec, setting, parameter, image_name, len(data), bpp, psnr, ms_ssim)


@dataclass
class Evaluation:
    """All measurements of one run, and what follows from them."""

    images: list[str]
    measurements: list[Measurement]
    classic: str  # how the classic codecs were run, for the table's header
    seconds: float = 0.0
    points: list[Point] = field(init=False)

    def __post_init__(self) -> None:
        groups: dict[tuple[str, str], list[Measurement]] = {}
        for m in self.measurements:
            groups.setdefault((m.codec, m.setting), []).append(m)
        self.points = [
            Point(
                codec,
                setting,
                float(np.mean([m.bpp for m in ms])),
                float(np.mean([m.psnr for m in ms])),
                float(np.mean([m.ms_ssim for m in ms])),
                len(ms),
            )
            for (codec, setting), ms in groups.items()
        ]

    def codecs(self) -> list[str]:
        return list(dict.fromkeys(p.codec for p in self.points))

    def curve(self, codec: str) -> list[Point]:
        """The points of ``codec``, by increasing bpp."""
        return sorted((p for p in self.points if p.codec == codec), key=lambda p: p.bpp)

    def bd_rates(self) -> list[BDRate]:
        """BD-rates of every codec against every classic codec other than itself."""
        rows = []
        anchors = [c for c in self.codecs() if c in CODECS]
        for codec in self.codecs():
            test = self.curve(codec)
            for anchor in anchors:
                if anchor == codec:
                    continue
                base = self.curve(anchor)
                rates = {}
                for metric in ("psnr", "ms_ssim_db"):
                    rates[metric] = {method: _bd_or_nan(base, test, metric, method) for method in BD_METHODS}
                rows.append(BDRate(codec, anchor, rates["psnr"], rates["ms_ssim_db"]))
        return rows

    def table(self) -> str:
        """The rate-distortion points and the BD-rates as Markdown tables (readable as plain text)."""
        lines = [
            f"{len(self.images)} image(s); PSNR and MS-SSIM on 8-bit RGB, per image, then averaged; "
            f"bpp from the real file sizes. Classic codecs: {self.classic}.",
            "",
            "| codec | setting | bpp | PSNR (dB) | MS-SSIM | MS-SSIM (dB) |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for codec in self.codecs():
            lines += [
                f"| {p.codec} | {p.setting} | {p.bpp:.4f} | {p.psnr:.2f} | {p.ms_ssim:.4f} | {p.ms_ssim_db:.2f} |"
                for p in self.curve(codec)
            ]
        rates = self.bd_rates()
        if rates:
            lines += [
                "",
                "BD-rate (%, negative: fewer bits than the anchor at equal quality; cubic fit / piecewise cubic):",
                "",
                "| codec | anchor | PSNR, cubic | PSNR, pchip | MS-SSIM dB, cubic | MS-SSIM dB, pchip |",
                "| --- | --- | ---: | ---: | ---: | ---: |",
            ]
            lines += [
                f"| {r.codec} | {r.anchor} | "
                + " | ".join(_percent(v[m]) for v in (r.psnr, r.ms_ssim) for m in BD_METHODS)
                + " |"
                for r in rates
            ]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        """One row per image and setting: codec, setting, parameter, image, bytes, bpp, psnr, ms_ssim."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["codec", "setting", "parameter", "image", "bytes", "bpp", "psnr_db", "ms_ssim"])
        for m in self.measurements:
            numbers = [f"{m.bpp:.6f}", f"{m.psnr:.4f}", f"{m.ms_ssim:.6f}"]
            writer.writerow([m.codec, m.setting, f"{m.parameter:g}", m.image, m.bytes, *numbers])
        return out.getvalue()

    def plot(self, title: str = "") -> bytes:
        """PNG bytes: PSNR (left) and MS-SSIM in dB (right) against bpp, one line per codec."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        figure = Figure(figsize=(11, 4.5), layout="constrained")
        panels = figure.subplots(1, 2)
        for codec in self.codecs():
            points = self.curve(codec)
            style = "--" if codec in CODECS else "-"
            bpp = [p.bpp for p in points]
            panels[0].plot(bpp, [p.psnr for p in points], style, marker="o", markersize=4, label=codec)
            panels[1].plot(bpp, [p.ms_ssim_db for p in points], style, marker="o", markersize=4, label=codec)
        for panel, label in zip(panels, ("PSNR (dB), RGB", "MS-SSIM (dB) = -10 log10(1 - MS-SSIM)"), strict=True):
            panel.set_xlabel("bits per pixel (bpp)")
            panel.set_ylabel(label)
            panel.grid(alpha=0.3)
            panel.legend()
        figure.suptitle(title or f"rate-distortion, mean over {len(self.images)} image(s)")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110)
        return buffer.getvalue()


def _bd_or_nan(anchor: list[Point], test: list[Point], metric: str, method: str) -> float:
    try:
        return bd_rate(
            [p.bpp for p in anchor],
            [getattr(p, metric) for p in anchor],
            [p.bpp for p in test],
            [getattr(p, metric) for p in test],
            method=method,
        )
    except ValueError:  # too few, repeated or infinite points for this method: no BD-rate
        return math.nan


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.1f}"


def evaluate_images(
    images: Mapping[str, np.ndarray],
    *,
    learned: Sequence[LearnedCodec] = (),
    classic: Sequence[str] = tuple(CODECS),
    targets: Sequence[float] = DEFAULT_TARGETS,
    side: Side = "nearest",
    threads: int = 1,
    progress: Callable[[str], None] | None = None,
) -> Evaluation:
    """Code every image (name -> uint8 RGB [H, W, 3]) with our codecs at each of their levels and
    with the classic codecs at each target bpp (matched per image, ``side`` of the target).
    ``threads``: images coded by the classic codecs in parallel (Pillow and torch release the GIL),
    with one torch thread each; our codecs run one image at a time with the caller's torch threads."""
    if not images:
        raise ValueError("no images to evaluate")
    if threads < 1:
        raise ValueError(f"threads must be >= 1; got {threads}")
    codecs = [get_codec(name) for name in classic]
    if codecs and not targets:
        raise ValueError("the classic codecs need at least one target bpp")
    say = progress or (lambda _: None)
    started = time.perf_counter()
    measurements: list[Measurement] = []
    for codec in learned:
        if not codec.levels:
            raise ValueError(f"codec {codec.name!r} has no quality levels to evaluate")
        for quality, (compress, decompress) in sorted(codec.levels.items()):
            setting = codec.setting(quality)
            for name, image in images.items():
                data = compress(image)
                measurements.append(measure(codec.name, setting, quality, name, image, data, decompress(data)))
            say(f"{codec.name} {setting}: {len(images)} image(s) [{time.perf_counter() - started:.0f} s]")

    def classic_image(item: tuple[str, np.ndarray]) -> list[Measurement]:
        name, image = item
        rows = []
        for codec in codecs:
            for target, encoded in zip(targets, codec.match(image, targets, side), strict=True):
                setting = f"{target:g} bpp"
                decoded = decode(encoded.data)
                rows.append(measure(codec.name, setting, encoded.parameter, name, image, encoded.data, decoded))
        say(f"{name}: {', '.join(classic)} at {len(targets)} target(s) [{time.perf_counter() - started:.0f} s]")
        return rows

    if codecs:
        import torch

        torch_threads = torch.get_num_threads()
        if threads > 1:  # parallel over images, one torch thread each
            torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                per_image = list(pool.map(classic_image, images.items()))
        finally:
            torch.set_num_threads(torch_threads)
        by_codec: dict[str, list[Measurement]] = {c.name: [] for c in codecs}
        for rows in per_image:
            for m in rows:
                by_codec[m.codec].append(m)
        for rows in by_codec.values():
            measurements += rows
    how = (
        f"{', '.join(classic)} at targets {', '.join(f'{t:g}' for t in targets)} bpp, matched per image "
        f"(the file {'nearest the target' if side == 'nearest' else f'nearest the target from {side}'})"
        if codecs
        else "none"
    )
    return Evaluation(list(images), measurements, how, time.perf_counter() - started)


def smallest_files(images: Mapping[str, np.ndarray], classic: Sequence[str] = tuple(CODECS)) -> list[Measurement]:
    """The smallest file each classic codec makes for each image (setting ``"smallest"``): JPEG at
    quality 1 and WebP at quality 0 cannot go lower, whatever the target."""
    rows = []
    for codec in (get_codec(name) for name in classic):
        for name, image in images.items():
            file = codec.smallest(image)
            rows.append(measure(codec.name, "smallest", file.parameter, name, image, file.data, decode(file.data)))
    return rows


def read_folder(folder: str | Path, max_images: int | None = None) -> dict[str, np.ndarray]:
    """The images of ``folder`` (sorted by name; the first ``max_images``) as uint8 RGB [H, W, 3]."""
    from ...data.photos import image_files, read_image

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {str(folder)!r} does not exist")
    files = image_files(folder)
    if not files:
        raise ValueError(f"{folder} holds no image files (PNG, JPEG, ...)")
    if max_images is not None:
        if max_images < 1:
            raise ValueError(f"max_images must be >= 1; got {max_images}")
        files = files[:max_images]
    return {path.name: read_image(path) for path in files}


def evaluate_folder(
    folder: str | Path,
    *,
    max_images: int | None = None,
    **options,
) -> Evaluation:
    """:func:`evaluate_images` on the images of ``folder`` (see :func:`read_folder`)."""
    return evaluate_images(read_folder(folder, max_images), **options)

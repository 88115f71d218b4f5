"""Classic codecs through Pillow: JPEG, WebP and JPEG 2000, the anchors of the rate-distortion tables.

Each codec encodes an RGB image uint8 ``[H, W, 3]`` with one parameter and returns the file's bytes;
:func:`decode` reads any of them back to uint8 ``[H, W, 3]``. The settings:

* ``jpeg``: libjpeg(-turbo), baseline, 4:2:0 chroma subsampling, optimised Huffman tables
  (``cjpeg -optimize``: the same pixels, a smaller file), quality 1-95;
* ``webp``: libwebp, lossy, method 6 (the slowest, smallest), quality 0-100;
* ``jpeg2000``: OpenJPEG, the irreversible 9/7 wavelet with the colour transform (MCT), one quality
  layer rate-controlled by a compression ratio (``quality_mode="rates"``: a ratio r aims at
  24 / r bpp) or by a PSNR in dB (``mode="dB"``), written as a raw codestream (.j2k, no JP2 boxes).

Bits per pixel always come from the real byte length: ``len(data) * 8 / (H * W)``.

:meth:`ClassicCodec.match` finds, per image, the file closest to each target bpp from below, from
above or either way: a bisection over the parameter (integer qualities; for JPEG 2000 the ratio,
interpolated in log-rate and started at 24 / target) that assumes the file grows with the quality,
and only ever returns files it made and measured. :meth:`ClassicCodec.smallest` is the smallest file
a codec makes for an image: JPEG and WebP cannot go below a floor (about 0.1 bpp on Kodak), which a
search from below reports as an error and a search from above returns with ``at_limit`` set.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Side = Literal["below", "above", "nearest"]
SIDES = ("below", "above", "nearest")
JPEG2000_MODES = ("rates", "dB")


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        given = f"{image.dtype} of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"image must be a uint8 RGB array [H, W, 3]; got {given}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must have at least one pixel; got shape {image.shape}")


def _save(image: np.ndarray, format: str, **options: object) -> bytes:
    from PIL import Image

    _check_image(image)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), "RGB").save(buffer, format=format, **options)
    return buffer.getvalue()


def _check_range(name: str, value: float, low: float, high: float, integer: bool) -> None:
    if integer and (isinstance(value, bool) or int(value) != value):
        raise ValueError(f"{name} must be an integer in [{low}, {high}]; got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}]; got {value!r}")


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """JPEG file (4:2:0, optimised Huffman tables) of ``image`` uint8 [H, W, 3] at ``quality`` 1-95."""
    _check_range("JPEG quality", quality, 1, 95, integer=True)
    return _save(image, "JPEG", quality=int(quality), subsampling="4:2:0", optimize=True)


def encode_webp(image: np.ndarray, quality: int) -> bytes:
    """Lossy WebP file (method 6) of ``image`` uint8 [H, W, 3] at ``quality`` 0-100."""
    _check_range("WebP quality", quality, 0, 100, integer=True)
    return _save(image, "WEBP", quality=int(quality), method=6, lossless=False)


def encode_jpeg2000(image: np.ndarray, value: float, mode: str = "rates") -> bytes:
    """JPEG 2000 codestream (OpenJPEG, irreversible, MCT) of ``image`` uint8 [H, W, 3].

    ``mode="rates"``: ``value`` is the compression ratio (>= 1; about 24 / value bpp);
    ``mode="dB"``: ``value`` is the target PSNR in dB (> 0).
    """
    if mode not in JPEG2000_MODES:
        raise ValueError(f"JPEG 2000 mode must be one of {', '.join(JPEG2000_MODES)}; got {mode!r}")
    if not (math.isfinite(value) and value >= (1 if mode == "rates" else 0) and value > 0):
        what = "compression ratio >= 1" if mode == "rates" else "PSNR in dB > 0"
        raise ValueError(f"JPEG 2000 {mode} value must be a {what}; got {value!r}")
    return _save(
        image, "JPEG2000", quality_mode=mode, quality_layers=[float(value)], irreversible=True, mct=1, no_jp2=True
    )


def decode(data: bytes) -> np.ndarray:
    """A JPEG, WebP or JPEG 2000 file's bytes as uint8 RGB [H, W, 3]."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ValueError(f"cannot decode {len(data)} bytes as a JPEG, WebP or JPEG 2000 file ({e})") from None


def bits_per_pixel(data: bytes, height: int, width: int) -> float:
    """The file's size in bits per pixel: ``len(data) * 8 / (height * width)``."""
    return len(data) * 8 / (height * width)


@dataclass(frozen=True)
class Encoded:
    """One file made by a classic codec: its parameter, bytes and bpp; ``at_limit``: the parameter is
    at the small-file end of its range (the codec cannot make this image's file any smaller)."""

    codec: str
    parameter: float
    data: bytes
    bpp: float
    at_limit: bool


@dataclass(frozen=True)
class ClassicCodec:
    """A classic codec with a one-parameter knob. The search runs on a coordinate ``s`` in
    ``[s_min, s_max]`` along which files grow: the quality itself (integers), or for JPEG 2000 the
    log of its nominal bpp ``log(24 / ratio)``."""

    name: str
    parameter_name: str
    s_min: float
    s_max: float
    integer: bool
    encoder: Callable[[np.ndarray, float], bytes]
    to_parameter: Callable[[float], float]
    guess: Callable[[float], float] | None = None  # a starting s for a target bpp

    def encode(self, image: np.ndarray, parameter: float) -> bytes:
        """The file's bytes for ``image`` uint8 [H, W, 3] at ``parameter``."""
        return self.encoder(image, parameter)

    def smallest(self, image: np.ndarray) -> Encoded:
        """The smallest file this codec makes for ``image``: the parameter at its small-file end."""
        return _Prober(self, image).encoded(self.s_min)

    def match(
        self, image: np.ndarray, targets: Sequence[float], side: Side = "nearest", tolerance: float = 0.005
    ) -> list[Encoded]:
        """For each target bpp, the file closest to it: the largest at most the target (``below``),
        the smallest at least the target (``above``), or the nearer of the two (``nearest``).
        Encodes are shared between the targets. For JPEG 2000 the two candidates differ by at most
        ``tolerance`` x target, or sit on either side of a jump of OpenJPEG's rate control (ratios
        within 0.1%). ValueError when no file lies on the requested side."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {', '.join(SIDES)}; got {side!r}")
        prober = _Prober(self, image)
        return [prober.match(float(t), side, tolerance) for t in targets]


class _Prober:
    """Encodes one image at coordinates ``s``, remembering every file made."""

    def __init__(self, codec: ClassicCodec, image: np.ndarray):
        _check_image(image)
        self.codec, self.image = codec, image
        self.files: dict[float, bytes] = {}

    def bpp(self, s: float) -> float:
        if s not in self.files:
            self.files[s] = self.codec.encode(self.image, self.codec.to_parameter(s))
        return bits_per_pixel(self.files[s], *self.image.shape[:2])

    def encoded(self, s: float) -> Encoded:
        bpp = self.bpp(s)
        c = self.codec
        return Encoded(c.name, c.to_parameter(s), self.files[s], bpp, at_limit=s == c.s_min)

    def bracket(self, target: float, tolerance: float) -> tuple[float | None, float | None]:
        """(lo, hi): the closest coordinates found with bpp(lo) <= target < bpp(hi); None past either end."""
        c = self.codec
        lo: float | None = None
        hi: float | None = None
        if c.guess is not None:  # walk out from the guess in steps that double
            start = min(max(c.guess(target), c.s_min), c.s_max)
            step = 0.01
            s = start
            while True:
                if self.bpp(s) <= target:
                    lo = s
                    if s == c.s_max or hi is not None:
                        break
                    s = min(s + step, c.s_max)
                else:
                    hi = s
                    if s == c.s_min or lo is not None:
                        break
                    s = max(s - step, c.s_min)
                step *= 2
        else:
            lo, hi = c.s_min, c.s_max
            if self.bpp(lo) > target:
                return None, lo
            if self.bpp(hi) <= target:
                return hi, None
        if lo is None or hi is None:
            return lo, hi
        while not self._close(lo, hi, target, tolerance):
            s = self._split(lo, hi, target)
            if self.bpp(s) <= target:
                lo = s
            else:
                hi = s
        return lo, hi

    def _close(self, lo: float, hi: float, target: float, tolerance: float) -> bool:
        if self.codec.integer:
            return hi - lo <= 1
        return self.bpp(hi) - self.bpp(lo) <= tolerance * target or hi - lo < 1e-3

    def _split(self, lo: float, hi: float, target: float) -> float:
        if self.codec.integer:
            return (lo + hi) // 2
        # interpolate log(bpp) linearly in s, kept inside the middle 80% of the bracket
        a, b = math.log(self.bpp(lo)), math.log(self.bpp(hi))
        t = (math.log(target) - a) / (b - a) if b > a else 0.5
        return lo + min(max(t, 0.1), 0.9) * (hi - lo)

    def match(self, target: float, side: Side, tolerance: float) -> Encoded:
        if not (math.isfinite(target) and target > 0):
            raise ValueError(f"target bpp must be a positive number; got {target!r}")
        lo, hi = self.bracket(target, tolerance)
        name = self.codec.name
        if side == "below" and lo is None:
            small = self.encoded(hi)
            raise ValueError(
                f"{name} cannot make a file of at most {target:g} bpp for this image: its smallest is "
                f"{small.bpp:.4f} bpp ({self.codec.parameter_name} {small.parameter:g})"
            )
        if side == "above" and hi is None:
            large = self.encoded(lo)
            raise ValueError(
                f"{name} cannot make a file of at least {target:g} bpp for this image: its largest is "
                f"{large.bpp:.4f} bpp ({self.codec.parameter_name} {large.parameter:g})"
            )
        if lo is not None and self.bpp(lo) == target:
            return self.encoded(lo)
        if side == "below" or hi is None:
            return self.encoded(lo)
        if side == "above" or lo is None:
            return self.encoded(hi)
        return self.encoded(lo if target - self.bpp(lo) <= self.bpp(hi) - target else hi)


def _jpeg2000_ratio(s: float) -> float:
    return max(24.0 / math.exp(s), 1.0)  # exp(log(24)) rounds above 24: s_max is ratio 1, not 0.99...


CODECS: dict[str, ClassicCodec] = {
    "jpeg": ClassicCodec("jpeg", "quality", 1, 95, True, encode_jpeg, int),
    "webp": ClassicCodec("webp", "quality", 0, 100, True, encode_webp, int),
    "jpeg2000": ClassicCodec(
        "jpeg2000",
        "compression ratio",
        math.log(24 / 100_000),
        math.log(24 / 1.0),
        False,
        encode_jpeg2000,
        _jpeg2000_ratio,
        guess=math.log,
    ),
}


def get_codec(name: str) -> ClassicCodec:
    """The classic codec called ``name`` (jpeg, webp, jpeg2000)."""
    if name not in CODECS:
        raise ValueError(f"unknown classic codec {name!r}; expected one of: {', '.join(CODECS)}")
    return CODECS[name]

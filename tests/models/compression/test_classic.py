"""Classic codecs through Pillow: settings, round trips, the bpp search and its limits, bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from untaught.models.compression.classic import (
    CODECS,
    bits_per_pixel,
    decode,
    encode_jpeg,
    encode_jpeg2000,
    encode_webp,
    get_codec,
)
from untaught.models.compression.quality import image_quality


def photo(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth colour pattern with texture: compressible, but not trivially."""
    i, j, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    base = 120 + 70 * np.sin(i / 9 + 2 * c) * np.cos(j / 13) + 30 * np.sin((i - j) / 4)
    noise = np.random.default_rng(seed).normal(0, 8, (h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", sorted(CODECS))
def test_round_trip_keeps_shape_and_improves_with_the_parameter(name):
    codec, image = get_codec(name), photo()
    low, high = (10, 90) if codec.integer else (60.0, 4.0)  # JPEG 2000: compression ratios
    files = [codec.encode(image, p) for p in (low, high)]
    decoded = [decode(f) for f in files]
    assert all(d.dtype == np.uint8 and d.shape == image.shape for d in decoded)
    assert len(files[0]) < len(files[1])
    assert image_quality(image, decoded[0])[0] < image_quality(image, decoded[1])[0]


def test_codec_settings():
    image = photo()
    with Image.open(io.BytesIO(encode_jpeg(image, 50))) as jpeg:
        assert JpegImagePlugin.get_sampling(jpeg) == 2  # 4:2:0
    webp = encode_webp(image, 50)
    assert webp[:4] == b"RIFF" and webp[8:16] == b"WEBPVP8 "  # lossy VP8, not VP8L
    assert encode_jpeg2000(image, 10)[:4] == b"\xff\x4f\xff\x51"  # raw codestream: SOC, SIZ
    assert bits_per_pixel(b"x" * 384, 48, 64) == 1.0


def test_jpeg2000_rate_and_db_modes():
    image = photo(128, 128)
    data = encode_jpeg2000(image, 24.0)  # 24 / 24 = 1 bpp nominal
    assert 0.9 <= bits_per_pixel(data, 128, 128) <= 1.0
    low, high = (encode_jpeg2000(image, db, mode="dB") for db in (28.0, 36.0))
    assert len(low) < len(high)
    assert image_quality(image, decode(low))[0] < image_quality(image, decode(high))[0]


@pytest.mark.parametrize("name", ["jpeg", "webp"])
def test_integer_search_brackets_the_target(name):
    codec, image = get_codec(name), photo(96, 96)
    targets = [1.0, 2.0]
    below, above, nearest = (codec.match(image, targets, side) for side in ("below", "above", "nearest"))
    for t, b, a, n in zip(targets, below, above, nearest, strict=True):
        assert b.bpp <= t <= a.bpp
        assert a.parameter == b.parameter + 1  # adjacent qualities: nothing closer on either side
        assert n.bpp == min((b.bpp, a.bpp), key=lambda v: abs(v - t))
        assert bits_per_pixel(a.data, 96, 96) == a.bpp
        assert a.data == codec.encode(image, a.parameter)


def test_jpeg2000_search_meets_the_target_closely():
    codec, image = get_codec("jpeg2000"), photo(128, 160)
    for t, b, a in zip(
        [0.5, 1.5], codec.match(image, [0.5, 1.5], "below"), codec.match(image, [0.5, 1.5], "above"), strict=True
    ):
        assert b.bpp <= t <= a.bpp
        assert a.bpp - b.bpp <= 0.005 * t or abs(np.log(a.parameter / b.parameter)) < 1e-3


def test_smallest_file_and_unreachable_targets():
    image = photo(96, 96)
    for name, parameter in (("jpeg", 1), ("webp", 0)):
        codec = get_codec(name)
        smallest = codec.smallest(image)
        assert smallest.parameter == parameter and smallest.at_limit
        assert smallest.data == codec.encode(image, parameter)
        below = smallest.bpp / 2
        with pytest.raises(ValueError, match=f"{name} cannot make a file of at most .* its smallest is"):
            codec.match(image, [below], "below")
        # from above (and nearest), the smallest file is the answer, marked as the codec's limit
        assert codec.match(image, [below], "above")[0] == smallest
        assert codec.match(image, [below], "nearest")[0].at_limit
        with pytest.raises(ValueError, match="cannot make a file of at least 100 bpp"):
            codec.match(image, [100.0], "above")
    # JPEG 2000 goes far lower than JPEG and WebP
    assert get_codec("jpeg2000").smallest(image).bpp < get_codec("jpeg").smallest(image).bpp / 2


def test_bad_input():
    image = photo()
    with pytest.raises(ValueError, match=r"JPEG quality must be in \[1, 95\]; got 0"):
        encode_jpeg(image, 0)
    with pytest.raises(ValueError, match="WebP quality must be an integer"):
        encode_webp(image, 50.5)
    with pytest.raises(ValueError, match="compression ratio >= 1"):
        encode_jpeg2000(image, 0.5)
    with pytest.raises(ValueError, match="mode must be one of"):
        encode_jpeg2000(image, 10, mode="bpp")
    with pytest.raises(ValueError, match=r"uint8 RGB array \[H, W, 3\]; got uint8 of shape \(48, 64\)"):
        encode_jpeg(image[:, :, 0], 50)
    with pytest.raises(ValueError, match="float64"):
        encode_webp(image.astype(np.float64), 50)
    with pytest.raises(ValueError, match="cannot decode 5 bytes"):
        decode(b"hello")
    with pytest.raises(ValueError, match="unknown classic codec 'png'; expected one of: jpeg, webp, jpeg2000"):
        get_codec("png")
    with pytest.raises(ValueError, match="side must be one of"):
        get_codec("jpeg").match(image, [1.0], "up")
    with pytest.raises(ValueError, match="target bpp must be a positive number"):
        get_codec("jpeg").match(image, [0.0])

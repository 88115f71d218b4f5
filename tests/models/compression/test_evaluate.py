"""Rate-distortion evaluation: BD-rates with known answers, tables and plots on tiny generated images."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pytest
from PIL import Image

from untaught.models.compression.classic import decode, get_codec
from untaught.models.compression.evaluate import (
    LearnedCodec,
    bd_rate,
    evaluate_folder,
    evaluate_images,
    smallest_files,
)
from untaught.models.compression.quality import image_quality

RATES = np.array([0.1, 0.2, 0.4, 0.8, 1.6])
PSNR = 30 + 4 * np.log2(RATES) - 0.3 * np.log2(RATES) ** 2  # a concave curve, not a polynomial in log-rate


@pytest.mark.parametrize("method", ["cubic", "pchip"])
@pytest.mark.parametrize(("factor", "expected"), [(0.8, -20.0), (1.25, 25.0), (1.0, 0.0)])
def test_bd_rate_of_a_scaled_curve(method, factor, expected):
    assert bd_rate(RATES, PSNR, factor * RATES, PSNR, method=method) == pytest.approx(expected, abs=1e-9)


def test_bd_rate_with_different_sample_points():
    # log-rate an exact cubic of quality: the cubic fit is exact wherever the test curve is sampled
    def log_rate(q):
        return -6 + 0.2 * q + 0.001 * (q - 30) ** 3

    anchor_q, test_q = np.array([24.0, 28, 32, 36, 40]), np.array([26.0, 29, 33, 35, 38, 42])
    anchor, test = np.exp(log_rate(anchor_q)), 0.8 * np.exp(log_rate(test_q))
    assert bd_rate(anchor, anchor_q, test, test_q) == pytest.approx(-20.0, abs=1e-9)
    assert bd_rate(anchor, anchor_q, test, test_q, method="pchip") == pytest.approx(-20.0, abs=0.5)
    # the test curve is 1.7 dB better at every rate here: a negative BD-rate, and the reverse is positive
    assert bd_rate(RATES, PSNR, RATES, PSNR + 1.7) < 0 < bd_rate(RATES, PSNR + 1.7, RATES, PSNR)


def test_bd_rate_limits_and_bad_input():
    assert math.isnan(bd_rate(RATES, PSNR, RATES, PSNR + 50))  # no common quality range
    with pytest.raises(ValueError, match="cubic BD-rate needs at least 4 points per curve; the test has 3"):
        bd_rate(RATES, PSNR, RATES[:3], PSNR[:3])
    assert bd_rate(RATES[:3], PSNR[:3], RATES[:3] * 0.8, PSNR[:3], method="pchip") == pytest.approx(-20.0, abs=1e-9)
    with pytest.raises(ValueError, match="method must be one of cubic, pchip"):
        bd_rate(RATES, PSNR, RATES, PSNR, method="linear")
    with pytest.raises(ValueError, match="anchor qualities must be distinct"):
        bd_rate(RATES, [30, 30, 31, 32, 33], RATES, PSNR)
    with pytest.raises(ValueError, match="rates must be positive"):
        bd_rate(-RATES, PSNR, RATES, PSNR)


def photo(h: int, w: int, seed: int) -> np.ndarray:
    i, j, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    base = 120 + 70 * np.sin(i / (6 + seed) + 2 * c) * np.cos(j / 11) + 30 * np.sin((i - j) / 4)
    return np.clip(base + np.random.default_rng(seed).normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture
def folder(tmp_path):
    for seed, (h, w) in enumerate([(48, 64), (40, 56), (64, 48)]):
        Image.fromarray(photo(h, w, seed)).save(tmp_path / f"img{seed}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


TARGETS = (1.0, 2.0, 3.0, 4.0)


def test_table_of_the_classic_codecs(folder):
    result = evaluate_folder(folder, targets=TARGETS, threads=2)
    assert result.images == ["img0.png", "img1.png", "img2.png"]
    assert len(result.measurements) == 3 * 4 * 3 and len(result.points) == 3 * 4
    # every measurement is the real file: re-encode at the chosen parameter, decode, measure
    for m in result.measurements[::5]:
        image = np.asarray(Image.open(folder / m.image).convert("RGB"))
        data = get_codec(m.codec).encode(image, m.parameter)
        assert len(data) == m.bytes and m.bpp == len(data) * 8 / (image.shape[0] * image.shape[1])
        assert (m.psnr, m.ms_ssim) == pytest.approx(image_quality(image, decode(data)), abs=1e-12)
    for p in result.points:
        rows = [m for m in result.measurements if (m.codec, m.setting) == (p.codec, p.setting)]
        assert p.images == 3 and p.bpp == pytest.approx(np.mean([m.bpp for m in rows]))
        assert p.psnr == pytest.approx(np.mean([m.psnr for m in rows]))
    table = result.table()
    assert "3 image(s)" in table and "matched per image" in table
    for p in result.points:
        assert f"| {p.codec} | {p.setting} | {p.bpp:.4f} | {p.psnr:.2f} | {p.ms_ssim:.4f} |" in table
    rates = {(r.codec, r.anchor): r for r in result.bd_rates()}
    assert set(rates) == {(a, b) for a in ("jpeg", "webp", "jpeg2000") for b in ("jpeg", "webp", "jpeg2000") if a != b}
    assert "| webp | jpeg |" in table
    lines = result.csv().splitlines()
    assert lines[0] == "codec,setting,parameter,image,bytes,bpp,psnr_db,ms_ssim" and len(lines) == 37
    # the same measurements, in the same order, with one thread
    assert evaluate_folder(folder, targets=TARGETS, max_images=2, classic=["jpeg"]).measurements == [
        m for m in result.measurements if m.codec == "jpeg" and m.image != "img2.png"
    ]


def test_smallest_files():
    images = {f"{i}": photo(64, 64, i) for i in range(2)}
    rows = smallest_files(images, ["jpeg", "webp"])
    assert [(m.codec, m.image, m.parameter) for m in rows] == [
        ("jpeg", "0", 1),
        ("jpeg", "1", 1),
        ("webp", "0", 0),
        ("webp", "1", 0),
    ]
    for m in rows:
        assert m.setting == "smallest" and m.bytes == len(get_codec(m.codec).encode(images[m.image], m.parameter))


def posterise(step: int) -> tuple:
    """A genuine lossy codec for the test: pixel values rounded to multiples of ``step``, stored as PNG."""

    def compress(image: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray((image // step * step + step // 2).astype(np.uint8)).save(buffer, format="PNG")
        return buffer.getvalue()

    return compress, lambda data: np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_learned_codecs_points_bd_rates_and_plot(folder):
    ours = LearnedCodec("posterise", {q: posterise(2 ** (7 - q)) for q in (1, 2, 3, 4)})
    images = {f"{i}": photo(48, 48, i) for i in range(2)}
    result = evaluate_images(images, learned=[ours], classic=["jpeg"], targets=(1.0, 2.0, 4.0, 6.0))
    curve = result.curve("posterise")
    assert [p.setting for p in curve] == ["q=1", "q=2", "q=3", "q=4"]
    first = [m for m in result.measurements if m.setting == "q=1"]
    assert [m.bytes for m in first] == [len(posterise(64)[0](image)) for image in images.values()]
    assert all(a.psnr < b.psnr for a, b in itertools.pairwise(curve))
    [rate] = result.bd_rates()
    assert (rate.codec, rate.anchor) == ("posterise", "jpeg") and set(rate.psnr) == {"cubic", "pchip"}
    png = result.plot()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.width > 600 and picture.height > 300


def test_bad_input(folder, tmp_path_factory):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        evaluate_folder(folder / "missing")
    with pytest.raises(ValueError, match="holds no image files"):
        evaluate_folder(tmp_path_factory.mktemp("empty"))
    with pytest.raises(ValueError, match="unknown classic codec 'gif'"):
        evaluate_folder(folder, classic=["gif"])
    with pytest.raises(ValueError, match="max_images must be >= 1; got 0"):
        evaluate_folder(folder, max_images=0)
    wrong = LearnedCodec("wrong", {1: (posterise(8)[0], lambda data: np.zeros((4, 4, 3), np.uint8))})
    with pytest.raises(ValueError, match=r"wrong \(q=1\) decoded 0 as uint8 \(4, 4, 3\); expected uint8 \(48, 48, 3\)"):
        evaluate_images({"0": photo(48, 48, 0)}, learned=[wrong], classic=[])

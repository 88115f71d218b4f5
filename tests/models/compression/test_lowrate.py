"""The low-rate comparison (`codec-eval --low-rate`) and rate-controlled codecs in `codec-eval --bpps`,
with a tiny randomly initialised WaveOne saved as a run folder, on two small generated images."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch
from PIL import Image

from untaught.cli import main
from untaught.models.compression import codec as codec_api
from untaught.models.compression.classic import decode, get_codec
from untaught.models.compression.commands import learned_codecs
from untaught.models.compression.evaluate import LearnedCodec
from untaught.models.compression.lowrate import FLOOR, OURS_SIZE, caption, compare_image, equal_ms_ssim, split_codecs
from untaught.models.compression.quality import image_quality
from untaught.registry import get_model_class

SIZES = [(64, 96), (80, 64)]


def photo(h: int, w: int, seed: int) -> np.ndarray:
    i, j, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    base = 120 + 70 * np.sin(i / (6 + seed) + 2 * c) * np.cos(j / 11) + 30 * np.sin((i - j) / 4)
    return np.clip(base + np.random.default_rng(seed).normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("images")
    for seed, (h, w) in enumerate(SIZES):
        Image.fromarray(photo(h, w, seed)).save(path / f"p{seed}.png")
    return path


@pytest.fixture(scope="module")
def waveone(tmp_path_factory):
    """The run folder of a random WaveOne whose code varies over its range, as after training."""
    cls = get_model_class("codec-waveone")
    torch.manual_seed(0)
    model = cls(cls.Config(channels=8, code=16, bits=5, scales=2, disc_channels=2)).eval()
    with torch.no_grad():
        model.to_code.bias.normal_(0, 2)
        model.to_code.weight.mul_(30)
    run = tmp_path_factory.mktemp("waveone") / "tiny"
    model.save_pretrained(run)
    return run


def ours(run, bpp: float) -> LearnedCodec:
    [codec] = learned_codecs([str(run)], None, bpps=[bpp])
    return codec


def test_low_rate_figure_and_table(folder, waveone, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["codec-eval", str(folder), "--low-rate", "--models", str(waveone), "--bpp", "0.4", "--crop", "48"]
    assert main([*args, "--out", str(out), "--threads", "1", "--no-progress"]) == 0
    table = (out / "lowrate.md").read_text()
    assert table in capsys.readouterr().out
    for k in range(len(SIZES)):
        with Image.open(out / f"lowrate-p{k}.png") as picture:
            assert picture.format == "PNG" and picture.width > picture.height
    rows = list(csv.DictReader(io.StringIO((out / "lowrate.csv").read_text())))
    assert [r["codec"] for r in rows] == ["codec-waveone (tiny)", "jpeg", "webp", "jpeg2000"] * 2
    for k, (h, w) in enumerate(SIZES):
        mine, *classic = rows[4 * k : 4 * k + 4]
        assert mine["setting"] == "0.4 bpp" and float(mine["bpp"]) <= 0.4
        for row in classic:  # at least as large as ours, or the codec's smallest file
            codec = get_codec(row["codec"])
            assert int(row["bytes"]) >= int(mine["bytes"]) or row["setting"] == FLOOR
            data = codec.encode(photo(h, w, k), float(row["parameter"]))
            assert len(data) == int(row["bytes"])
            psnr, ms_ssim = image_quality(photo(h, w, k), decode(data))
            assert float(row["psnr_db"]) == pytest.approx(psnr, abs=1e-4)
            assert float(row["ms_ssim"]) == pytest.approx(ms_ssim, abs=1e-6)
        # JPEG's smallest file of these small images is larger than ours; JPEG 2000 matches ours
        assert classic[0]["setting"] == FLOOR and classic[2]["setting"] == OURS_SIZE
    summary = {line.split(" | ")[0][2:]: line.split(" | ") for line in table.splitlines() if line.startswith("| ")}
    wins = sum(float(rows[4 * k]["ms_ssim"]) > float(rows[4 * k + 3]["ms_ssim"]) for k in range(2))
    assert summary["jpeg2000"][6] == f"{wins}/2" and summary["jpeg2000"][5] == "2/2"


def test_cannot_go_as_low_is_said_and_drawn(folder, waveone):
    image = photo(*SIZES[0], 0)
    comparison = compare_image("p0.png", image, ours(waveone, 0.3), classic=["jpeg", "jpeg2000"])
    jpeg, jpeg2000 = comparison.others
    smallest = get_codec("jpeg").smallest(image)
    assert jpeg.measurement.bytes == len(smallest.data) > comparison.ours.measurement.bytes
    assert jpeg.note == (
        f"jpeg cannot go as low as {comparison.ours.measurement.bpp:.4f} bpp: its smallest file (quality 1) "
        f"is {smallest.bpp:.4f} bpp"
    )
    assert jpeg2000.note == "" and jpeg2000.measurement.setting == OURS_SIZE
    lines = caption(comparison, 48)
    assert jpeg.note in lines and "a 48x48 crop at (24, 8) of 96x64" in lines[0]
    assert "the whole image" in caption(comparison, 0)[0]


def test_the_file_at_equal_ms_ssim(waveone):
    image = photo(*SIZES[0], 0)
    jpeg = get_codec("jpeg")
    found = equal_ms_ssim(jpeg, image, 0.9)
    below = decode(jpeg.encode(image, 1))
    at = [q for q in range(1, 96) if len(jpeg.encode(image, q)) == found.bytes]
    assert not found.bound and at
    assert image_quality(image, decode(jpeg.encode(image, at[0])))[1] >= 0.9
    assert image_quality(image, decode(jpeg.encode(image, at[0] - 1)))[1] < 0.9 or at[0] == 1
    assert image_quality(image, below)[1] < 0.9
    # JPEG 2000 (continuous parameter): the file reaches the target, within 1% of the smallest that does
    found = equal_ms_ssim(get_codec("jpeg2000"), image, 0.9)
    assert found.ms_ssim >= 0.9 and not found.bound
    # a target every file reaches: its smallest file, a bound; one none reaches: no file
    assert equal_ms_ssim(jpeg, image, 0.0).bound
    assert equal_ms_ssim(jpeg, image, 1.5).bytes is None


def test_rate_controlled_codecs_in_the_table(folder, waveone, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["codec-eval", str(folder), "--models", str(waveone), "--bpps", "0.25,0.3", "--codecs", "jpeg2000"]
    assert main([*args, "--targets", "0.25,0.3", "--side", "above", "--out", str(out), "--no-progress"]) == 0
    table = (out / "table.md").read_text()
    assert "| codec-waveone (tiny) | 0.25 bpp |" in table and "| codec-waveone (tiny) | 0.3 bpp |" in table
    rows = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    mine = [r for r in rows if r["codec"] == "codec-waveone (tiny)"]
    assert len(mine) == 4 and {r["setting"] for r in mine} == {"0.25 bpp", "0.3 bpp"}
    # rate control: under the target, except where the file's header alone is larger
    assert all(float(r["bpp"]) <= float(r["parameter"]) for r in mine)
    assert len([r for r in rows if r["codec"] == "jpeg2000"]) == 4


def test_shipped_rate_controlled_weights(waveone, tmp_path, monkeypatch):
    monkeypatch.setattr(codec_api, "WEIGHTS", tmp_path / "weights")
    codec_api.load_codec.cache_clear()
    codec_api.ship(waveone, 1, dest=tmp_path / "weights")
    [codec] = learned_codecs(["waveone"], None)  # a short name; the default rates of issue 12
    assert codec.name == "codec-waveone" and codec.rate_controlled and sorted(codec.levels) == [0.08, 0.1, 0.15, 0.25]
    image = photo(*SIZES[0], 0)
    compress, decompress = codec.levels[0.25]
    data = compress(image)
    assert 8 * len(data) / image[..., 0].size <= 0.25 and decompress(data).shape == image.shape
    ours_, others = split_codecs([codec, LearnedCodec("rd", {3: codec.levels[0.1], 1: codec.levels[0.08]})])
    assert ours_ is codec and list(others[0].levels) == [1]
    codec_api.load_codec.cache_clear()


def test_bad_options_are_clear_errors(folder, waveone, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "o")
    assert main(["codec-eval", str(folder), "--bpp", "0.1", "--out", out, "--no-progress"]) == 2
    assert "--bpp does not apply to codec-eval without --low-rate" in capsys.readouterr().err
    assert main(["codec-eval", str(folder), "--low-rate", "--targets", "1", "--out", out, "--no-progress"]) == 2
    assert "--targets does not apply to --low-rate" in capsys.readouterr().err
    monkeypatch.setattr(codec_api, "WEIGHTS", tmp_path / "none")  # nothing shipped
    assert main(["codec-eval", str(folder), "--low-rate", "--out", out, "--no-progress"]) == 2
    assert "needs exactly one rate-controlled codec" in capsys.readouterr().err
    assert main(["codec-eval", str(folder), "--bpps", "0.1", "--out", out, "--no-progress"]) == 2
    assert "--bpps sets the rates of a rate-controlled codec" in capsys.readouterr().err
    twice = ["codec-eval", str(folder), "--low-rate", "--models", str(waveone), str(waveone), "--out", out]
    assert main([*twice, "--no-progress"]) == 2
    assert "given more than once: codec-waveone (tiny)" in capsys.readouterr().err
    bad = ["codec-eval", str(folder), "--low-rate", "--models", str(waveone), "--bpp", "-1", "--out", out]
    assert main([*bad, "--no-progress"]) == 2
    assert "--bpp must be a positive number" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()

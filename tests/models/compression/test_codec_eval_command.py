"""``untaught codec-eval``: outputs, options, the glue to the learned codecs' API, errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from untaught.cli import main
from untaught.models.compression import codec as codec_api
from untaught.models.compression.commands import learned_codecs


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for k, (h, w) in enumerate([(40, 48), (48, 40)]):
        i, j = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        base = 128 + 80 * np.sin(i / (5 + k))[:, :, None] * np.cos(j / 7)[:, :, None] * np.array([1.0, -0.5, 0.3])
        Image.fromarray(np.clip(base + rng.normal(0, 5, (h, w, 3)), 0, 255).astype(np.uint8)).save(
            tmp_path / f"p{k}.png"
        )
    return tmp_path


def test_codec_eval_writes_table_csv_and_plot(folder, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["codec-eval", str(folder), "--codecs", "jpeg,webp", "--targets", "1,2,3,4", "--out", str(out)]
    learned = ["--models", "codec-mean-scale", "--qualities", "1,2"]  # shipped weights
    assert main([*args, *learned, "--threads", "1", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    table = (out / "table.md").read_text()
    assert table in printed and "| jpeg | 2 bpp |" in table and "| webp | jpeg |" in table
    assert "jpeg2000" not in table
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 4 * 2 + 2 * 2  # header, classic codecs x targets x images, our levels x images
    assert any(row.startswith("codec-mean-scale,q=2,2,p1.png,") for row in rows)
    assert any(row.startswith("jpeg,1 bpp,") for row in rows)
    with Image.open(out / "rd.png") as picture:
        assert picture.format == "PNG"


def test_the_learned_codecs_glue(monkeypatch, folder):
    calls = []

    def compress_image(image, *, model, quality):
        calls.append((model, quality))
        buffer = io.BytesIO()
        Image.fromarray(image // (2 * quality) * (2 * quality)).save(buffer, format="PNG")
        return buffer.getvalue()

    shipped = {"codec-mean-scale": [1, 2, 3]}  # raising=False: the API may be newer than this checkout
    monkeypatch.setattr(codec_api, "available_qualities", lambda model: shipped.get(model, []), raising=False)
    monkeypatch.setattr(codec_api, "compress_image", compress_image, raising=False)

    def decompress_image(data):
        return np.asarray(Image.open(io.BytesIO(data)))

    monkeypatch.setattr(codec_api, "decompress_image", decompress_image, raising=False)
    [codec] = learned_codecs(None, None)  # every model with shipped weights, every level
    assert codec.name == "codec-mean-scale" and sorted(codec.levels) == [1, 2, 3]
    [codec] = learned_codecs(["codec-mean-scale"], [3, 1])
    image = np.full((16, 16, 3), 77, np.uint8)
    compress, decompress = codec.levels[3]
    assert decompress(compress(image)).shape == image.shape and calls == [("codec-mean-scale", 3)]
    with pytest.raises(ValueError, match="no weights for 'codec-mean-scale' at quality 4; expected one of"):
        learned_codecs(["codec-mean-scale"], [1, 4])
    with pytest.raises(ValueError, match=r"no weights for 'codec-factorized'; .*codec-mean-scale \(qualities 1,2,3\)"):
        learned_codecs(["codec-factorized"], None)


def test_codec_eval_errors(folder, tmp_path, capsys):
    assert main(["codec-eval", str(tmp_path / "nowhere"), "--no-progress", "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["codec-eval", str(folder), "--codecs", "png", "--no-progress", "--out", str(tmp_path / "o")]) == 2
    assert "unknown classic codec 'png'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit):
        main(["codec-eval", str(folder), "--qualities", "one,two"])
    assert "expected comma-separated integers" in capsys.readouterr().err

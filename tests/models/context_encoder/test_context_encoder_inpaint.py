"""`untaught inpaint`: holes where they are asked for, only the hole changes, bad input stops cleanly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from untaught.cli import main
from untaught.inpaint import fill, hole_mask, inpaint_file
from untaught.models.context_encoder import ContextEncoder, ContextEncoderConfig


@pytest.fixture(scope="module")
def model_run(tmp_path_factory):
    torch.manual_seed(0)
    model = ContextEncoder(
        ContextEncoderConfig(shape=(3, 16, 16), levels=256, hole=8, channels=(4, 4), disc_channels=(4,))
    ).eval()
    folder = tmp_path_factory.mktemp("ce")
    model.save_pretrained(folder)
    return folder, model


def photo(path, width: int, height: int):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def test_center_hole_is_where_it_is_asked_for():
    m = hole_mask("center", 30, 40, 8, at=(10, 12))
    assert m.sum() == 64 and torch.equal(m[0, 0, 8:16, 6:14], torch.ones(8, 8))
    assert torch.equal(hole_mask("center", 30, 40, 8)[0, 0, 11:19, 16:24], torch.ones(8, 8))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (dict(hole=50), "larger than the 40x30 image"),
        (dict(hole=8, at=(2, 15)), "not inside the 40x30 image"),
        (dict(hole=0), "--hole must be a positive side"),
    ],
)
def test_bad_holes_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        hole_mask("center", 30, 40, **args)


@pytest.mark.parametrize("kind", ["center", "block", "region"])
def test_filling_a_large_photograph_changes_only_the_hole(model_run, tmp_path, kind):
    _, model = model_run
    image = torch.from_numpy(np.array(Image.open(photo(tmp_path / "p.png", 40, 30)))).permute(2, 0, 1)[None]
    mask = hole_mask(kind, 30, 40, 8, seed=1)
    out = fill(model, image, mask)
    outside = (mask == 0).expand_as(image)
    assert torch.equal(out[outside], image[outside])
    assert not torch.equal(out[~outside], image[~outside])


def test_a_photograph_smaller_than_the_window_is_enlarged_and_brought_back(model_run, tmp_path):
    _, model = model_run
    masked, filled = inpaint_file(model, photo(tmp_path / "s.png", 12, 10), "center", hole=4, at=None, seed=0)
    original = np.asarray(Image.open(tmp_path / "s.png"))
    assert filled.shape == original.shape == masked.shape
    hole = hole_mask("center", 10, 12, 4)[0, 0].numpy() > 0
    assert np.array_equal(filled[~hole], original[~hole]) and np.all(masked[hole] == 128)


def test_the_command_writes_the_before_after_picture(model_run, tmp_path, capsys):
    folder, _ = model_run
    out = tmp_path / "out.png"
    assert (
        main(["inpaint", str(folder), str(photo(tmp_path / "p.png", 40, 30)), "--mask", "region", "-o", str(out)]) == 0
    )
    assert Image.open(out).size == (40 + 8 + 40, 30)


def test_unreadable_images_and_oversized_holes_stop_without_writing(model_run, tmp_path, capsys):
    folder, _ = model_run
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    out = tmp_path / "out.png"
    assert main(["inpaint", str(folder), str(bad), "-o", str(out)]) == 2
    assert "cannot read" in capsys.readouterr().err
    big = photo(tmp_path / "big.png", 60, 60)
    assert main(["inpaint", str(folder), str(big), "--hole", "20", "-o", str(out)]) == 2
    assert "larger than the model's 16x16 window" in capsys.readouterr().err
    assert not out.exists()

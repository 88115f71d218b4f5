"""Pictures: a photograph rebuilt from sparse patch codes, and its PSNR."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from untaught.models.sparse_coding import SparseCoding, SparseCodingConfig
from untaught.models.sparse_coding.commands import psnr, reconstruct_image


def test_reconstruction_from_patch_codes_and_psnr():
    model = SparseCoding(SparseCodingConfig(shape=(1, 4, 4), atoms=16, lam=1e-6, tol=1e-10, stop="gap")).double()
    with torch.no_grad():
        model.dictionary.copy_(torch.eye(16, dtype=torch.float64))  # a complete basis: near-exact codes
    image = np.random.RandomState(0).rand(13, 10)
    recon, codes = reconstruct_image(model, image, scale=0.2)
    assert recon.shape == (12, 8) and codes.shape == (12 * 8 // 16, 16)
    assert psnr(image[:12, :8], recon) > 80
    assert psnr(image, image) == math.inf
    assert abs(psnr(np.zeros((2, 2)), np.full((2, 2), 0.1)) - 20.0) < 1e-9
    coarse = SparseCoding(SparseCodingConfig(shape=(1, 4, 4), atoms=16, lam=5.0)).double()
    with torch.no_grad():
        coarse.dictionary.copy_(torch.eye(16, dtype=torch.float64))
    recon_coarse, codes_coarse = reconstruct_image(coarse, image, scale=0.2)
    assert psnr(image[:12, :8], recon_coarse) < psnr(image[:12, :8], recon)  # a larger λ: sparser, blurrier
    assert (codes_coarse != 0).sum() < (codes != 0).sum()


def test_train_on_an_image_folder_and_draw_the_pictures(tmp_path, capsys):
    """`untaught train sparse-coding --images FOLDER --patch N`, then `untaught sparse-coding-pictures`:
    the photograph is coded with the scale of the run's own folder, not BSDS500's."""
    from PIL import Image

    from untaught.cli import main
    from untaught.data.patches import folder_patches, patch_data_name
    from untaught.io import read_json

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.RandomState(0)
    for i in range(6):  # a flat folder: 4 train, 1 val, 1 test image
        ramp = np.linspace(0, 200, 48)[None, :] + np.linspace(0, 50, 40)[:, None]
        Image.fromarray((ramp + rng.rand(40, 48) * 55 * (i + 1) / 6).astype(np.uint8)).save(photos / f"{i}.png")
    run = tmp_path / "run"
    argv = ["train", "sparse-coding", "--images", str(photos), "--patch", "4", "--atoms", "8", "--lam", "0.5"]
    argv += ["--epochs", "1", "--batch-size", "2000", "--threads", "1", "--samples", "0", "--no-progress"]
    assert main([*argv, "--out", str(run)]) == 0
    config = read_json(run / "config.json")["train"]
    assert config["data"] == f"patches-4:{photos.resolve()}" == patch_data_name("x", 4, str(photos))
    assert main(["sparse-coding-pictures", str(run), "--threads", "1"]) == 0
    result = read_json(run / "pictures.json")
    scale = folder_patches(photos.resolve(), patch=4)[1]
    assert result["scale"] == scale and abs(scale - 0.08866) > 0.01
    assert result["image"] == str(photos.resolve() / "5.png")
    assert 10 < result["psnr_db"] < 80 and 0 < result["test_nonzero_mean"] <= 8
    for name in ("atoms.png", "reconstruction.png", "sparsity.png"):
        assert Image.open(run / name).size[0] > 0
    assert Image.open(run / "reconstruction.png").size == (2 * 48, 40)  # photograph | reconstruction
    assert "PSNR" in capsys.readouterr().out


def test_patch_options_are_checked():
    from untaught.cli import main
    from untaught.data.patches import patch_data_name

    assert patch_data_name("bsds500-patches", 16) == "bsds500-patches-16"
    assert patch_data_name("bsds500-patches-16", 8) == "bsds500-patches"
    assert patch_data_name("digits") == "digits"
    with pytest.raises(ValueError, match="--patch applies to a patch dataset"):
        patch_data_name("digits", 12)
    with pytest.raises(ValueError, match="no such folder"):
        patch_data_name("x", images="/no/such/folder")
    assert main(["train", "sparse-coding", "--data", "digits", "--patch", "12"]) == 2

"""Pictures: a photograph rebuilt from sparse patch codes, and its PSNR."""

from __future__ import annotations

import math

import numpy as np
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

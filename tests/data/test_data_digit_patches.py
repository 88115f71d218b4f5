"""digit-patches: 4x4 stride-2 patches of the statically binarised digits, in digits' split."""

from __future__ import annotations

import torch

from untaught.data import binarize_static, get_info, load_split


def test_patches_are_the_binarised_digits_cut_at_stride_2():
    digits = load_split("digits", "val")
    patches = load_split("digit-patches", "val")
    assert patches.levels == 2 and patches.x.shape == (9 * len(digits), 1, 4, 4)
    assert len(patches) == get_info("digit-patches").sizes["val"]
    image = binarize_static(digits.x[7, 0], 17)  # [8, 8]
    for i, (row, col) in enumerate((r, c) for r in (0, 2, 4) for c in (0, 2, 4)):
        assert torch.equal(patches.x[9 * 7 + i, 0], image[row : row + 4, col : col + 4])
    assert torch.equal(patches.y[9 * 7 : 9 * 8], digits.y[7].repeat(9))

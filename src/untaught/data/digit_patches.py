"""A 16-dimensional binary dataset for models whose likelihood is computed by enumeration.

``digit-patches``: 4x4 patches of scikit-learn's 8x8 digits, binarised at half range (ink where the
level is >= 9 of 0..16, as ``--binarize static``), cut at stride 2 (9 patches per image: rows and
columns 0, 2, 4). Splits follow ``digits``'s fixed split, so no test patch comes from a training
image: 1257 / 180 / 360 images give 11313 / 1620 / 3240 patches. Labels are the digit classes.
2^16 states: small enough to enumerate (the fully connected Boltzmann machine's exact log Z,
the empirical entropy), large enough to need a model.
"""

from __future__ import annotations

from .digits import _SIZES as DIGIT_SIZES
from .digits import _load as load_digits
from .registry import DatasetInfo, Split, register
from .transforms import binarize_static

PATCH, STRIDE = 4, 2
_SIZES = {split: n * 9 for split, n in DIGIT_SIZES.items()}


def _load(split: str, root: str | None = None) -> Split:
    digits = load_digits(split, root)
    x = binarize_static(digits.x, digits.levels)  # [N, 1, 8, 8]
    patches = x.unfold(2, PATCH, STRIDE).unfold(3, PATCH, STRIDE)  # [N, 1, 3, 3, 4, 4]
    n, c, rows, cols = patches.shape[:4]
    x = patches.permute(0, 2, 3, 1, 4, 5).reshape(n * rows * cols, c, PATCH, PATCH).contiguous()
    y = digits.y.repeat_interleave(rows * cols)
    return Split(x, y, levels=2)


DIGIT_PATCHES = register(
    DatasetInfo(
        name="digit-patches",
        description="4x4 binary patches (stride 2) of the binarised 8x8 digits (ships with scikit-learn)",
        shape=(1, PATCH, PATCH),
        levels=2,
        sizes=_SIZES,
        loader=_load,
        offline=lambda root: True,
    )
)

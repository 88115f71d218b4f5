"""``.amat`` text files and the fixed binarisation of MNIST stored in them.

``binarized-mnist``: the standard stochastically binarised MNIST of Larochelle & Murray (2011),
sampled once and published as three files (train 50000, valid 10000, test 10000 rows); each line
holds 784 values 0/1 separated by spaces. The files carry no labels, so ``y`` is -1 throughout.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .download import DatasetCorruptError, Remote, fetch_all, is_cached
from .registry import DatasetInfo, Split, register


def parse_amat(data: bytes, source: str = "<bytes>", width: int = 784) -> np.ndarray:
    """Decode a binary ``.amat`` payload into uint8 [N, width] with values in {0, 1}.

    Every non-empty line must hold exactly ``width`` whitespace-separated values, each '0' or
    '1'; trailing blank lines are ignored. ``source`` names the file in error messages.
    """
    row = 2 * width  # canonical line: 'v v ... v\n'
    if data and len(data) % row == 0:  # fast path for the canonical layout
        lines = np.frombuffer(data, np.uint8).reshape(-1, row)
        values, seps = lines[:, 0::2], lines[:, 1::2]
        if (
            ((values == ord("0")) | (values == ord("1"))).all()
            and (seps[:, :-1] == ord(" ")).all()
            and (seps[:, -1] == ord("\n")).all()
        ):
            return values - np.uint8(ord("0"))
    lines = data.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    out = np.empty((len(lines), width), np.uint8)
    for i, line in enumerate(lines):
        tokens = line.split()
        if len(tokens) != width:
            raise DatasetCorruptError(f"{source}: line {i + 1} has {len(tokens)} values; expected {width}")
        bad = sorted(set(tokens) - {b"0", b"1"})
        if bad:
            raise DatasetCorruptError(
                f"{source}: line {i + 1} holds {bad[0].decode(errors='replace')!r}; expected only 0 or 1"
            )
        out[i] = np.frombuffer(b"".join(tokens), np.uint8) - np.uint8(ord("0"))
    return out


def read_amat(path: str | os.PathLike[str], width: int = 784) -> np.ndarray:
    """Read a binary ``.amat`` file: uint8 [N, width] in {0, 1}."""
    return parse_amat(Path(path).read_bytes(), str(path), width)


# --- dataset ---------------------------------------------------------------------------------

BINARIZED_MNIST_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
# sha256 of the files as served, from TensorFlow Datasets (url_checksums/binarized_mnist.txt),
# which also records their sizes: 78,400,000 / 15,680,000 / 15,680,000 bytes, i.e. 1568 bytes a
# line ('0 1 ... 0\n'); the parser checks the format strictly as well.
BINARIZED_MNIST_FILES = {
    "train": (
        "binarized_mnist_train.amat",
        "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d",
    ),
    "val": (
        "binarized_mnist_valid.amat",
        "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2",
    ),
    "test": (
        "binarized_mnist_test.amat",
        "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c",
    ),
}
_SIZES = {"train": 50000, "val": 10000, "test": 10000}
_NAME = "binarized-mnist"


def _remotes() -> list[Remote]:
    return [Remote(BINARIZED_MNIST_URL + f, f"{_NAME}/{f}", digest) for f, digest in BINARIZED_MNIST_FILES.values()]


def _load(split: str, root: str | None = None) -> Split:
    paths = dict(zip(BINARIZED_MNIST_FILES, fetch_all(_NAME, _remotes(), root), strict=True))
    values = read_amat(paths[split])
    if values.shape[0] != _SIZES[split]:
        raise DatasetCorruptError(f"{paths[split]}: expected {_SIZES[split]} lines; got {values.shape[0]}")
    x = torch.from_numpy(values).reshape(-1, 1, 28, 28)
    return Split(x, torch.full((x.shape[0],), -1, dtype=torch.int64), levels=2)


BINARIZED_MNIST = register(
    DatasetInfo(
        name=_NAME,
        description="MNIST with the fixed binarisation of Larochelle & Murray (2011); no labels",
        shape=(1, 28, 28),
        levels=2,
        sizes=_SIZES,
        loader=_load,
        offline=lambda root: all(is_cached(r.filename, root) for r in _remotes()),
    )
)

"""Sequence data for 1-D autoregressive models: ``python-chars``, characters of Python source.

Windows of 64 characters cut from the ``.py`` files at the top level of this interpreter's standard
library (always on the machine, no download), 7-bit ASCII codes (other characters become '?'),
as integer levels of shape [1, 1, 64] with 128 levels. Files are assigned to train / val / test by
a hash of their name (80 / 10 / 10 %), so no file spreads over two splits; windows do not overlap;
each split keeps at most a fixed number of windows, taken evenly. The content depends on the Python
version (the description names it), so figures name the version too.
"""

from __future__ import annotations

import hashlib
import sys
import sysconfig
from pathlib import Path

import torch

from .registry import DatasetInfo, Split, register

LENGTH = 64
SIZES = {"train": 20000, "val": 2000, "test": 2000}


def _split_of(name: str) -> str:
    bucket = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10
    return "test" if bucket == 0 else "val" if bucket == 1 else "train"


def load(split: str, root: str | None = None) -> Split:
    folder = Path(sysconfig.get_paths()["stdlib"])
    windows = []
    for path in sorted(folder.glob("*.py")):
        if _split_of(path.name) != split:
            continue
        codes = [c if c < 128 else ord("?") for c in path.read_text(errors="replace").encode("utf-8", "replace")]
        whole = len(codes) // LENGTH * LENGTH
        if whole:
            windows.append(torch.tensor(codes[:whole], dtype=torch.uint8).view(-1, LENGTH))
    x = torch.cat(windows)
    keep = torch.linspace(0, len(x) - 1, min(SIZES[split], len(x))).round().long()
    x = x[keep].view(-1, 1, 1, LENGTH)
    return Split(x, torch.full((len(x),), -1, dtype=torch.long), 128)


register(
    DatasetInfo(
        "python-chars",
        f"64-character windows of Python {sys.version_info.major}.{sys.version_info.minor}'s standard library "
        "source, ASCII codes",
        (1, 1, LENGTH),
        128,
        SIZES,
        load,
        lambda root: True,
    )
)

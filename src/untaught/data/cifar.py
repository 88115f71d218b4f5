"""CIFAR-10, read from the binary release ``cifar-10-binary.tar.gz`` (no extraction, no pickle).

Each batch file is a run of 3073-byte records: 1 label byte (0..9), then 3072 pixel bytes in
CHW order (1024 red, 1024 green, 1024 blue, rows of 32). ``cifar10``: 3x32x32, 256 levels;
train = first 45000 of data_batch_1..5, val = last 5000, test = test_batch.
"""

from __future__ import annotations

import functools
import os
import tarfile
import zlib

import numpy as np
import torch

from .download import DatasetCorruptError, Remote, cache_dir, fetch_all, is_cached
from .registry import DatasetInfo, Split, register

RECORD_BYTES = 1 + 3 * 32 * 32
MEMBER_DIR = "cifar-10-batches-bin"
TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_BATCH = "test_batch.bin"


def parse_cifar_batch(data: bytes, source: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Decode one binary batch: x uint8 [N, 3, 32, 32] (CHW), y int64 [N] in 0..9."""
    if not data or len(data) % RECORD_BYTES:
        raise DatasetCorruptError(
            f"{source}: expected a whole number of {RECORD_BYTES}-byte records (1 label byte + "
            f"3072 pixel bytes); got {len(data)} bytes (truncated or corrupt)"
        )
    records = np.frombuffer(data, np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0]
    if (labels > 9).any():
        i = int(np.argmax(labels > 9))
        raise DatasetCorruptError(f"{source}: record {i} has label {labels[i]}; expected 0..9")
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), labels.astype(np.int64)


def read_cifar_tar(
    path: str | os.PathLike[str], batches: tuple[str, ...] = (*TRAIN_BATCHES, TEST_BATCH)
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Parse the named batch files (under ``cifar-10-batches-bin/``) straight from the tar.gz.

    Returns ``{batch name: (x uint8 [N, 3, 32, 32], y int64 [N])}``; the archive is read in one
    pass and nothing is written to disk.
    """
    wanted = {f"{MEMBER_DIR}/{b}": b for b in batches}
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    f = tar.extractfile(member)
                    assert f is not None  # a regular file always has content
                    found[wanted[member.name]] = parse_cifar_batch(f.read(), f"{path}:{member.name}")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DatasetCorruptError(
            f"{path}: cannot read the gzipped tar archive ({e}); the file is truncated or corrupt"
        ) from e
    missing = [name for name, b in wanted.items() if b not in found]
    if missing:
        raise DatasetCorruptError(f"{path}: archive lacks the member(s) {', '.join(missing)}")
    return {b: found[b] for b in batches}


# --- dataset ---------------------------------------------------------------------------------

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"  # as published on the CIFAR page
_REMOTE = Remote(CIFAR10_URL, "cifar10/cifar-10-binary.tar.gz", CIFAR10_MD5)
_SIZES = {"train": 45000, "val": 5000, "test": 10000}


@functools.lru_cache(maxsize=1)
def _parts(root: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Official train (50000) and test (10000) sets: x uint8 [N, 3, 32, 32], y int64 [N]."""
    (path,) = fetch_all("cifar10", [_REMOTE], root)
    batches = read_cifar_tar(path)
    for name, (x, _) in batches.items():
        if x.shape[0] != 10000:
            raise DatasetCorruptError(f"{path}:{name}: expected 10000 records; got {x.shape[0]}")
    train_x = np.concatenate([batches[b][0] for b in TRAIN_BATCHES])
    train_y = np.concatenate([batches[b][1] for b in TRAIN_BATCHES])
    test_x, test_y = batches[TEST_BATCH]
    t = torch.from_numpy
    return t(train_x), t(train_y), t(test_x), t(test_y)


def _load(split: str, root: str | None = None) -> Split:
    train_x, train_y, test_x, test_y = _parts(str(cache_dir(root)))
    if split == "test":
        x, y = test_x, test_y
    else:
        n = _SIZES["train"]
        x, y = (train_x[:n], train_y[:n]) if split == "train" else (train_x[n:], train_y[n:])
    return Split(x.clone(), y.clone(), levels=256)  # clones keep the cached tensors intact


CIFAR10 = register(
    DatasetInfo(
        name="cifar10",
        description="CIFAR-10 colour images, 3x32x32, from the binary release",
        shape=(3, 32, 32),
        levels=256,
        sizes=_SIZES,
        loader=_load,
        offline=lambda root: is_cached(_REMOTE.filename, root),
    )
)

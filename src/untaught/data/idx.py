"""IDX files (the MNIST format, gzipped or not) and the datasets stored in it.

``mnist`` and ``fashion-mnist``: 28x28 grey images with 256 levels and labels 0..9. Splits:
train = first 50000 of the official 60000 training images, val = last 10000, test = the
official 10000 test images.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from .download import DatasetCorruptError, Remote, cache_dir, fetch_all, is_cached
from .registry import DatasetInfo, Split, register

# IDX type code -> big-endian numpy dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_payload(path: str | os.PathLike[str]) -> bytes:
    """All bytes of ``path``, gunzipped when the file starts with the gzip magic (1f 8b)."""
    path = Path(path)
    with path.open("rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    if not gzipped:
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (EOFError, OSError, zlib.error) as e:
        raise DatasetCorruptError(f"{path}: cannot decompress gzip data ({e}); the file is truncated or corrupt") from e


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode one IDX payload (uncompressed) into a native-endian array of its dims and dtype.

    Layout: 2 zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dims, each dim as a big-endian uint32, then the
    values in C order. ``source`` names the file in error messages.
    """
    if len(data) < 4:
        raise DatasetCorruptError(f"{source}: IDX header needs 4 bytes; got {len(data)}")
    if data[:2] != b"\x00\x00":
        raise DatasetCorruptError(
            f"{source}: not an IDX file: magic number must start with 00 00; got {data[:4].hex()}"
        )
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in _IDX_DTYPES)
        raise DatasetCorruptError(f"{source}: IDX type code must be one of {known}; got 0x{code:02x}")
    if ndim == 0:
        raise DatasetCorruptError(f"{source}: IDX number of dims must be >= 1; got 0")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetCorruptError(f"{source}: truncated IDX header: {ndim} dims need {header} bytes; got {len(data)}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "trailing bytes after the data"
        raise DatasetCorruptError(
            f"{source}: {what}: IDX dims {dims} of {dtype.name} need {expected} bytes; got {len(data)}"
        )
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return values.astype(dtype.newbyteorder("="))  # a writable native-endian copy


def read_idx(path: str | os.PathLike[str], sha256: str | None = None) -> np.ndarray:
    """Read an IDX file (gzipped or not); if ``sha256`` is given, check it on the decompressed
    bytes first."""
    data = read_payload(path)
    if sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise DatasetCorruptError(f"{path}: decompressed IDX data has sha256 {actual}; expected {sha256}")
    return parse_idx(data, str(path))


# --- datasets -------------------------------------------------------------------------------

_TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
_TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_PART_SIZES = {"train": 60000, "test": 10000}
_SIZES = {"train": 50000, "val": 10000, "test": 10000}

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
# md5 of the official .gz files (as in torchvision and many other loaders).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# md5 of the official .gz files (zalandoresearch/fashion-mnist README, torchvision).
FASHION_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
# sha256 of the DECOMPRESSED payloads: the same for the official files and Debian's re-gzipped
# copies (computed from Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1; they match
# independently published hashes of the official files).
FASHION_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
# Installed by Debian's package dataset-fashion-mnist.
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

_SOURCES = {"mnist": (MNIST_URL, MNIST_MD5), "fashion-mnist": (FASHION_URL, FASHION_MD5)}


def _debian_fashion_files() -> dict[str, Path] | None:
    files = {name: DEBIAN_FASHION_DIR / name for name in FASHION_MD5}
    return files if all(p.is_file() for p in files.values()) else None


def _remotes(name: str) -> list[Remote]:
    url, md5 = _SOURCES[name]
    return [Remote(url + f, f"{name}/{f}", digest) for f, digest in md5.items()]


def _files(name: str, root: str) -> dict[str, Path]:
    if name == "fashion-mnist" and (debian := _debian_fashion_files()) is not None:
        return debian
    return dict(zip(_SOURCES[name][1], fetch_all(name, _remotes(name), root), strict=True))


def _offline(name: str, root: str | None) -> bool:
    if name == "fashion-mnist" and _debian_fashion_files() is not None:
        return True
    return all(is_cached(r.filename, root) for r in _remotes(name))


def _check(array: np.ndarray, shape: tuple[int, ...], path: Path) -> None:
    if array.dtype != np.uint8 or array.shape != shape:
        raise DatasetCorruptError(f"{path}: expected uint8 {shape}; got {array.dtype} {array.shape}")


@functools.lru_cache(maxsize=4)
def _part(name: str, root: str, part: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The official ``part`` ('train' or 'test'): x uint8 [N, 1, 28, 28], y int64 [N]."""
    files = _files(name, root)
    image_file, label_file = _TRAIN_FILES if part == "train" else _TEST_FILES
    sha256 = FASHION_SHA256 if name == "fashion-mnist" else {}
    n = _PART_SIZES[part]
    x = read_idx(files[image_file], sha256.get(image_file))
    _check(x, (n, 28, 28), files[image_file])
    y = read_idx(files[label_file], sha256.get(label_file))
    _check(y, (n,), files[label_file])
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y.astype(np.int64))


def _loader(name: str):
    def load(split: str, root: str | None = None) -> Split:
        x, y = _part(name, str(cache_dir(root)), "test" if split == "test" else "train")
        if split != "test":
            n = _SIZES["train"]
            x, y = (x[:n], y[:n]) if split == "train" else (x[n:], y[n:])
        return Split(x.clone(), y.clone(), levels=256)  # clones keep the cached tensors intact

    return load


MNIST = register(
    DatasetInfo(
        name="mnist",
        description="MNIST handwritten digits, 28x28 grey, official IDX files",
        shape=(1, 28, 28),
        levels=256,
        sizes=_SIZES,
        loader=_loader("mnist"),
        offline=lambda root: _offline("mnist", root),
    )
)

FASHION_MNIST = register(
    DatasetInfo(
        name="fashion-mnist",
        description="Fashion-MNIST (Zalando) article images, 28x28 grey, IDX files "
        "(Debian's dataset-fashion-mnist if installed)",
        shape=(1, 28, 28),
        levels=256,
        sizes=_SIZES,
        loader=_loader("fashion-mnist"),
        offline=lambda root: _offline("fashion-mnist", root),
    )
)

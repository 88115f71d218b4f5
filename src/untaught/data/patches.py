"""Greyscale patches of photographs, as sparse coding and ICA papers use them.

A patch dataset cuts ``patch`` x ``patch`` greyscale patches out of a folder of photographs and
preprocesses them the classic way (Olshausen & Field 1996; Mairal et al. 2009):

1. every image is read as grey levels (Pillow's ITU-R 601 luma) scaled to [0, 1];
2. patches are drawn at uniform random positions of uniformly chosen images, from a generator
   seeded by ``(seed, split)``, so the same patches come back on every machine; patches of zero
   variance (flat regions, all pixels equal) carry nothing to code and are redrawn;
3. the DC component (each patch's mean) is removed;
4. every value is divided by ONE global constant, the standard deviation of all values of the
   DC-removed *training* patches (so the training set has unit variance per pixel; validation and
   test use the training constant). For ``bsds500-patches`` this constant is 0.08866 (a grey level
   of 22.6 on the 0..255 scale), computed by :func:`patch_splits` and checked by the tests.

Values are continuous, ``float32 [N, 1, patch, patch]`` with ``levels`` None; labels are -1.

Registered: ``bsds500-patches`` (8x8) and ``bsds500-patches-16`` (16x16), from the BSDS500
photographs (train / val / test as published: 200 / 100 / 200 images), 50,000 / 10,000 / 10,000
patches. Made on demand from their name (so ``resume``, ``eval`` and the pictures find them again):
``NAME-patches-N`` (N x N patches of the photo folder NAME, e.g. ``bsds500-patches-12``) and
``patches-N:FOLDER`` (any folder of images, an absolute path); ``untaught train ... --patch N
--images FOLDER`` picks the name (:func:`patch_data_name`). A folder holds ``train/``, ``val/`` and
``test/`` subfolders, or is flat and its sorted images are split 80 / 10 / 10 %. In Python:
:func:`register_patch_folder`, or :func:`folder_patches` for the arrays alone.

References:
    Olshausen, Field. Emergence of simple-cell receptive field properties by learning a sparse code
    for natural images. Nature 1996.
    Mairal, Bach, Ponce, Sapiro. Online dictionary learning for sparse coding. ICML 2009.
    Arbelaez, Maire, Fowlkes, Malik. Contour detection and hierarchical image segmentation. TPAMI 2011.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import numpy as np
import torch

from .download import DatasetUnavailableError
from .photos import IMAGE_SUFFIXES, read_image
from .photos import find_folder as find_photo_folder
from .photos import image_files as photo_files
from .registry import SPLITS, DatasetInfo, Split, register, register_resolver

SPLIT_KEYS = {"train": 0, "val": 1, "test": 2}
DEFAULT_SIZES = {"train": 50_000, "val": 10_000, "test": 10_000}


def read_grey(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file as grey levels in [0, 1]: float64 [H, W] (read by :func:`.photos.read_image`)."""
    return read_image(path, grey=True).astype(np.float64) / 255.0


def image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files directly in ``folder``, sorted by name (the order fixes the patches)."""
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"image folder {str(folder)!r} does not exist")
    return photo_files(Path(folder))


def sample_patches(images: list[np.ndarray], patch: int, count: int, generator: torch.Generator) -> np.ndarray:
    """``count`` raw patches [count, patch * patch] (float64) of uniformly chosen images [H, W] at
    uniform positions, redrawing patches of zero variance."""
    if not (isinstance(patch, int) and patch >= 1):
        raise ValueError(f"patch must be an integer >= 1 (pixels); got {patch!r}")
    if not images:
        raise ValueError("no images to cut patches from")
    for i, image in enumerate(images):
        if image.ndim != 2 or image.shape[0] < patch or image.shape[1] < patch:
            raise ValueError(
                f"the patch size {patch} is larger than image {i} of {image.shape[1]}x{image.shape[0]} pixels; "
                f"expected patch <= {min(min(im.shape[:2]) for im in images)}"
            )
    out = np.empty((count, patch * patch))
    filled, attempts = 0, 0
    while filled < count:
        need = count - filled
        which = torch.randint(len(images), (need,), generator=generator).numpy()
        u = torch.rand(need, 2, generator=generator, dtype=torch.float64).numpy()
        chunk = np.empty((need, patch * patch))
        for j in np.unique(which):
            image, rows = images[j], np.flatnonzero(which == j)
            tops = (u[rows, 0] * (image.shape[0] - patch + 1)).astype(np.int64)
            lefts = (u[rows, 1] * (image.shape[1] - patch + 1)).astype(np.int64)
            windows = np.lib.stride_tricks.sliding_window_view(image, (patch, patch))
            chunk[rows] = windows[tops, lefts].reshape(len(rows), -1)
        keep = chunk.var(1) > 0
        taken = chunk[keep][:need]
        out[filled : filled + len(taken)] = taken
        filled += len(taken)
        attempts += 1
        if attempts > 100 and filled == 0:
            raise ValueError("every patch drawn has zero variance (the images are flat); no patch to code")
    return out


def remove_dc(patches: np.ndarray) -> np.ndarray:
    """Subtract every patch's mean (its DC component): [N, D] -> [N, D]."""
    return patches - patches.mean(1, keepdims=True)


def _split_folders(folder: Path) -> dict[str, list[Path]]:
    """Image files per split: train/ val/ test/ subfolders, or a flat folder split 80 / 10 / 10 %."""
    if all((folder / s).is_dir() for s in SPLITS):
        files = {s: image_files(folder / s) for s in SPLITS}
    else:
        every = image_files(folder)
        if len(every) < 3:
            raise ValueError(
                f"{folder} holds {len(every)} image file(s) and no train/, val/, test/ subfolders; a flat "
                "folder needs at least 3 images (split 80 / 10 / 10 %)"
            )
        n_val = n_test = max(1, len(every) // 10)
        n_train = len(every) - n_val - n_test
        files = {"train": every[:n_train], "val": every[n_train : n_train + n_val], "test": every[n_train + n_val :]}
    for s, f in files.items():
        if not f:
            raise ValueError(f"{folder / s} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    return files


@functools.lru_cache(maxsize=4)
def patch_splits(
    folder: str, patch: int = 8, train: int = 50_000, val: int = 10_000, test: int = 10_000, seed: int = 0
) -> tuple[dict[str, np.ndarray], float]:
    """Preprocessed patches of every split of ``folder`` (float32 [N, patch * patch]) and the global
    scale they were divided by (the standard deviation of the DC-removed training patches)."""
    files = _split_folders(Path(folder))
    counts = {"train": train, "val": val, "test": test}
    raw = {}
    for split in SPLITS:
        images = [read_grey(p) for p in files[split]]
        generator = torch.Generator().manual_seed(seed * 1_000_003 + SPLIT_KEYS[split])
        raw[split] = remove_dc(sample_patches(images, patch, counts[split], generator))
    scale = float(raw["train"].std())
    if not scale > 0:
        raise ValueError(f"the training patches of {folder} have zero variance: there is nothing to scale")
    return {s: (raw[s] / scale).astype(np.float32) for s in SPLITS}, scale


def folder_patches(
    folder: str | os.PathLike[str], *, patch: int = 8, sizes: dict[str, int] | None = None, seed: int = 0
) -> tuple[dict[str, torch.Tensor], float]:
    """Patches of any image folder: ({split: float32 [N, 1, patch, patch]}, scale); see the module."""
    n = {**DEFAULT_SIZES, **(sizes or {})}
    arrays, scale = patch_splits(str(Path(folder).resolve()), patch, n["train"], n["val"], n["test"], seed)
    return {s: torch.from_numpy(a).view(-1, 1, patch, patch) for s, a in arrays.items()}, scale


def find_folder(folder: str, root: str | None = None) -> Path | None:
    """``folder`` itself if it is an absolute directory path, else the folder found as
    :func:`.photos.find_folder` finds it (``root``, ``$UNTAUGHT_DATA``, any ``shared/data/`` above)."""
    if os.path.isabs(folder):
        return Path(folder) if Path(folder).is_dir() else None
    return find_photo_folder(folder, root)


def register_patch_folder(
    name: str,
    folder: str,
    *,
    patch: int = 8,
    sizes: dict[str, int] | None = None,
    seed: int = 0,
    description: str | None = None,
) -> DatasetInfo:
    """Register a patch dataset ``name`` cut from the images of ``folder`` (an absolute path, or a
    name looked up as :func:`find_folder` says); ``sizes``: patches per split (default 50,000 /
    10,000 / 10,000). Then ``untaught train sparse-coding --data NAME`` trains on it."""
    n = {**DEFAULT_SIZES, **(sizes or {})}
    if not (isinstance(patch, int) and patch >= 1):
        raise ValueError(f"patch must be an integer >= 1 (pixels); got {patch!r}")
    SOURCES[name] = (folder, patch, n, seed)

    def locate(root: str | None) -> Path:
        found = find_folder(folder, root)
        if found is None:
            raise DatasetUnavailableError(
                f"dataset {name!r}: image folder {folder!r} not found; place it in $UNTAUGHT_DATA or a "
                "shared/data/ folder above the working directory "
                "(with train/, val/ and test/ subfolders of images)"
            )
        return found

    def load(split: str, root: str | None) -> Split:
        arrays, _ = folder_patches(locate(root), patch=patch, sizes=n, seed=seed)
        x = arrays[split]
        return Split(x, torch.full((len(x),), -1, dtype=torch.int64), levels=None)

    return register(
        DatasetInfo(
            name=name,
            description=description
            or f"{patch}x{patch} grey patches of {folder}: DC removed, divided by the training patches' std",
            shape=(1, patch, patch),
            levels=None,
            sizes=n,
            loader=load,
            offline=lambda root: find_folder(folder, root) is not None,
        )
    )


SOURCES: dict[str, tuple[str, int, dict[str, int], int]] = {}  # name -> (folder, patch, sizes, seed)


def patch_source(name: str, root: str | None = None) -> tuple[Path, int, float] | None:
    """(image folder, patch size, scale) of the patch dataset ``name``, None for any other dataset;
    the scale is the constant its patches were divided by (see the module)."""
    if name not in SOURCES:
        return None
    folder, patch, sizes, seed = SOURCES[name]
    found = find_folder(folder, root)
    if found is None:
        raise DatasetUnavailableError(f"dataset {name!r}: image folder {folder!r} not found")
    return found, patch, folder_patches(found, patch=patch, sizes=sizes, seed=seed)[1]


def held_out_images(folder: str | os.PathLike[str]) -> list[Path]:
    """The test images of a patch dataset's folder (``test/``, or the last 10 % of a flat folder)."""
    return _split_folders(Path(folder))["test"]


def patch_data_name(data: str, patch: int | None = None, images: str | None = None) -> str:
    """The dataset ``untaught train --data DATA [--patch N] [--images FOLDER]`` trains on:
    ``patches-N:FOLDER`` (absolute) with ``images``, ``NAME-patches-N`` for ``--data NAME-patches``
    with ``patch``, else ``data`` itself."""
    if patch is not None and not (isinstance(patch, int) and patch >= 1):
        raise ValueError(f"--patch must be an integer >= 1 (pixels); got {patch!r}")
    if images is not None:
        folder = Path(images).expanduser().resolve()
        if not folder.is_dir():
            raise ValueError(f"--images {images!r}: no such folder")
        return f"patches-{patch or 8}:{folder}"
    if patch is None:
        return data
    base = re.fullmatch(r"(.+)-patches(-\d+)?", data)
    if base is None:
        raise ValueError(
            "--patch applies to a patch dataset (e.g. --data bsds500-patches) or to --images FOLDER; "
            f"got --data {data!r}"
        )
    return f"{base.group(1)}-patches" + ("" if patch == 8 else f"-{patch}")


def _resolve(name: str) -> DatasetInfo | None:
    """``patches-N:FOLDER`` and ``NAME-patches[-N]`` (see the module), registered on first use."""
    folder = re.fullmatch(r"patches-(\d+):(/.+)", name)
    if folder is not None:
        return register_patch_folder(name, folder.group(2), patch=int(folder.group(1)))
    named = re.fullmatch(r"([\w.]+)-patches(?:-(\d+))?", name)
    if named is not None and find_folder(named.group(1)) is not None:
        return register_patch_folder(name, named.group(1), patch=int(named.group(2) or 8))
    return None


register_resolver(_resolve)
BSDS500_PATCHES = register_patch_folder(
    "bsds500-patches",
    "bsds500",
    patch=8,
    description="BSDS500 8x8 grey patches, DC removed, / train std 0.08866: 50k/10k/10k from train/val/test photos",
)
BSDS500_PATCHES_16 = register_patch_folder(
    "bsds500-patches-16",
    "bsds500",
    patch=16,
    description="BSDS500 16x16 grey patches, DC removed, / training std: 50k/10k/10k from train/val/test photos",
)

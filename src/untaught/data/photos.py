"""Photographs: a folder of images cut into fixed-size crops, deterministically.

A photo dataset is a folder with ``train/``, ``val/`` and ``test/`` subfolders of image files (any
format Pillow reads), or a flat folder used for evaluation only. Every image becomes crops of
``crop`` x ``crop`` pixels, RGB (3 x crop x crop) or grey (1 x crop x crop), 256 levels:

* training split: ``per_image`` crops at random positions, drawn from a generator seeded by the
  image's index, so the same crops come back on every machine and every run;
* evaluation splits: a centred grid of non-overlapping crops (as many as fit).

Registered here: ``bsds500`` (the 500 photographs of the Berkeley Segmentation Data Set, split
200 / 100 / 200 as published; 128 x 128 RGB crops), ``bsds500-dense`` (the same with 64 training crops
per image, for models that overfit 1,600), ``bsds500-64`` (64 x 64 RGB) and ``kodak``
(the 24 Kodak PhotoCD images, test split only, 128 x 128 RGB grid crops). Other sizes or grey
crops: ``register_photos(name, folder, crop=..., grey=...)``.

A folder is taken from ``$UNTAUGHT_BSDS500_DIR`` / ``$UNTAUGHT_KODAK_DIR`` when set, else looked
for in ``root`` (if given), the dataset cache (``$UNTAUGHT_DATA``) and any ``shared/data/`` folder
above the working directory or the package; else it is downloaded into the cache and checked file by
file (:mod:`.photo_downloads`). Labels are -1 (none).

References:
    Arbelaez, Maire, Fowlkes, Malik. Contour Detection and Hierarchical Image Segmentation.
    IEEE TPAMI 33(5), 2011. (BSDS500)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from .download import DatasetUnavailableError, cache_dir
from .photo_downloads import download_bsds500, download_kodak
from .registry import DatasetInfo, Split, register

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".ppm", ".webp")


def read_image(path: str | os.PathLike[str], grey: bool = False) -> np.ndarray:
    """An image file as uint8 [H, W, 3] (RGB) or [H, W] (grey); a clear error if it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L" if grey else "RGB"))
    except FileNotFoundError:
        raise FileNotFoundError(f"image {str(path)!r} does not exist") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ValueError(
            f"cannot read {str(path)!r} as an image ({e}); expected a JPEG, PNG or other Pillow format"
        ) from None


def image_files(folder: Path) -> list[Path]:
    """The image files of ``folder``, sorted by name (the order fixes the crops)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _search_roots(root: str | None) -> Iterator[Path]:
    if root is not None:
        yield Path(root)
    yield cache_dir()
    here = Path(__file__).resolve()
    for start in (Path.cwd().resolve(), here):
        for parent in (start, *start.parents):
            yield parent / "shared" / "data"


def folder_variable(folder: str) -> str:
    """The environment variable that points at a photo folder, e.g. ``UNTAUGHT_BSDS500_DIR``."""
    return f"UNTAUGHT_{folder.upper().replace('-', '_')}_DIR"


def find_folder(folder: str, root: str | None = None) -> Path | None:
    """``$UNTAUGHT_<FOLDER>_DIR`` if set, else the first ``<search root>/<folder>`` that exists
    (see the module docstring), or None."""
    if os.environ.get(folder_variable(folder)):
        given = Path(os.environ[folder_variable(folder)]).expanduser()
        if not given.is_dir():
            raise DatasetUnavailableError(f"${folder_variable(folder)} is {str(given)!r}, which is not a folder")
        return given
    for base in _search_roots(root):
        if (base / folder).is_dir():
            return base / folder
    return None


def random_crops(image: np.ndarray, crop: int, count: int, generator: torch.Generator) -> list[np.ndarray]:
    """``count`` crops of ``crop`` x ``crop`` at uniform random positions of ``image`` [H, W, ...]."""
    h, w = image.shape[:2]
    if h < crop or w < crop:
        raise ValueError(f"an image of {w}x{h} pixels is smaller than the crop size {crop}")
    tops = torch.randint(0, h - crop + 1, (count,), generator=generator).tolist()
    lefts = torch.randint(0, w - crop + 1, (count,), generator=generator).tolist()
    return [image[t : t + crop, s : s + crop] for t, s in zip(tops, lefts, strict=True)]


def grid_crops(image: np.ndarray, crop: int) -> list[np.ndarray]:
    """Non-overlapping ``crop`` x ``crop`` crops on a grid centred in ``image``, row by row."""
    h, w = image.shape[:2]
    rows, cols = h // crop, w // crop
    if rows == 0 or cols == 0:
        raise ValueError(f"an image of {w}x{h} pixels is smaller than the crop size {crop}")
    top, left = (h - rows * crop) // 2, (w - cols * crop) // 2
    return [
        image[top + r * crop : top + (r + 1) * crop, left + c * crop : left + (c + 1) * crop]
        for r in range(rows)
        for c in range(cols)
    ]


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` [H, W, ...] shrunk ``factor`` times by averaging ``factor`` x ``factor`` blocks (the
    edge rows and columns that do not fill a block are dropped), rounded back to uint8."""
    if factor == 1:
        return image
    h, w = image.shape[0] // factor * factor, image.shape[1] // factor * factor
    blocks = image[:h, :w].reshape(h // factor, factor, w // factor, factor, *image.shape[2:]).astype(np.float32)
    return np.round(blocks.mean(axis=(1, 3))).astype(np.uint8)


def load_crops(
    folders: Path | list[Path],
    *,
    crop: int,
    grey: bool,
    random: bool,
    per_image: int = 8,
    seed: int = 0,
    shrink: int = 1,
    images: slice = slice(None),
) -> torch.Tensor:
    """Crops of the ``images`` (by name order) of ``folders``, each image first shrunk ``shrink``
    times (:func:`downsample`): uint8 [N, C, crop, crop]."""
    folders = [folders] if isinstance(folders, Path) else folders
    files = [f for folder in folders for f in image_files(folder)][images]
    if not files:
        where = ", ".join(map(str, folders))
        raise DatasetUnavailableError(f"{where} hold no image files ({', '.join(IMAGE_SUFFIXES)})")
    crops: list[np.ndarray] = []
    for index, path in enumerate(files):
        image = downsample(read_image(path, grey), shrink)
        if random:
            crops += random_crops(image, crop, per_image, torch.Generator().manual_seed(seed * 1_000_003 + index))
        else:
            crops += grid_crops(image, crop)
    array = np.stack(crops)
    array = array[:, None] if grey else array.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(array))


def register_photos(
    name: str,
    folder: str,
    *,
    crop: int,
    grey: bool = False,
    per_image: int = 8,
    sizes: dict[str, int],
    description: str,
    evaluation_only: bool = False,
    train_from: tuple[str, ...] = ("train",),
    val_from: str = "val",
    images: dict[str, slice] | None = None,
    shrink: int = 1,
    download: Callable[[Path], Path] | None = None,
) -> DatasetInfo:
    """Register a photo dataset ``name`` read from ``folder`` (a name looked up as in the module
    docstring). ``sizes`` are the crops per split (stated, and checked when loaded).
    ``evaluation_only``: the folder holds the test images directly; train and val are refused.
    ``train_from``: the subfolders whose images give the training crops; ``val_from``: the subfolder
    of the validation crops; ``images``: which images (in name order) a split takes, if not all;
    ``shrink``: every image is first shrunk that many times (2 removes most JPEG artefacts);
    ``download(folder) -> folder``: fetches the images when no local folder is found."""

    def locate(root: str | None) -> Path:
        found = find_folder(folder, root)
        if found is not None:
            return found
        target = cache_dir(root) / folder
        reason = "untaught has no downloader for it"
        if download is not None:
            try:
                return download(target)
            except OSError as e:  # no network, refused, timed out
                reason = f"downloading it failed ({e})"
        places = ", ".join(str(p / folder) for p in list(_search_roots(root))[:3])
        raise DatasetUnavailableError(
            f"dataset {name!r}: folder {folder!r} not found and {reason}; set ${folder_variable(folder)} to "
            f"the folder, or place it at one of: {places}"
            + ("" if evaluation_only else " (with train/, val/ and test/ subfolders of images)")
        )

    def load(split: str, root: str | None) -> Split:
        base = locate(root)
        if evaluation_only and split != "test":
            raise ValueError(f"{name!r} is for evaluation only: it has a test split and no {split!r} split")
        subfolders = {"train": train_from, "val": (val_from,), "test": ("test",)}[split]
        where = [base] if evaluation_only else [base / s for s in subfolders]
        for path in where:
            if not path.is_dir():
                raise DatasetUnavailableError(f"dataset {name!r}: {path} is missing")
        x = load_crops(
            where,
            crop=crop,
            grey=grey,
            random=split == "train",
            per_image=per_image,
            shrink=shrink,
            images=(images or {}).get(split, slice(None)),
        )
        if len(x) != sizes[split]:
            raise RuntimeError(f"dataset {name!r} ({split}): {len(x)} crops from {where}; expected {sizes[split]}")
        return Split(x, torch.full((len(x),), -1, dtype=torch.int64), levels=256)

    return register(
        DatasetInfo(
            name=name,
            description=description,
            shape=(1 if grey else 3, crop, crop),
            levels=256,
            sizes=sizes,
            loader=load,
            offline=lambda root: find_folder(folder, root) is not None,
        )
    )


BSDS500 = register_photos(
    "bsds500",
    "bsds500",
    download=download_bsds500,
    crop=128,
    per_image=8,
    sizes={"train": 1600, "val": 600, "test": 1200},
    description="BSDS500 photographs: 8 random 128x128 RGB crops per training image, grid crops for val/test",
)
BSDS500_DENSE = register_photos(
    "bsds500-dense",
    "bsds500",
    download=download_bsds500,
    crop=128,
    per_image=64,
    sizes={"train": 12800, "val": 600, "test": 1200},
    description="bsds500 with 64 random 128x128 crops per training image (12,800; 630 MB); val/test as bsds500",
)
BSDS500_64 = register_photos(
    "bsds500-64",
    "bsds500",
    download=download_bsds500,
    crop=64,
    per_image=16,
    sizes={"train": 3200, "val": 3500, "test": 7000},
    description="BSDS500 photographs: 16 random 64x64 RGB crops per training image, grid crops for val/test",
)
BSDS500_CODEC = register_photos(
    "bsds500-codec",
    "bsds500",
    download=download_bsds500,
    crop=128,
    per_image=8,
    sizes={"train": 2400, "val": 96, "test": 300},
    description="BSDS500 for codecs: 8 random 128x128 crops per train+val photograph; test photos 1-16 val, 17-66 test",
    train_from=("train", "val"),
    val_from="test",
    images={"val": slice(0, 16), "test": slice(16, 66)},
)
BSDS500_CODEC_HALF = register_photos(
    "bsds500-codec-half",
    "bsds500",
    download=download_bsds500,
    crop=128,
    per_image=8,
    sizes={"train": 2400, "val": 16, "test": 50},
    description="bsds500-codec with every photograph first shrunk 2x (fewer JPEG artefacts): 8 crops per image",
    train_from=("train", "val"),
    val_from="test",
    images={"val": slice(0, 16), "test": slice(16, 66)},
    shrink=2,
)
KODAK = register_photos(
    "kodak",
    "kodak",
    crop=128,
    sizes={"train": 0, "val": 0, "test": 576},
    description="Kodak PhotoCD, 24 images: 128x128 RGB grid crops, evaluation only",
    evaluation_only=True,
    download=download_kodak,
)

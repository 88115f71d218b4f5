"""Downloads of the photograph collections, checked file by file against shipped manifests.

* Kodak: the 24 PNGs of the Kodak PhotoCD set from r0k.us (the usual source). A PNG may be
  re-encoded without changing a pixel, so each image is checked by the SHA-256 of its decoded RGB
  pixels (``manifests/kodak.json``).
* BSDS500: the authors' ``BSR_bsds500.tgz``; its 500 JPEGs (``BSR/BSDS500/data/images/<split>/``)
  are checked by the SHA-256 of their bytes (``manifests/bsds500.json``) before they are moved into
  place, so a changed or damaged archive is refused, not used.

Both write into a folder beside the other datasets (``$UNTAUGHT_DATA/kodak``, ``.../bsds500``) only
after every file checked out.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import tempfile
from pathlib import Path
from urllib.request import urlopen

from .download import TIMEOUT_S, DatasetCorruptError

KODAK_URL = "http://r0k.us/graphics/kodak/kodak/{name}"
BSDS500_URL = "http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz"
BSDS500_MEMBERS = "BSR/BSDS500/data/images/"
MANIFESTS = Path(__file__).parent / "manifests"


def manifest(name: str) -> dict[str, str]:
    """File name (relative to the dataset folder) -> SHA-256, for 'kodak' or 'bsds500'."""
    return json.loads((MANIFESTS / f"{name}.json").read_text())


def pixel_hash(data: bytes) -> str:
    """SHA-256 of an image file's decoded RGB pixels (uint8, row-major)."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return hashlib.sha256(np.asarray(image.convert("RGB")).tobytes()).hexdigest()


def _read(url: str) -> bytes:
    with urlopen(url, timeout=TIMEOUT_S) as response:
        return response.read()


def _install(staging: Path, dest: Path) -> Path:
    """Move a complete, checked ``staging`` folder to ``dest`` in one rename."""
    staging.rename(dest)
    return dest


def download_kodak(dest: Path, url: str = KODAK_URL, files: dict[str, str] | None = None) -> Path:
    """Download the Kodak images into folder ``dest``; ``url`` has a ``{name}`` field."""
    files = files or manifest("kodak")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".kodak-"))  # same file system: one rename
    try:
        for name, digest in sorted(files.items()):
            data = _read(url.format(name=name))
            if pixel_hash(data) != digest:
                raise DatasetCorruptError(f"kodak: {url.format(name=name)} does not have the pixels of {name}")
            (staging / name).write_bytes(data)
        return _install(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def download_bsds500(dest: Path, url: str = BSDS500_URL, files: dict[str, str] | None = None) -> Path:
    """Download the BSDS500 archive and install its 500 checked JPEGs as ``dest/<split>/<name>``."""
    files = files or manifest("bsds500")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".bsds500-"))  # same file system: one rename
    try:
        with tempfile.TemporaryFile() as archive:
            with urlopen(url, timeout=TIMEOUT_S) as response:
                shutil.copyfileobj(response, archive)
            archive.seek(0)
            with tarfile.open(fileobj=archive, mode="r:*") as tar:
                for member in tar:
                    name = member.name.removeprefix(BSDS500_MEMBERS)
                    if name not in files or not member.isfile():
                        continue
                    data = tar.extractfile(member).read()  # type: ignore[union-attr]
                    if hashlib.sha256(data).hexdigest() != files[name]:
                        raise DatasetCorruptError(f"bsds500: {member.name} in {url} is not the published file")
                    (staging / name).parent.mkdir(parents=True, exist_ok=True)
                    (staging / name).write_bytes(data)
        missing = sorted(n for n in files if not (staging / n).is_file())
        if missing:
            raise DatasetCorruptError(f"bsds500: {url} lacks {len(missing)} images, e.g. {missing[0]}")
        return _install(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

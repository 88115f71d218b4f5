"""Photo collections: downloads checked file by file, the folder variable, and the offline error."""

from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from untaught.data import DatasetCorruptError, DatasetUnavailableError, load_split
from untaught.data.photo_downloads import download_bsds500, download_kodak, manifest, pixel_hash


def png(seed: int, size: tuple[int, int] = (140, 130)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_manifests_cover_the_published_collections():
    assert len(manifest("kodak")) == 24 and len(manifest("bsds500")) == 500
    splits = [name.split("/")[0] for name in manifest("bsds500")]
    assert {s: splits.count(s) for s in set(splits)} == {"train": 200, "val": 100, "test": 200}


def test_kodak_images_are_checked_by_their_pixels(tmp_path):
    server = tmp_path / "server"
    server.mkdir()
    files = {}
    for i in range(2):
        data = png(i)
        (server / f"kodim{i:02d}.png").write_bytes(data)
        files[f"kodim{i:02d}.png"] = pixel_hash(data)
    dest = download_kodak(tmp_path / "cache" / "kodak", f"file://{server}/{{name}}", files)
    assert sorted(p.name for p in dest.iterdir()) == sorted(files)
    # a re-encoded file with the same pixels passes; other pixels are refused and nothing is installed
    files["kodim01.png"] = pixel_hash(png(7))
    with pytest.raises(DatasetCorruptError, match=r"does not have the pixels of kodim01\.png"):
        download_kodak(tmp_path / "cache2" / "kodak", f"file://{server}/{{name}}", files)
    assert not (tmp_path / "cache2" / "kodak").exists()


def test_bsds500_archive_members_are_checked(tmp_path):
    archive = tmp_path / "BSR_bsds500.tgz"
    files = {}
    with tarfile.open(archive, "w:gz") as tar:
        for i, name in enumerate(["train/1.jpg", "val/2.jpg", "test/3.jpg"]):
            data = png(i)
            files[name] = hashlib.sha256(data).hexdigest()
            info = tarfile.TarInfo(f"BSR/BSDS500/data/images/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    dest = download_bsds500(tmp_path / "cache" / "bsds500", f"file://{archive}", files)
    assert {str(p.relative_to(dest)) for p in dest.rglob("*.jpg")} == set(files)
    with pytest.raises(DatasetCorruptError, match="lacks 1 images"):
        download_bsds500(tmp_path / "other" / "bsds500", f"file://{archive}", {**files, "test/4.jpg": "0" * 64})


def test_the_folder_variable_and_the_offline_error(tmp_path, monkeypatch):
    from untaught.data import photo_downloads, photos

    folder = tmp_path / "photos"
    folder.mkdir()
    grey = np.full((512, 768, 3), 90, dtype=np.uint8)
    for i in range(24):  # 24 images of 768x512 make the 576 crops the registry states
        Image.fromarray(grey).save(folder / f"kodim{i:02d}.png")
    monkeypatch.setenv("UNTAUGHT_KODAK_DIR", str(folder))
    assert load_split("kodak", "test").x.shape == (576, 3, 128, 128)
    monkeypatch.setenv("UNTAUGHT_KODAK_DIR", str(tmp_path / "missing"))
    with pytest.raises(DatasetUnavailableError, match=r"UNTAUGHT_KODAK_DIR is .* which is not a folder"):
        load_split("kodak", "test")
    # no folder anywhere and no network: the error names the variable, the places and the reason
    monkeypatch.delenv("UNTAUGHT_KODAK_DIR")
    monkeypatch.setattr(photos, "_search_roots", lambda root: iter([tmp_path / "cache"]))
    monkeypatch.setenv("UNTAUGHT_DATA", str(tmp_path / "cache"))

    def offline(url):
        raise OSError("network unreachable")

    monkeypatch.setattr(photo_downloads, "_read", offline)
    with pytest.raises(DatasetUnavailableError, match=r"downloading it failed \(network unreachable\); set \$UNTAUGHT"):
        load_split("kodak", "test")
    assert not (tmp_path / "cache" / "kodak").exists()

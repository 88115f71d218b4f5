from __future__ import annotations

import hashlib
import io
from pathlib import Path
from urllib.error import URLError

import pytest

from untaught.data import DatasetCorruptError, DatasetUnavailableError, download, load_split
from untaught.data.download import Remote, cache_dir, fetch, fetch_all, hash_algorithm

PAYLOAD = b"some dataset bytes\n" * 1000
MD5 = hashlib.md5(PAYLOAD).hexdigest()
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def source(tmp_path: Path) -> str:
    """A file:// URL serving PAYLOAD."""
    path = tmp_path / "server" / "data.bin"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path.as_uri()


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("UNTAUGHT_DATA", str(tmp_path / "env"))
    assert cache_dir(str(tmp_path / "root")) == tmp_path / "root"
    assert cache_dir(None) == tmp_path / "env"
    monkeypatch.delenv("UNTAUGHT_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir(None) == tmp_path / "home" / ".cache" / "untaught"


@pytest.mark.parametrize("digest", [MD5, SHA256], ids=["md5", "sha256"])
def test_fetch_downloads_verifies_and_then_uses_the_cache(source, tmp_path, digest):
    root = tmp_path / "cache"
    path = fetch(source, "toy/data.bin", digest, str(root), dataset="toy")
    assert path == root / "toy" / "data.bin"
    assert path.read_bytes() == PAYLOAD
    assert _leftovers(root / "toy") == ["data.bin"]  # no temp files left behind
    Path(source.removeprefix("file://")).unlink()  # the source is gone: the cache must serve
    assert fetch(source, "toy/data.bin", digest, str(root), dataset="toy") == path


def test_fetch_rejects_a_download_with_the_wrong_hash(source, tmp_path):
    root = tmp_path / "cache"
    wrong = "0" * 32
    with pytest.raises(DatasetCorruptError) as info:
        fetch(source, "toy/data.bin", wrong, str(root), dataset="toy")
    message = str(info.value)
    assert "data.bin" in message and wrong in message and MD5 in message
    assert _leftovers(root / "toy") == []  # the bad temp file was deleted


def test_fetch_rejects_a_cached_file_with_the_wrong_hash(source, tmp_path):
    cached = tmp_path / "cache" / "toy" / "data.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not the data")
    with pytest.raises(DatasetCorruptError) as info:
        fetch(source, "toy/data.bin", MD5, str(tmp_path / "cache"), dataset="toy")
    message = str(info.value)
    assert str(cached) in message and MD5 in message
    assert hashlib.md5(b"not the data").hexdigest() in message


def test_offline_error_says_what_to_place_where(monkeypatch, tmp_path):
    def fail(url, timeout):
        raise URLError("no route to host")

    monkeypatch.setattr(download, "urlopen", fail)
    url = "https://example.invalid/data.bin"
    with pytest.raises(DatasetUnavailableError) as info:
        fetch(url, "toy/data.bin", SHA256, str(tmp_path / "cache"), dataset="toy")
    message = str(info.value)
    for part in ("'toy'", url, "no route to host", str(tmp_path / "cache" / "toy" / "data.bin")):
        assert part in message
    assert f"sha256 {SHA256}" in message
    assert _leftovers(tmp_path / "cache" / "toy") == []


def test_interrupted_download_leaves_no_partial_file(monkeypatch, tmp_path):
    class Broken(io.BytesIO):
        def read(self, size=-1):
            if self.tell() > 100:
                raise ConnectionResetError("connection reset by peer")
            return super().read(50)

    monkeypatch.setattr(download, "urlopen", lambda url, timeout: Broken(PAYLOAD))
    with pytest.raises(DatasetUnavailableError, match="connection reset"):
        fetch("https://example.invalid/x", "toy/data.bin", MD5, str(tmp_path), dataset="toy")
    assert _leftovers(tmp_path / "toy") == []


def test_fetch_all_stops_at_the_first_failure_and_lists_every_missing_file(monkeypatch, tmp_path):
    calls = []

    def fail(url, timeout):
        calls.append(url)
        raise URLError("offline")

    monkeypatch.setattr(download, "urlopen", fail)
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "b.bin").write_bytes(PAYLOAD)  # already cached: not listed
    remotes = [Remote(f"https://example.invalid/{n}", f"toy/{n}", MD5) for n in "abc"]
    remotes = [Remote(r.url + ".bin", r.filename + ".bin", r.digest) for r in remotes]
    with pytest.raises(DatasetUnavailableError) as info:
        fetch_all("toy", remotes, str(tmp_path))
    message = str(info.value)
    assert calls == ["https://example.invalid/a.bin"]
    assert str(tmp_path / "toy" / "a.bin") in message and str(tmp_path / "toy" / "c.bin") in message
    assert str(tmp_path / "toy" / "b.bin") not in message


def test_hash_algorithm_validates_the_digest():
    assert hash_algorithm(MD5) == "md5" and hash_algorithm(SHA256) == "sha256"
    with pytest.raises(ValueError, match=r"md5 \(32 hex digits\) or sha256"):
        hash_algorithm("abc")


def test_loading_mnist_offline_names_the_files_to_place(tmp_path):
    with pytest.raises(DatasetUnavailableError) as info:
        load_split("mnist", "test", root=str(tmp_path))
    message = str(info.value)
    assert str(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz") in message
    assert "9fb629c4189551a2d022fa330f9573f3" in message
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in message

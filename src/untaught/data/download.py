"""One cache directory for dataset files, and verified, atomic downloads into it.

Every file is pinned by an md5 (32 hex digits) or sha256 (64 hex digits). A file is only ever
moved into the cache after its hash matched, so the cache never holds a half-written file. When
the network is unreachable the error says exactly which file to place where, so an offline user
can copy it in by hand.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

TIMEOUT_S = 30.0
_CHUNK = 1 << 20


class DatasetUnavailableError(RuntimeError):
    """A dataset file is neither cached nor downloadable (e.g. no network)."""


class DatasetCorruptError(ValueError):
    """A dataset file exists but is wrong: hash mismatch, truncated or malformed."""


@dataclass(frozen=True)
class Remote:
    """A file to fetch: ``url``, its ``filename`` relative to the cache dir, and its hash."""

    url: str
    filename: str
    digest: str


def cache_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """The dataset cache: ``root`` if given, else ``$UNTAUGHT_DATA``, else ``~/.cache/untaught``."""
    if root is None:
        root = os.environ.get("UNTAUGHT_DATA") or Path.home() / ".cache" / "untaught"
    return Path(root).expanduser()


def hash_algorithm(digest: str) -> str:
    """'md5' for a 32-hex-digit digest, 'sha256' for a 64-hex-digit one."""
    algorithm = {32: "md5", 64: "sha256"}.get(len(digest))
    if algorithm is None or any(c not in "0123456789abcdefABCDEF" for c in digest):
        raise ValueError(f"digest must be an md5 (32 hex digits) or sha256 (64 hex digits); got {digest!r}")
    return algorithm


def file_hash(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of the file at ``path``, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, digest: str, what: str = "file") -> None:
    """Raise :class:`DatasetCorruptError` unless the file at ``path`` has hash ``digest``."""
    algorithm = hash_algorithm(digest)
    actual = file_hash(path, algorithm)
    if actual != digest.lower():
        raise DatasetCorruptError(f"{what} {path} has {algorithm} {actual}; expected {digest.lower()}")


def is_cached(filename: str, root: str | None = None) -> bool:
    """Whether ``filename`` (relative to the cache dir) exists; its hash is not checked."""
    return (cache_dir(root) / filename).is_file()


def _placement(remote: Remote, root: str | None) -> str:
    algorithm = hash_algorithm(remote.digest)
    path = cache_dir(root) / remote.filename
    return f"  {path}\n    from {remote.url}\n    {algorithm} {remote.digest.lower()}"


def _unavailable(dataset: str, failed: Remote, reason: str, missing: list[Remote], root) -> str:
    return (
        f"dataset {dataset!r} is not available offline and downloading {failed.url} failed: "
        f"{reason}.\nTo use it without network, get these files elsewhere and place them at:\n"
        + "\n".join(_placement(r, root) for r in missing)
        + "\n(or pass root= / set UNTAUGHT_DATA to a directory that holds them)."
    )


def _reason(error: BaseException) -> str:
    if isinstance(error, HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, URLError):
        return str(error.reason)
    return f"{type(error).__name__}: {error}"


def fetch(
    url: str,
    filename: str,
    md5_or_sha256: str,
    root: str | None = None,
    *,
    dataset: str = "?",
) -> Path:
    """Path of ``filename`` in the cache, downloading it from ``url`` if it is not there yet.

    ``filename`` is relative to :func:`cache_dir` (sub-folders allowed). A cached file is used
    only if its hash matches; a mismatch raises :class:`DatasetCorruptError` (delete or replace
    the file). A download goes to a temporary file beside the target, is verified, then
    atomically renamed into place. A network failure raises :class:`DatasetUnavailableError`
    naming ``dataset``, the URL, the reason and the full path and hash to place the file at.
    """
    remote = Remote(url, filename, md5_or_sha256)
    hash_algorithm(md5_or_sha256)
    dest = cache_dir(root) / filename
    if dest.is_file():
        verify(dest, md5_or_sha256, what=f"cached {dataset!r} file")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urlopen(url, timeout=TIMEOUT_S) as response:
                    shutil.copyfileobj(response, out, _CHUNK)
            except (OSError, HTTPException, ValueError) as e:
                raise DatasetUnavailableError(_unavailable(dataset, remote, _reason(e), [remote], root)) from e
        verify(tmp, md5_or_sha256, what=f"downloaded {dataset!r} file (from {url})")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def fetch_all(dataset: str, remotes: list[Remote], root: str | None = None) -> list[Path]:
    """:func:`fetch` every file of ``dataset``; on a network failure, name all missing files.

    After the first failed download no further download is tried (so an offline machine fails
    fast); the error lists every file that is still missing with its path and hash.
    """
    paths: list[Path] = []
    failure: tuple[Remote, str] | None = None
    missing: list[Remote] = []
    for remote in remotes:
        if failure is not None and not is_cached(remote.filename, root):
            missing.append(remote)
            continue
        try:
            paths.append(fetch(remote.url, remote.filename, remote.digest, root, dataset=dataset))
        except DatasetUnavailableError as e:
            failure = (remote, _reason(e.__cause__) if e.__cause__ else str(e))
            missing.append(remote)
    if failure is not None:
        raise DatasetUnavailableError(_unavailable(dataset, *failure, missing, root))
    return paths

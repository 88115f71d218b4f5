"""Keep dataset tests hermetic: no network, and a throwaway cache directory."""

from __future__ import annotations

import urllib.request
from urllib.error import URLError

import pytest

from untaught.data import download


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Only file:// URLs may be opened; the default cache points at an empty temp dir."""

    def local_only(url: str, *args, **kwargs):
        if not url.startswith("file:"):
            raise URLError(f"network disabled in tests: {url}")
        return urllib.request.urlopen(url, *args, **kwargs)

    monkeypatch.setattr(download, "urlopen", local_only)
    monkeypatch.setenv("UNTAUGHT_DATA", str(tmp_path_factory.mktemp("default-cache")))

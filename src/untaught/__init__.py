"""untaught: deep unsupervised learning on PyTorch.

``untaught.train(model, "digits", epochs=5)`` trains any registered model; see ``untaught.models``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .training import Run


def train(model: Any, data: Any = "digits", **options: Any) -> Run:
    """Train ``model`` on ``data``; see :func:`untaught.training.train`."""
    from .training import train as _train

    return _train(model, data, **options)


def resume(path: Any, **overrides: Any) -> Run:
    """Continue a run from its folder; see :func:`untaught.training.resume`."""
    from .training import resume as _resume

    return _resume(path, **overrides)

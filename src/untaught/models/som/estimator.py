"""The self-organising map as a scikit-learn estimator: ``fit`` / ``transform`` / ``predict``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .som import SOM, SOMConfig, decay_steps_for


class SOMEstimator(TransformerMixin, BaseEstimator):
    """Self-organising map (scikit-learn API), trained by the batch map or Kohonen's online rule.

    Parameters
    ----------
    n_rows, n_cols : int, default=10
        Grid size.
    topology : {"rectangular", "hexagonal"}, default="rectangular"
    neighbourhood : {"gaussian", "bubble", "mexican-hat"}, default="gaussian"
        ("mexican-hat" with ``mode="online"`` only).
    metric : {"euclidean", "cosine"}, default="euclidean"
        Similarity that chooses the best-matching unit.
    mode : {"batch", "online"}, default="batch"
    sigma_start : float or None, default=None
        Initial neighbourhood radius in grid units (None: max(n_rows, n_cols) / 2).
    sigma_end : float, default=1.0
    learning_rate_start, learning_rate_end : float or None, default=None
        (None: 1.0 -> 0.1 for the batch rule, 0.5 -> 0.01 for the online rule)
    decay : {"exponential", "linear", "inverse"}, default="exponential"
        Schedule of the radius and learning rate over the whole fit.
    n_iter : int, default=10
        Passes over the data.
    batch_size : int, default=256
        Examples per update.
    init : {"pca", "random"}, default="pca"
    device : str, default="cpu"
    random_state : int, RandomState instance or None, default=None
        Seeds the minibatch order (and the random initialisation).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_rows * n_cols, n_features)
        Prototypes, unit ``u = row * n_cols + col``.
    n_features_in_ : int
    model_ : untaught.models.som.SOM
        The fitted torch model (U-matrix, hit map, component planes, quality measures).

    ``transform`` gives the grid coordinates (row, col) of each row's best-matching unit,
    ``predict`` its index, ``score`` minus the quantisation error.

    References
    ----------
    Kohonen. Self-Organizing Maps, 3rd ed. Springer 2001.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> som = SOMEstimator(n_rows=8, n_cols=8, n_iter=5, random_state=0).fit(load_digits().data / 16)
    >>> som.transform(load_digits().data[:3] / 16).shape
    (3, 2)
    """

    def __init__(
        self,
        n_rows: int = 10,
        n_cols: int = 10,
        *,
        topology: str = "rectangular",
        neighbourhood: str = "gaussian",
        metric: str = "euclidean",
        mode: str = "batch",
        sigma_start: float | None = None,
        sigma_end: float = 1.0,
        learning_rate_start: float | None = None,
        learning_rate_end: float | None = None,
        decay: str = "exponential",
        n_iter: int = 10,
        batch_size: int = 256,
        init: str = "pca",
        device: str = "cpu",
        random_state: Any = None,
    ) -> None:
        self.n_rows = n_rows
        self.n_cols = n_cols
        self.topology = topology
        self.neighbourhood = neighbourhood
        self.metric = metric
        self.mode = mode
        self.sigma_start = sigma_start
        self.sigma_end = sigma_end
        self.learning_rate_start = learning_rate_start
        self.learning_rate_end = learning_rate_end
        self.decay = decay
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.init = init
        self.device = device
        self.random_state = random_state

    def _vectors(self, X: Any, *, reset: bool) -> torch.Tensor:
        X = validate_data(self, X, reset=reset, dtype=(np.float64, np.float32))
        return torch.tensor(X, dtype=torch.float64 if X.dtype == np.float64 else torch.float32, device=self.device)

    def fit(self, X: Any, y: Any = None) -> SOMEstimator:
        """Fit the map to X (n_samples, n_features) in ``n_iter`` passes; returns self."""
        v = self._vectors(X, reset=True)
        for name in ("n_iter", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        steps_per_pass = -(-len(v) // self.batch_size)
        config = SOMConfig(
            shape=(v.shape[1],), levels=None, rows=self.n_rows, cols=self.n_cols, topology=self.topology,
            neighbourhood=self.neighbourhood, metric=self.metric, mode=self.mode, sigma_start=self.sigma_start,
            sigma_end=self.sigma_end, lr_start=self.learning_rate_start, lr_end=self.learning_rate_end,
            decay=self.decay, decay_steps=decay_steps_for(self.n_iter, steps_per_pass, self.mode), init=self.init,
        )  # fmt: skip
        self.model_ = SOM(config).to(device=self.device, dtype=v.dtype)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        gen = torch.Generator().manual_seed(seed)
        step = 0
        for _ in range(self.n_iter):
            for idx in torch.randperm(len(v), generator=gen).split(self.batch_size):
                self.model_.step_vectors(v[idx.to(v.device)], step=step, generator=gen)
                step += 1
        self.n_iter_ = self.n_iter
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Index of each row's best-matching unit: int64 (n_samples,)."""
        check_is_fitted(self)
        return self.model_.best_units(self._vectors(X, reset=False))[:, 0].cpu().numpy()

    def transform(self, X: Any) -> np.ndarray:
        """Grid coordinates (row, col) of each row's best-matching unit: (n_samples, 2)."""
        u = self.predict(X)
        return np.stack([u // self.n_cols, u % self.n_cols], 1).astype(np.float64)

    def score(self, X: Any, y: Any = None) -> float:
        """Minus the quantisation error of X (higher is better)."""
        check_is_fitted(self)
        return -self.model_.quantisation_error(self._vectors(X, reset=False).to(self.model_.weight.dtype))

    def topographic_error(self, X: Any) -> float:
        """Fraction of rows whose two best units are not adjacent on the grid."""
        check_is_fitted(self)
        return self.model_.topographic_error(self._vectors(X, reset=False).to(self.model_.weight.dtype))

    @property
    def cluster_centers_(self) -> np.ndarray:
        check_is_fitted(self)
        return self.model_.weight.detach().cpu().numpy()

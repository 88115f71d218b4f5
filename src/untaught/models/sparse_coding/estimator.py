"""Sparse coding as scikit-learn estimators that drop into a ``Pipeline``.

* :class:`DictionaryLearner`: learns a dictionary (``fit`` / ``partial_fit``), codes new data
  (``transform``) and reconstructs from codes (``inverse_transform``). Training is the same online
  or full-batch step as :class:`~.dictionary.SparseCoding`'s ``update``; the fitted torch model is
  ``model_``.
* :class:`LassoCoder`: codes data over a fixed, given dictionary (``transform``) by the exact
  homotopy (default) or FISTA.

Both minimise ½‖x − zD‖² + λ‖z‖₁ per row (λ = ``alpha``, the same scaling as scikit-learn's
``MiniBatchDictionaryLearning`` and ``SparseCoder``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .dictionary import SparseCoding, SparseCodingConfig, normalize_rows
from .homotopy import homotopy
from .solvers import fista

SOLVERS = {"homotopy": homotopy, "fista": fista}


def _as_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64 if x.dtype == np.float64 else torch.float32)


class DictionaryLearner(TransformerMixin, BaseEstimator):
    """Dictionary learning for sparse coding (Mairal et al. 2009 online, or full-batch alternation).

    Parameters
    ----------
    n_components : int, default=100
        Number of atoms K.
    alpha : float, default=1.0
        λ, the weight of ‖z‖₁.
    algorithm : {"online", "batch"}, default="online"
        One dictionary step per minibatch, or one alternation per pass.
    batch_size : int, default=256
        Rows per minibatch.
    n_iter : int, default=1
        Passes over the training set.
    positive_code : bool, default=False
        Constrain the codes to be non-negative.
    solver : {"auto", "homotopy", "fista"}, default="auto"
        Lasso solver of every coding (see :class:`~.dictionary.SparseCodingConfig`).
    tol : float, default=1e-4
        The coding's relative tolerance (``stop``: 'objective', 'kkt' or 'gap').
    stop : str, default="objective"
    max_iter : int, default=1000
        FISTA's iteration cap per row.
    device : str, default="cpu"
    random_state : int, RandomState instance or None, default=None
        Seeds the minibatch order.
    verbose : int, default=0
        Print the mean objective after every pass when positive.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Unit-norm atoms.
    n_features_in_ : int
    n_iter_ : int
        Passes made so far.
    model_ : untaught.models.sparse_coding.SparseCoding

    References
    ----------
    Mairal, Bach, Ponce, Sapiro. Online dictionary learning for sparse coding. ICML 2009.
    Beck, Teboulle. A fast iterative shrinkage-thresholding algorithm. SIAM J. Imaging Sciences 2009.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.RandomState(0).randn(200, 16)
    >>> dl = DictionaryLearner(n_components=8, alpha=0.5, random_state=0).fit(X)
    >>> dl.transform(X).shape
    (200, 8)
    """

    def __init__(
        self,
        n_components: int = 100,
        *,
        alpha: float = 1.0,
        algorithm: str = "online",
        batch_size: int = 256,
        n_iter: int = 1,
        positive_code: bool = False,
        solver: str = "auto",
        tol: float = 1e-4,
        stop: str = "objective",
        max_iter: int = 1000,
        device: str = "cpu",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.n_components = n_components
        self.alpha = alpha
        self.algorithm = algorithm
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.positive_code = positive_code
        self.solver = solver
        self.tol = tol
        self.stop = stop
        self.max_iter = max_iter
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_x(self, X: Any, *, reset: bool) -> torch.Tensor:
        return _as_tensor(validate_data(self, X, reset=reset, dtype=(np.float64, np.float32))).to(self.device)

    def _start(self, x: torch.Tensor) -> None:
        for name, ok in [
            ("n_components", isinstance(self.n_components, int) and self.n_components >= 1),
            ("batch_size", isinstance(self.batch_size, int) and self.batch_size >= 1),
            ("n_iter", isinstance(self.n_iter, int) and self.n_iter >= 0),
        ]:
            if not ok:
                raise ValueError(f"{name} must be a positive integer; got {getattr(self, name)!r}")
        config = SparseCodingConfig(
            shape=(x.shape[1],),
            levels=None,
            atoms=self.n_components,
            lam=self.alpha,
            algorithm=self.algorithm,
            nonneg=self.positive_code,
            solver=self.solver,
            tol=self.tol,
            stop=self.stop,
            max_iter=self.max_iter,
        )
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self._generator = torch.Generator().manual_seed(seed)
        self.model_ = SparseCoding(config).to(device=self.device, dtype=x.dtype)
        with torch.no_grad():
            d = torch.randn(self.n_components, x.shape[1], generator=self._generator, dtype=x.dtype)
            self.model_.dictionary.copy_(normalize_rows(d).to(self.device))
        self.n_iter_ = 0

    def fit(self, X: Any, y: Any = None) -> DictionaryLearner:
        """Learn the dictionary from X (n_samples, n_features) in ``n_iter`` passes; returns self."""
        x = self._check_x(X, reset=True)
        self._start(x)
        for _ in range(self.n_iter):
            self._epoch(x)
        return self

    def partial_fit(self, X: Any, y: Any = None) -> DictionaryLearner:
        """One pass over X, starting a dictionary first if there is none; returns self."""
        first = not hasattr(self, "model_")
        x = self._check_x(X, reset=first)
        if first:
            self._start(x)
        self._epoch(x)
        return self

    def _epoch(self, x: torch.Tensor) -> None:
        order = torch.randperm(len(x), generator=self._generator).to(x.device)
        objectives = []
        for idx in order.split(self.batch_size):
            metrics = self.model_.step_signals(x[idx], epoch=self.n_iter_)
            objectives.append(metrics["objective"])
        self.n_iter_ += 1
        if self.verbose:
            print(f"[DictionaryLearner] pass {self.n_iter_}: mean objective {np.mean(objectives):.4f}")

    def transform(self, X: Any) -> np.ndarray:
        """Sparse codes of every row: (n_samples, n_components)."""
        check_is_fitted(self)
        x = self._check_x(X, reset=False).to(self.model_.dictionary.dtype)
        with torch.no_grad():
            return self.model_.codes(x).codes.cpu().numpy()

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Reconstructions zD of codes X (n_samples, n_components): (n_samples, n_features)."""
        check_is_fitted(self)
        z = np.asarray(X)
        if z.ndim != 2 or z.shape[1] != self.n_components:
            raise ValueError(f"codes must have shape (n_samples, {self.n_components}); got {z.shape}")
        d = self.model_.dictionary.detach()
        return (torch.as_tensor(z, dtype=d.dtype, device=d.device) @ d).cpu().numpy()

    @property
    def components_(self) -> np.ndarray:
        check_is_fitted(self)
        return self.model_.dictionary.detach().cpu().numpy()


class LassoCoder(TransformerMixin, BaseEstimator):
    """Sparse codes over a fixed dictionary by the exact homotopy or by FISTA.

    Like scikit-learn's ``SparseCoder``, nothing is learned: ``fit`` only checks X against the
    dictionary, and ``transform`` works unfitted (tag ``requires_fit = False``).

    Parameters
    ----------
    dictionary : ndarray of shape (n_components, n_features)
        The atoms (rows); used as given (not normalised).
    alpha : float, default=1.0
        λ, the weight of ‖z‖₁.
    positive_code : bool, default=False
    solver : {"homotopy", "fista"}, default="homotopy"
    tol : float, default=1e-4
        Relative tolerance of ``stop`` ('gap' certifies the objective to within ``tol``).
    stop : str, default="gap"
    transform_max_iter : int, default=1000
        FISTA's iteration cap per row (FISTA also finishes the rows the homotopy cannot certify).

    Attributes
    ----------
    n_features_in_ : int
    """

    def __init__(
        self,
        dictionary: Any,
        *,
        alpha: float = 1.0,
        positive_code: bool = False,
        solver: str = "homotopy",
        tol: float = 1e-4,
        stop: str = "gap",
        transform_max_iter: int = 1000,
    ) -> None:
        self.dictionary = dictionary
        self.alpha = alpha
        self.positive_code = positive_code
        self.solver = solver
        self.tol = tol
        self.stop = stop
        self.transform_max_iter = transform_max_iter

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _atoms(self, n_features: int) -> np.ndarray:
        """The dictionary as float64 [K, n_features], checked."""
        d = np.asarray(self.dictionary, dtype=np.float64)
        if d.ndim != 2 or d.shape[1] != n_features:
            raise ValueError(
                f"dictionary must have shape (n_components, {n_features}) to code X with {n_features} "
                f"features; got {d.shape}"
            )
        if not np.isfinite(d).all():
            raise ValueError("dictionary must be finite; it holds NaN or infinite values")
        return d

    def fit(self, X: Any, y: Any = None) -> LassoCoder:
        """Check X against the dictionary (nothing is learned); returns self."""
        x = validate_data(self, X, reset=True, dtype=(np.float64, np.float32))
        self._atoms(x.shape[1])
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Codes of every row: (n_samples, n_components), in the dtype of X (float32 or float64)."""
        x = _as_tensor(validate_data(self, X, reset=False, dtype=(np.float64, np.float32)))
        d = torch.as_tensor(self._atoms(x.shape[1]), dtype=x.dtype)
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {tuple(SOLVERS)}; got {self.solver!r}")
        with torch.no_grad():
            r = SOLVERS[self.solver](
                x, d, self.alpha, tol=self.tol, stop=self.stop, max_iter=self.transform_max_iter,
                nonneg=self.positive_code,
            )  # fmt: skip
        return r.codes.numpy()

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Reconstructions zD of codes X (n_samples, n_components): (n_samples, n_features)."""
        z = np.asarray(X)
        d = np.asarray(self.dictionary, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != d.shape[0]:
            raise ValueError(f"codes must have shape (n_samples, {d.shape[0]}); got {z.shape}")
        return z @ d

"""The binary RBM as a scikit-learn estimator: ``fit`` / ``partial_fit`` / ``transform`` / ``score_samples``.

It drops into a ``Pipeline`` (e.g. RBM features before a logistic regression) and passes
scikit-learn's estimator checks. Training is the same CD-k / PCD-k step as :class:`~.rbm.RBM`'s
``update``; the fitted torch model is ``model_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .rbm import RBM, RBMConfig


class RBMEstimator(TransformerMixin, BaseEstimator):
    """Binary restricted Boltzmann machine trained by CD-k or persistent CD (scikit-learn API).

    Parameters
    ----------
    n_components : int, default=256
        Number of hidden units.
    learning_rate : float, default=0.05
        SGD step on the minibatch mean gradient.
    batch_size : int, default=64
        Examples per update.
    n_iter : int, default=10
        Passes over the training set.
    k : int, default=1
        Gibbs steps per update.
    persistent : bool, default=True
        Persistent chains (PCD) rather than chains restarted at the data (CD).
    n_chains : int, default=100
        Number of persistent chains.
    momentum : float, default=0.5
        Momentum of the parameter velocity.
    weight_cost : float, default=0.0
        L2 penalty on the weights.
    sparsity_target : float or None, default=None
        Desired mean activity of each hidden unit.
    ais_chains, ais_betas : int, default=100, 1000
        Annealed importance sampling runs and temperatures for ``score_samples`` when the model is
        too large to enumerate (2^min(n_features, n_components) > 2^20).
    device : str, default="cpu"
        Torch device of the model ("cuda" for a GPU).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the minibatch order and the Gibbs chains.
    verbose : int, default=0
        Print the free-energy gap after every pass when positive.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Weights (one row per hidden unit).
    intercept_hidden_ : ndarray of shape (n_components,)
    intercept_visible_ : ndarray of shape (n_features,)
    n_features_in_ : int
    n_iter_ : int
        Passes made so far.
    model_ : untaught.models.boltzmann.RBM
        The fitted torch model.

    Notes
    -----
    ``X`` should hold binary data or probabilities in [0, 1] (used as mean-field visible values);
    like scikit-learn's BernoulliRBM, other finite values are accepted as they are, outside the
    model's domain. ``score_samples`` is the log-likelihood ``-F(x) - log Z`` in
    nats: exact for small models, an AIS estimate otherwise (for fractional rows it is the same
    expression, no longer a probability). ``transform`` gives ``p(h = 1 | x)``.

    References
    ----------
    Hinton. Training products of experts by minimizing contrastive divergence. Neural Computation 2002.
    Tieleman. Training RBMs using approximations to the likelihood gradient. ICML 2008.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X = load_digits().data / 16
    >>> rbm = RBMEstimator(n_components=32, n_iter=2, random_state=0).fit(X)
    >>> rbm.transform(X).shape
    (1797, 32)
    """

    def __init__(
        self,
        n_components: int = 256,
        *,
        learning_rate: float = 0.05,
        batch_size: int = 64,
        n_iter: int = 10,
        k: int = 1,
        persistent: bool = True,
        n_chains: int = 100,
        momentum: float = 0.5,
        weight_cost: float = 0.0,
        sparsity_target: float | None = None,
        ais_chains: int = 100,
        ais_betas: int = 1000,
        device: str = "cpu",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.k = k
        self.persistent = persistent
        self.n_chains = n_chains
        self.momentum = momentum
        self.weight_cost = weight_cost
        self.sparsity_target = sparsity_target
        self.ais_chains = ais_chains
        self.ais_betas = ais_betas
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- input ----------------------------------------------------------------------------------
    def _check_x(self, X: Any, *, reset: bool) -> torch.Tensor:
        X = validate_data(self, X, reset=reset, dtype=(np.float64, np.float32))
        return torch.tensor(X, dtype=torch.float64 if X.dtype == np.float64 else torch.float32)

    def _new_model(self, n_features: int, dtype: torch.dtype, generator: torch.Generator) -> RBM:
        for name, value, ok in [
            ("n_components", self.n_components, isinstance(self.n_components, int) and self.n_components >= 1),
            ("batch_size", self.batch_size, isinstance(self.batch_size, int) and self.batch_size >= 1),
            ("n_iter", self.n_iter, isinstance(self.n_iter, int) and self.n_iter >= 0),
        ]:
            if not ok:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        config = RBMConfig(
            shape=(n_features,),
            levels=2,
            hidden=self.n_components,
            k=self.k,
            persistent=self.persistent,
            chains=self.n_chains,
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            momentum_start=self.momentum,
            weight_cost=self.weight_cost,
            sparsity_target=self.sparsity_target,
            ais_chains=self.ais_chains,
            ais_betas=self.ais_betas,
        )
        model = RBM(config).to(device=self.device, dtype=dtype)
        with torch.no_grad():
            model.weight.copy_(torch.randn(model.weight.shape, generator=generator, dtype=dtype) * config.init_std)
        return model

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> RBMEstimator:
        """Fit the RBM to X (n_samples, n_features) by ``n_iter`` passes of CD / PCD; returns self."""
        x = self._check_x(X, reset=True)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self._generator = torch.Generator().manual_seed(seed)
        self.model_ = self._new_model(x.shape[1], x.dtype, self._generator)
        self.n_iter_ = 0
        self._steps = 0
        for _ in range(self.n_iter):
            self._epoch(x)
        return self

    def partial_fit(self, X: Any, y: Any = None) -> RBMEstimator:
        """One pass of CD / PCD over X, starting a model first if there is none; returns self."""
        first = not hasattr(self, "model_")
        x = self._check_x(X, reset=first)
        if first:
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            self._generator = torch.Generator().manual_seed(seed)
            self.model_ = self._new_model(x.shape[1], x.dtype, self._generator)
            self.n_iter_, self._steps = 0, 0
        self._epoch(x)
        return self

    def _epoch(self, x: torch.Tensor) -> None:
        order = torch.randperm(len(x), generator=self._generator)
        gaps = []
        for idx in order.split(self.batch_size):
            batch = x[idx].to(self.device)
            metrics = self.model_.step_visible(batch, step=self._steps, generator=self._generator)
            gaps.append(metrics["free_energy_gap"])
            self._steps += 1
        self.n_iter_ += 1
        if self.verbose:
            print(f"[RBMEstimator] pass {self.n_iter_}: mean free-energy gap {np.mean(gaps):.4f} nats")

    # -- using the fitted model ---------------------------------------------------------------------
    def transform(self, X: Any) -> np.ndarray:
        """p(h = 1 | x) for every row: (n_samples, n_components)."""
        check_is_fitted(self)
        x = self._check_x(X, reset=False).to(self.device)
        with torch.no_grad():
            return self.model_.hidden_probs(x.to(self.model_.weight.dtype)).cpu().numpy()

    def score_samples(self, X: Any) -> np.ndarray:
        """log p(x) = -F(x) - log Z in nats for every row (n_samples,); see the class notes."""
        check_is_fitted(self)
        x = self._check_x(X, reset=False).to(self.device)
        with torch.no_grad():
            free = self.model_.free_energy(x.to(self.model_.weight.dtype))
            return (-free - self.model_._cached_log_z()).cpu().numpy()

    def gibbs(self, X: Any) -> np.ndarray:
        """One block-Gibbs step v -> h -> v from every row: binary (n_samples, n_features)."""
        check_is_fitted(self)
        x = self._check_x(X, reset=False).to(self.device)
        with torch.no_grad():
            return self.model_.gibbs(x.to(self.model_.weight.dtype), 1, self._generator).cpu().numpy()

    @property
    def components_(self) -> np.ndarray:
        check_is_fitted(self)
        return self.model_.weight.detach().T.cpu().numpy()

    @property
    def intercept_hidden_(self) -> np.ndarray:
        check_is_fitted(self)
        return self.model_.hidden_bias.detach().cpu().numpy()

    @property
    def intercept_visible_(self) -> np.ndarray:
        check_is_fitted(self)
        return self.model_.visible_bias.detach().cpu().numpy()

"""Sparse coding: batched ISTA / FISTA lasso solvers, dictionary learning (online and full-batch),
predictive sparse decomposition, and scikit-learn estimators."""

from .dictionary import SparseCoding, SparseCodingConfig, dictionary_step
from .estimator import DictionaryLearner, LassoCoder
from .psd import PSD, PSDConfig
from .solvers import LassoResult, fista, ista, kkt_residual, lasso_objective

__all__ = [
    "PSD",
    "DictionaryLearner",
    "LassoCoder",
    "LassoResult",
    "PSDConfig",
    "SparseCoding",
    "SparseCodingConfig",
    "dictionary_step",
    "fista",
    "ista",
    "kkt_residual",
    "lasso_objective",
]

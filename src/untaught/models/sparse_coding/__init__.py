"""Sparse coding: batched exact (homotopy) and ISTA / FISTA lasso solvers, dictionary learning (online and full-batch),
predictive sparse decomposition, and scikit-learn estimators."""

from .dictionary import SparseCoding, SparseCodingConfig, dictionary_step
from .estimator import DictionaryLearner, LassoCoder
from .homotopy import homotopy
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
    "homotopy",
    "ista",
    "kkt_residual",
    "lasso_objective",
]

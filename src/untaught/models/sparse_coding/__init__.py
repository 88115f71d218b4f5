"""Sparse coding: batched ISTA / FISTA lasso solvers, dictionary learning (online and full-batch),
predictive sparse decomposition, and scikit-learn estimators."""

from .dictionary import SparseCoding, SparseCodingConfig, dictionary_step
from .solvers import LassoResult, fista, ista, kkt_residual, lasso_objective

__all__ = [
    "LassoResult",
    "SparseCoding",
    "SparseCodingConfig",
    "dictionary_step",
    "fista",
    "ista",
    "kkt_residual",
    "lasso_objective",
]

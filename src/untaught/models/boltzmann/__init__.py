"""Boltzmann machines: binary and Gaussian-Bernoulli RBMs (CD-k, PCD), partition functions (exact, AIS),
scikit-learn estimator."""

from .ais import (
    LogPartition,
    ais_gaussian_log_partition,
    ais_log_partition,
    beta_schedule,
    exact_gaussian_log_partition,
    exact_log_partition,
)
from .gaussian import GaussianRBM, GaussianRBMConfig
from .rbm import RBM, RBMConfig

__all__ = [
    "RBM",
    "GaussianRBM",
    "GaussianRBMConfig",
    "LogPartition",
    "RBMConfig",
    "ais_gaussian_log_partition",
    "ais_log_partition",
    "beta_schedule",
    "exact_gaussian_log_partition",
    "exact_log_partition",
]

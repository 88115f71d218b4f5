"""Boltzmann machines: binary, Gaussian-Bernoulli and replicated-softmax RBMs (CD-k, PCD), the deep
Boltzmann machine, the fully connected Boltzmann machine, partition functions (exact, AIS); the
scikit-learn estimator is in ``.estimator``."""

from .ais import (
    LogPartition,
    ais_gaussian_log_partition,
    ais_log_partition,
    beta_schedule,
    exact_gaussian_log_partition,
    exact_log_partition,
)
from .dbm import DBM, DBMConfig
from .full import FullBM, FullBMConfig
from .gaussian import GaussianRBM, GaussianRBMConfig
from .rbm import RBM, RBMConfig
from .replicated import ReplicatedSoftmax, ReplicatedSoftmaxConfig

__all__ = [
    "DBM",
    "RBM",
    "DBMConfig",
    "FullBM",
    "FullBMConfig",
    "GaussianRBM",
    "GaussianRBMConfig",
    "LogPartition",
    "RBMConfig",
    "ReplicatedSoftmax",
    "ReplicatedSoftmaxConfig",
    "ais_gaussian_log_partition",
    "ais_log_partition",
    "beta_schedule",
    "exact_gaussian_log_partition",
    "exact_log_partition",
]

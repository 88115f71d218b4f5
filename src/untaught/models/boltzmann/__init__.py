"""Boltzmann machines: binary RBM (CD-k, PCD), partition functions (exact, AIS), scikit-learn estimator."""

from .ais import LogPartition, ais_log_partition, beta_schedule, exact_log_partition
from .rbm import RBM, RBMConfig

__all__ = ["RBM", "LogPartition", "RBMConfig", "ais_log_partition", "beta_schedule", "exact_log_partition"]

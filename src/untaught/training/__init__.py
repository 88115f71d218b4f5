"""Training: the Lightning engine that drives every model through its protocol."""

from .data import TrainingData, prepare, run_data
from .engine import Run, TrainConfig, resume, train

__all__ = ["Run", "TrainConfig", "TrainingData", "prepare", "resume", "run_data", "train"]

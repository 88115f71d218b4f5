"""Model families. ``from untaught.models import MADE``."""

from .autoregressive import MADE, MADEConfig
from .base import Model, ModelConfig

__all__ = ["MADE", "MADEConfig", "Model", "ModelConfig"]

"""Autoregressive density models."""

from .made import MADE, MADEConfig

__all__ = ["MADE", "MADEConfig"]

"""Shared layers."""

from .masked import MaskedLinear

__all__ = ["MaskedLinear"]

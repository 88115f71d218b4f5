"""Shared layers."""

from .masked import MaskedLinear, made_degrees, made_masks

__all__ = ["MaskedLinear", "made_degrees", "made_masks"]

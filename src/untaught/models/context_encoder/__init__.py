"""Context encoders: inpainting by an encoder-decoder trained with masked L2 and an adversarial loss."""

from .masks import MASKS, make_masks
from .model import ContextEncoder, ContextEncoderConfig

__all__ = ["MASKS", "ContextEncoder", "ContextEncoderConfig", "make_masks"]

"""Learned image compression: codecs that write real files (``.utk``), and their evaluation."""

from .codec import Codec, CodecConfig, FactorizedPriorCodec, MeanScaleHyperpriorCodec, ScaleHyperpriorCodec
from .container import CodecFileError

__all__ = [
    "Codec",
    "CodecConfig",
    "CodecFileError",
    "FactorizedPriorCodec",
    "MeanScaleHyperpriorCodec",
    "ScaleHyperpriorCodec",
]

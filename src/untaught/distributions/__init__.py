"""Likelihoods shared by the models: Bernoulli and categorical (``discrete``)."""

from . import discrete

__all__ = ["discrete"]

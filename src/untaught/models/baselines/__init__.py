"""Classical density baselines: histograms and maximum-likelihood Gaussians (one or a mixture by EM).

They train through the same engine as every other model, by ``update`` (closed-form statistics
accumulated batch by batch, or one EM iteration per epoch), so that they appear in every comparison:

* :class:`PixelHistogram` (``pixel-histogram``): every pixel an independent categorical, the
  independent-pixel baseline of image density models.
* :class:`Histogram` (``histogram``): a binned histogram of 1-D or 2-D continuous data, bin width by
  Scott's rule.
* :class:`Gaussian` (``gaussian``) and :class:`GaussianMixture` (``gmm``, EM) for continuous data.
"""

from .gaussian import Gaussian, GaussianConfig, GaussianMixture, GaussianMixtureConfig
from .histogram import Histogram, HistogramConfig, PixelHistogram, PixelHistogramConfig

__all__ = [
    "Gaussian",
    "GaussianConfig",
    "GaussianMixture",
    "GaussianMixtureConfig",
    "Histogram",
    "HistogramConfig",
    "PixelHistogram",
    "PixelHistogramConfig",
]

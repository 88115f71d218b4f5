"""Hierarchical autoregressive image model with auxiliary decoders (De Fauw, Dieleman & Simonyan 2019).

L levels of discrete codes over an image ``x = c_0`` [C, H, W], each ``f`` times smaller than the one
below (f = ``factor``), with K_l values per position (``codes`` = (K_1, ..., K_L)):

    c_l = argmax e_l(c_{l-1})    encoder l: convolutions, an f x f stride-f convolution, K_l logits per
                                 position; int64 [B, 1, H / f^l, W / f^l] in [0, K_l), deterministic
    a_l(c_l)                     auxiliary feed-forward decoder l: the one-hot code -> a factorised
                                 distribution of c_{l-1} (the image's likelihood for l = 1)
    p(c_L)                       prior: a Gated PixelCNN over the top code's K_L values
    p(c_{l-1} | c_l)             decoder l: a Gated PixelCNN over c_{l-1} conditioned on c_l
                                 (:class:`CodeConditionalPixelCNN`)

Training, in one engine run with the phase chosen by the epoch (as ``stacked-ae`` and ``dbm``): in
epochs ``[l E, (l + 1) E)`` (E = ``code_epochs``) encoder l + 1 trains with its auxiliary decoder
on the NLL of c_l given c_{l+1}, through a straight-through Gumbel quantiser (forward: the one-hot
argmax of the logits plus Gumbel noise; backward: the gradient of their softmax), plus ``diversity``
times a penalty on unused code values. The encoders below are frozen, so their codes are fixed, and
the autoregressive decoders 1..l train on them meanwhile. From epoch L E on every code is
fixed, and the decoders and the prior train. The feed-forward auxiliary decoder, not the
autoregressive one, shapes each code: it can only rebuild what the code holds, so the code keeps the
information of the level below (an autoregressive decoder would model local detail by itself and
let the code go unused: the paper's motivation).

Likelihood. The codes are a function of x, so the joint at (x, c(x)) bounds the marginal of the
top-down sampler, p(x) = sum_c p(c_L) prod_l p(c_{l-1} | c_l) >= p(x, c(x)):

    log p(x) >= log p(x | c_1) + sum_{l=2..L} log p(c_{l-1} | c_l) + log p(c_L)     (nats)

``log_prob`` returns this lower bound (``log_prob_kind`` = 'lower bound'; any code would give one,
the encoders' is the one reported), and bits/dim divide it by the image's C H W dimensions.
``sample`` draws top-down: c_L from the prior, then every decoder given the code above, ending in x.

References:
    De Fauw, Dieleman, Simonyan. Hierarchical Autoregressive Image Models with Auxiliary Decoders.
    arXiv 2019. https://arxiv.org/abs/1903.04933
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..base import Model, ModelConfig, check_fields
from .gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig


def one_hot(code: torch.Tensor, values: int, dtype: torch.dtype) -> torch.Tensor:
    """A code [B, 1, h, w] with integers in [0, values) -> one-hot floats [B, values, h, w]."""
    return F.one_hot(code[:, 0].long(), values).permute(0, 3, 1, 2).to(dtype)


@dataclass
class CodeConditionalConfig(GatedPixelCNNConfig):
    """Gated PixelCNN conditioned on a code.

    Attributes:
        code_levels: K, the values of the conditioning code.
        code_factor: f, the code is [1, H / f, W / f] (1: the image's own size).
    """

    code_levels: int = 2
    code_factor: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        _, h, w = self.shape
        checks = [
            ("code_levels", 2 <= self.code_levels <= 256, "an integer in [2, 256]"),
            (
                "code_factor",
                self.code_factor >= 1 and h % self.code_factor == 0 == w % self.code_factor,
                f"an integer >= 1 dividing the image size {h}x{w}",
            ),
            ("lowres", self.lowres == 0, "0 (the model is conditioned on its code only)"),
            ("num_classes", self.num_classes == 0, "0 (the model is conditioned on its code only)"),
        ]
        check_fields(self, checks)


class CodeConditionalPixelCNN(GatedPixelCNN):
    """Gated PixelCNN p(x | c) given a discrete code c, int [B, 1, H / f, W / f] in [0, K).

    The one-hot code, upsampled f times (nearest) and passed through a 3x3 convolution and a ReLU,
    enters every gate through 1x1 convolutions: Gated PixelCNN's image-conditional machinery (as for
    ``lowres``), fed a code instead of a small image. The code is the same for every pixel's
    conditional, so it leaves the autoregressive order intact; the cached sampler applies unchanged.
    ``log_prob(x, code)`` -> [B] nats, exact; ``sample(n, code)`` -> uint8 [n, C, H, W].
    """

    Config = CodeConditionalConfig
    name = "code-conditional-gated-pixelcnn"  # a part of hierarchical-ar, not registered by itself
    description = "Gated PixelCNN conditioned on a discrete code"
    config: CodeConditionalConfig

    def __init__(self, config: CodeConditionalConfig) -> None:
        super().__init__(config)
        self._image_condition_layers(config.code_levels)

    def _image_condition_features(self, code: torch.Tensor) -> torch.Tensor:
        onehot = one_hot(code, self.config.code_levels, self.out.weight.dtype)
        big = F.interpolate(onehot, scale_factor=self.config.code_factor, mode="nearest")
        return F.relu(self.lowres_in(big))

    def _conds(self, y: torch.Tensor | None, code: torch.Tensor | None) -> list:
        if code is None:
            raise ValueError("a code-conditional PixelCNN needs its code: pass condition=(None, code)")
        return super()._conds(y, code)

    def check_code(self, code: torch.Tensor, n: int) -> torch.Tensor:
        """Check that ``code`` holds ``n`` codes, integers [n, 1, H / f, W / f] in [0, K)."""
        _, h, w = self.config.shape
        f, k = self.config.code_factor, self.config.code_levels
        expected = (n, 1, h // f, w // f)
        if (
            tuple(code.shape) != expected
            or code.is_floating_point()
            or (code.numel() and (int(code.min()) < 0 or int(code.max()) >= k))
        ):
            values = f", values in [{int(code.min())}, {int(code.max())}]" if code.numel() else ""
            raise ValueError(
                f"code must be integers of shape {expected} in [0, {k}); got {code.dtype} {tuple(code.shape)}{values}"
            )
        return code.to(self.out.weight.device)

    def loss(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None, code: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Mean NLL of x given its code, nats (and bits/dim as a metric)."""
        return self._loss(x, (None, self.check_code(code, len(x))))

    def log_prob(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Exact log p(x | code) in nats: [B]."""
        return self._log_prob(x, (None, self.check_code(code, len(x))))

    @torch.no_grad()
    def sample(  # type: ignore[override]
        self,
        n: int,
        code: torch.Tensor,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        fast: bool = True,
    ) -> torch.Tensor:
        """``n`` samples of x given their codes [n, 1, H / f, W / f]: uint8 [n, C, H, W]."""
        return self._sample(n, temperature, generator, (None, self.check_code(code, n)), None, 0, fast)


@dataclass
class HierarchicalARConfig(ModelConfig):
    """Hierarchical autoregressive model hyperparameters.

    Attributes:
        codes: K_l, the values of each level's code, bottom level first (one entry per level).
        factor: f, each code is f times smaller than the level below in height and width.
        hidden: channels of the encoders and the auxiliary decoders.
        layers, channels, head, kernel: each Gated PixelCNN's (the prior and every decoder).
        mixtures: 0 for a categorical (or Bernoulli) image likelihood, K > 0 for a mixture of K
            discretized logistics (PixelCNN++'s, for 8-bit images); the codes are categorical.
        code_epochs: epochs of training of each level's encoder with its auxiliary decoder.
        diversity: weight of a code-usage penalty added to the auxiliary NLL: per code position,
            log K - H(the batch's mean code distribution), in nats (wav2vec 2.0's diversity loss,
            Baevski et al. 2020; not in the paper): it keeps a code from collapsing onto a few values.
    """

    shape: tuple[int, ...] = (1, 28, 28)
    levels: int | None = 2
    codes: tuple[int, ...] = (16, 16)
    factor: int = 2
    hidden: int = 32
    layers: int = 4
    channels: int = 32
    head: int = 32
    kernel: int = 5
    mixtures: int = 0
    code_epochs: int = 1
    diversity: float = 0.1

    def __post_init__(self) -> None:
        check_fields(self, [("shape", len(self.shape) == 3, "(C, H, W) images")])
        _, h, w = self.shape
        size = self.factor ** len(self.codes) if self.factor >= 2 else 0
        checks = [
            ("levels", self.levels is not None and self.levels >= 2, "an integer >= 2 (discrete images)"),
            ("codes", len(self.codes) >= 1 and all(2 <= k <= 256 for k in self.codes), "one K in [2, 256] per level"),
            (
                "factor",
                size >= 2 and h % size == 0 == w % size,
                f"an integer >= 2 whose power {len(self.codes)} (the levels) divides the image size {h}x{w}",
            ),
            ("hidden", self.hidden >= 1, "an integer >= 1"),
            ("code_epochs", self.code_epochs >= 1, "an integer >= 1"),
            ("diversity", self.diversity >= 0, "a weight >= 0"),
        ]
        check_fields(self, checks)


def _encoder(in_channels: int, hidden: int, values: int, factor: int) -> nn.Sequential:
    """[B, in, h, w] -> code logits [B, values, h / f, w / f]."""
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(hidden, hidden, factor, stride=factor),
        nn.ReLU(),
        nn.Conv2d(hidden, hidden, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(hidden, values, 1),
    )


def _auxiliary_decoder(values: int, hidden: int, out_channels: int, factor: int) -> nn.Sequential:
    """One-hot code [B, values, h, w] -> parameters [B, out, h f, w f] of the level below."""
    return nn.Sequential(
        nn.Conv2d(values, hidden, 3, padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(hidden, hidden, factor, stride=factor),
        nn.ReLU(),
        nn.Conv2d(hidden, hidden, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(hidden, out_channels, 1),
    )


class HierarchicalAR(Model):
    """Hierarchical autoregressive image model (see the module doc).

    ``codes(x)``: the L codes of images x; ``log_prob(x)``: the lower bound on log p(x) in nats [B]
    (``parts(x)``: its terms); ``auxiliary_nll(x, level)``: how much of the level below a code keeps;
    ``sample(n)``: top-down samples, uint8 [n, C, H, W]; ``encode(x)``: the top code.
    """

    Config = HierarchicalARConfig
    name = "hierarchical-ar"
    description = (
        "Hierarchical AR image model: discrete codes from encoders with auxiliary decoders, Gated PixelCNN "
        "prior and decoders (De Fauw 2019)"
    )
    log_prob_kind = "lower bound"
    config: HierarchicalARConfig

    def __init__(self, config: HierarchicalARConfig) -> None:
        super().__init__(config)
        colors, height, width = config.shape
        f, ks = config.factor, config.codes
        net = dict(layers=config.layers, channels=config.channels, head=config.head, kernel=config.kernel)
        self.encoders, self.auxiliary, self.decoders = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for level, k in enumerate(ks):  # level l + 1 encodes level l (0: the image)
            below = (colors, config.levels) if level == 0 else (1, ks[level - 1])
            decoder = CodeConditionalPixelCNN(
                CodeConditionalConfig(
                    shape=(below[0], height // f**level, width // f**level),
                    levels=below[1],
                    mixtures=config.mixtures if level == 0 else 0,
                    code_levels=k,
                    code_factor=f,
                    **net,
                )
            )
            self.decoders.append(decoder)
            self.encoders.append(_encoder(colors if level == 0 else below[1], config.hidden, k, f))
            self.auxiliary.append(_auxiliary_decoder(k, config.hidden, below[0] * decoder.params_per_dim, f))
        top = (1, height // f ** len(ks), width // f ** len(ks))
        self.prior = GatedPixelCNN(GatedPixelCNNConfig(shape=top, levels=ks[-1], **net))

    @property
    def depth(self) -> int:
        """L, the number of code levels."""
        return len(self.config.codes)

    def phase(self, epoch: int | None) -> int:
        """How many encoders are trained and frozen at ``epoch`` (L when ``epoch`` is None: the
        final phase, whose loss is the NLL bound)."""
        return self.depth if epoch is None else min(epoch // self.config.code_epochs, self.depth)

    # -- codes ---------------------------------------------------------------------------------------
    def _encoder_input(self, level: int, below: torch.Tensor) -> torch.Tensor:
        """Level ``level``'s input: the image scaled to [-1, 1] (level 0) or the one-hot code below."""
        dtype = self.prior.out.weight.dtype
        if level == 0:
            return 2 * below.to(dtype) / (self.config.levels - 1) - 1
        return one_hot(below, self.config.codes[level - 1], dtype)

    def _code(self, level: int, below: torch.Tensor) -> torch.Tensor:
        return self.encoders[level](self._encoder_input(level, below)).argmax(1, keepdim=True)

    @torch.no_grad()
    def codes(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The codes of images x (uint8 [B, C, H, W]): L tensors int64 [B, 1, H / f^l, W / f^l] in
        [0, K_l), bottom first; a deterministic function of x."""
        out = [self.check_data(x)]
        for level in range(self.depth):
            out.append(self._code(level, out[-1]))
        return out[1:]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The top code of images x: int64 [B, 1, H / f^L, W / f^L]."""
        return self.codes(x)[-1]

    def _auxiliary_nll(
        self, level: int, below: torch.Tensor, noise: bool = False, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """NLL in nats [B] of ``below`` (level ``level``: the image or a code) under auxiliary decoder
        ``level`` + 1 given its code, with the straight-through gradient into encoder ``level`` + 1,
        and the code's mean softmax over the batch and positions [K] (its usage).
        ``noise``: Gumbel noise on the logits (training), else the encoder's own (argmax) code."""
        logits = self.encoders[level](self._encoder_input(level, below))
        usage = logits.softmax(1).mean((0, 2, 3))
        if noise:
            u = torch.rand(logits.shape, generator=generator, dtype=logits.dtype).to(logits.device)
            logits = logits - torch.log(-torch.log(u.clamp_min(torch.finfo(u.dtype).tiny)))
        soft = logits.softmax(1)
        hard = one_hot(logits.argmax(1, keepdim=True), logits.shape[1], logits.dtype)
        params = self.auxiliary[level](hard + soft - soft.detach())  # [B, C P, h, w]
        b, _, h, w = params.shape
        params = params.view(b, below.shape[1], -1, h, w).permute(0, 1, 3, 4, 2)  # [B, C, h, w, P]
        decoder = self.decoders[level]
        return -decoder.likelihood.log_prob(params, below, decoder.config.levels).flatten(1).sum(1), usage

    def auxiliary_nll(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """How much of the level below code ``level`` (1..L) keeps: the NLL in nats [B] of code
        ``level`` - 1 (the image for level 1) under auxiliary decoder ``level`` given code ``level``."""
        if not 1 <= level <= self.depth:
            raise ValueError(f"level must be in [1, {self.depth}] (the code levels); got {level}")
        below = self.check_data(x) if level == 1 else self.codes(x)[level - 2]
        return self._auxiliary_nll(level - 1, below)[0]

    # -- likelihood -----------------------------------------------------------------------------------
    def log_joint(self, x: torch.Tensor, codes: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """The terms of log p(x, c_1, ..., c_L) in nats, each [B], for any codes (L tensors
        [B, 1, H / f^l, W / f^l]): 'x|c1', 'c1|c2', ..., and the prior's 'cL'."""
        if len(codes) != self.depth:
            raise ValueError(f"codes must hold {self.depth} tensors (one per level); got {len(codes)}")
        chain = [self.check_data(x), *codes]
        names = ["x", *(f"c{level}" for level in range(1, self.depth + 1))]
        terms = {
            f"{names[level]}|{names[level + 1]}": decoder.log_prob(chain[level], chain[level + 1])
            for level, decoder in enumerate(self.decoders)
        }
        terms[names[-1]] = self.prior.log_prob(codes[-1])
        return terms

    def parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The terms of the bound :meth:`log_prob` at the encoders' codes of x (see :meth:`log_joint`)."""
        return self.log_joint(x, self.codes(x))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Lower bound on log p(x) in nats: log p(x, c(x)), the sum of :meth:`parts`. [B]"""
        return torch.stack(list(self.parts(x).values())).sum(0)

    def loss(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None, epoch: int | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """The objective of ``epoch``'s phase (see the module doc), a sum of mean NLLs in nats over the
        parts that train; without an epoch, the mean negative bound."""
        self.check_data(x)
        frozen = self.phase(epoch)
        with torch.no_grad():
            chain = [x]
            for level in range(frozen):
                chain.append(self._code(level, chain[-1]))
        metrics: dict[str, Any] = {"phase": torch.tensor(float(frozen))}
        total = x.new_zeros((), dtype=self.prior.out.weight.dtype)
        if frozen < self.depth:
            nll, usage = self._auxiliary_nll(frozen, chain[frozen], noise=True, generator=generator)
            positions = math.prod(self.decoders[frozen].config.shape[1:]) // self.config.factor**2
            entropy = -(usage * usage.clamp_min(1e-12).log()).sum()
            unused = math.log(len(usage)) - entropy  # nats per position: 0 when every value is used equally
            total = total + nll.mean() + self.config.diversity * positions * unused
            metrics[f"aux{frozen + 1}"], metrics["code_entropy"] = nll.mean().detach(), entropy.detach()
        for level in range(frozen):
            nll, _ = self.decoders[level].loss(chain[level], code=chain[level + 1])
            total, metrics[f"nll{level}"] = total + nll, nll.detach()
        if frozen == self.depth:
            nll, _ = self.prior.loss(chain[-1])
            total, metrics["nll_prior"] = total + nll, nll.detach()
            metrics["bpd"] = total.detach() / (self.config.dims * math.log(2))
        return total, metrics

    @torch.no_grad()
    def sample(
        self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None, fast: bool = True
    ) -> torch.Tensor:
        """``n`` images drawn top-down, uint8 [n, C, H, W]: the top code from the prior, then each level
        from its decoder given the code above. ``fast``: the cached samplers (same samples)."""
        code = self.prior.sample(n, temperature=temperature, generator=generator, fast=fast)
        for decoder in reversed(self.decoders):
            code = decoder.sample(n, code, temperature=temperature, generator=generator, fast=fast)
        return code

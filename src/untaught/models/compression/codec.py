"""Learned image codecs: factorized prior, scale hyperprior and mean-scale hyperprior.

One model class per entropy model of the latent ``y = g_a(x)``:

* ``codec-factorized`` (Ballé et al. 2017): ``y`` follows a learned density per channel;
* ``codec-hyperprior`` (Ballé et al. 2018): a side latent ``z = h_a(y)`` (factorized density)
  predicts a zero-mean Gaussian scale for every element of ``y``;
* ``codec-mean-scale`` (Minnen et al. 2018, without the serial context model): ``z`` predicts a
  mean and a scale.

Training minimises ``rate + lmbda * distortion`` with ``rate`` in bits per pixel from the density of
the latents plus additive uniform noise (the relaxed quantiser), and distortion the MSE on the 0-255
scale (``distortion="mse"``) or ``1 - MS-SSIM`` (``"ms-ssim"``). At test time latents are rounded
and coded with integer tables (:mod:`.entropy`) by a range coder (:mod:`.coding`) into a ``.utk``
file (:mod:`.container`): ``compress(x) -> bytes`` and ``decompress(bytes) -> x``.

Decoding is bit-exact across thread counts and processes: the hyper-synthesis, whose output picks
the coding tables, runs in float64 on one thread, and the tables are integers stored with the
weights (built once by :meth:`Codec.finalize` when training ends).

References:
    Ballé, Laparra, Simoncelli. End-to-end optimized image compression. ICLR 2017.
    Ballé, Minnen, Singh, Hwang, Johnston. Variational image compression with a scale hyperprior.
    ICLR 2018.
    Minnen, Ballé, Toderici. Joint autoregressive and hierarchical priors for learned image
    compression. NeurIPS 2018.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from torch.nn import functional as F

from ..base import ModelConfig, check_fields
from . import coding
from .base import ImageCodec
from .container import CodecFileError, pack, unpack
from .entropy import SCALE_MIN, SCALES, FactorizedDensity, gaussian_mass, gaussian_tables, scale_index
from .layers import analysis, hyper_analysis, hyper_synthesis, synthesis

FACTORIZED_RADIUS = 255  # integer support scanned for a factorized table: [-255, 255]


@dataclass
class CodecConfig(ModelConfig):
    """A learned codec for RGB photographs (trained on 8-bit crops, applied to any size).

    channels: width of the analysis / synthesis transforms (Ballé's N).
    latent: channels of ``y`` (M); hyper: channels of ``z`` and of the hyper transforms.
    lmbda: weight of the distortion in ``bpp + lmbda * distortion``.
    distortion: 'mse' (on the 0-255 scale) or 'ms-ssim' (1 - MS-SSIM).
    quality: the shipped quality level these weights are (0: not a shipped level).
    """

    shape: tuple[int, ...] = (3, 128, 128)
    levels: int | None = 256
    channels: int = 64
    latent: int = 96
    hyper: int = 64
    lmbda: float = 0.0067
    distortion: Literal["mse", "ms-ssim"] = "mse"
    quality: int = 0

    def __post_init__(self) -> None:
        checks = [
            ("shape", len(self.shape) == 3 and self.shape[0] == 3, "(3, H, W): RGB images"),
            ("levels", self.levels == 256, "256 (8-bit images)"),
            ("channels", self.channels >= 1, "a positive integer"),
            ("latent", self.latent >= 1, "a positive integer"),
            ("hyper", self.hyper >= 1, "a positive integer"),
            ("lmbda", self.lmbda > 0, "a positive number"),
            ("distortion", self.distortion in ("mse", "ms-ssim"), "'mse' or 'ms-ssim'"),
            ("quality", 0 <= self.quality < 256, "in [0, 255]"),
        ]
        check_fields(self, checks)


class _LowerBound(torch.autograd.Function):
    """max(x, bound), letting gradients through where they would raise x above the bound."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, bound: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp_min(bound)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * ((x >= ctx.bound) | (grad < 0)).to(grad.dtype), None


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class Codec(ImageCodec):
    """Base of the rate-distortion codecs; subclasses set ``prior`` ('factorized', 'scale',
    'mean-scale')."""

    Config = CodecConfig
    prior: ClassVar[str] = "mean-scale"
    stride = 64  # images are padded to a multiple of this
    streams = 2  # z, then y

    def __init__(self, config: CodecConfig) -> None:
        super().__init__(config)
        c = config
        self.g_a, self.g_s = analysis(c.channels, c.latent), synthesis(c.channels, c.latent)
        if self.prior == "factorized":
            self.y_density = FactorizedDensity(c.latent)
            coded, width = c.latent, 2 * FACTORIZED_RADIUS + 2
        else:
            self.h_a = hyper_analysis(c.hyper, c.latent)
            self.h_s = hyper_synthesis(c.hyper, c.latent, 2 if self.prior == "mean-scale" else 1)
            self.z_density = FactorizedDensity(c.hyper)
            coded, width = c.hyper, 2 * FACTORIZED_RADIUS + 2
            counts, offsets, lengths = gaussian_tables()
            self.register_buffer("gauss_counts", torch.zeros_like(counts))
            self.register_buffer("gauss_offsets", torch.zeros_like(offsets))
            self.register_buffer("gauss_lengths", torch.zeros_like(lengths))
        # tables of the factorized density (y's or z's), filled by finalize()
        self.register_buffer("table_counts", torch.zeros(coded, width, dtype=torch.int32))
        self.register_buffer("table_offsets", torch.zeros(coded, dtype=torch.int32))
        self.register_buffer("table_lengths", torch.zeros(coded, dtype=torch.int32))

    # -- training -------------------------------------------------------------------------------
    def _hyper(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, scale) of p(y | z), each [B, latent, h, w]; the mean is 0 without 'mean-scale'."""
        params = self.h_s(z)
        if self.prior == "mean-scale":
            mean, raw = params.chunk(2, dim=1)
        else:
            mean, raw = torch.zeros_like(params), params
        return mean, _LowerBound.apply(F.softplus(raw), SCALE_MIN)

    def loss(self, x: torch.Tensor, *, generator: torch.Generator | None = None):
        """``bpp + lmbda * distortion`` of a batch of uint8 crops [B, 3, H, W] (H, W multiples of the
        stride), with the metrics bpp, psnr (dB) and ms_ssim."""
        x = self.check_data(x).float() / 255
        b, _, h, w = x.shape
        noise = lambda t: t + torch.rand(t.shape, generator=generator, device=t.device) - 0.5  # noqa: E731
        y = self.g_a(x)
        y_noisy = noise(y)
        if self.prior == "factorized":
            bits = -torch.log2(self.y_density.mass(y_noisy)).sum()
        else:
            z_noisy = noise(self.h_a(y))
            mean, scale = self._hyper(z_noisy)
            bits = (
                -torch.log2(self.z_density.mass(z_noisy)).sum() - torch.log2(gaussian_mass(y_noisy, mean, scale)).sum()
            )
        bpp = bits / (b * h * w)
        x_hat = self.g_s(y_noisy)
        mse = (x_hat - x).square().mean()
        metrics = {"bpp": bpp.detach(), "psnr": 10 * torch.log10(1 / mse.detach().clamp_min(1e-10))}
        if self.config.distortion == "mse":
            distortion = mse * 255**2
        else:
            from .quality import ms_ssim

            similarity = ms_ssim(x_hat.clamp(0, 1), x, data_range=1.0).mean()
            distortion, metrics["ms_ssim"] = 1 - similarity, similarity.detach()
        return bpp + self.config.lmbda * distortion, metrics

    # -- coding ---------------------------------------------------------------------------------
    @torch.no_grad()
    def finalize(self) -> None:
        """Build the integer coding tables from the trained densities (called once training ends)."""
        counts, offsets, lengths = (self.y_density if self.prior == "factorized" else self.z_density).tables(
            FACTORIZED_RADIUS
        )
        self.table_counts.copy_(counts)
        self.table_offsets.copy_(offsets)
        self.table_lengths.copy_(lengths)
        if self.prior != "factorized":
            counts, offsets, lengths = gaussian_tables()
            self.gauss_counts.copy_(counts)
            self.gauss_offsets.copy_(offsets)
            self.gauss_lengths.copy_(lengths)

    def _check_tables(self) -> None:
        if int(self.table_counts[0].sum()) == 0:
            raise RuntimeError(f"{self.name} has no coding tables: call finalize() after training")

    def _symbols(self, x: torch.Tensor):
        """Quantised latents of a prepared image, with what coding them needs."""
        y = self.g_a(x)
        if self.prior == "factorized":
            return y.round(), None, None, None
        z_hat = self.h_a(y).round()
        mean, rows = self._tables_for(z_hat)
        return y, z_hat, mean, rows

    def _tables_for(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Means [1, M, h, w] and table rows (int64, same shape) for ``y`` given ``z_hat``:
        computed in float64 on one thread so that encoder and decoder agree to the bit."""
        with _one_thread():
            exact = {k: v.double() for k, v in self.h_s.state_dict().items()}
            params = torch.func.functional_call(self.h_s, exact, (z_hat.double(),))
        if self.prior == "mean-scale":
            mean, raw = params.chunk(2, dim=1)
        else:
            mean, raw = torch.zeros_like(params), params
        return mean, scale_index(F.softplus(raw).clamp_min(SCALE_MIN))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The test-time forward pass: the image that ``decompress(compress(x))`` returns."""
        self._check_tables()
        y, _, mean, _ = self._symbols(self.prepare(x)[0])
        y_hat = y if mean is None else torch.round(y.double() - mean) + mean
        return self.to_image(self.g_s(y_hat.float()), *x.shape[1:])

    @torch.no_grad()
    def estimate_bits(self, x: torch.Tensor) -> float:
        """Bits that the entropy model (with the table scales the coder uses) assigns to the
        quantised latents of the uint8 image ``x`` [1, C, H, W]: what :meth:`compress` should spend
        on its streams, headers and coder overhead aside."""
        self._check_tables()
        y, z_hat, mean, rows = self._symbols(self.prepare(x)[0])
        if z_hat is None:
            return float(-torch.log2(copy.deepcopy(self.y_density).double().mass(y.double())).sum())
        q = torch.round(y.double() - mean)
        bits = -torch.log2(copy.deepcopy(self.z_density).double().mass(z_hat.double())).sum()
        return float(bits - torch.log2(gaussian_mass(q, torch.zeros(()), SCALES[rows])).sum())

    @torch.no_grad()
    def compress(self, x: torch.Tensor) -> bytes:
        """A ``.utk`` file holding the uint8 image ``x`` [1, C, H, W] (C = 1 or 3, any H, W)."""
        self._check_tables()
        prepared, pad = self.prepare(x)
        y, z_hat, mean, rows = self._symbols(prepared)
        if z_hat is None:
            streams = [self._code_factorized(y)]
        else:
            q = torch.round(y.double() - mean).long()
            streams = [
                self._code_factorized(z_hat),
                coding.encode(q, rows, self.gauss_counts, self.gauss_offsets, self.gauss_lengths),
            ]
        return pack(self.header(x, pad), streams)

    def _code_factorized(self, v: torch.Tensor) -> bytes:
        rows = torch.arange(v.shape[1]).view(1, -1, 1, 1).expand_as(v)
        return coding.encode(v.long(), rows, self.table_counts, self.table_offsets, self.table_lengths)

    def _decode_factorized(self, data: bytes, shape: tuple[int, ...]) -> torch.Tensor:
        rows = torch.arange(shape[1]).view(1, -1, 1, 1).expand(shape)
        return coding.decode(data, rows, self.table_counts, self.table_offsets, self.table_lengths).view(shape)

    @torch.no_grad()
    def decompress(self, data: bytes) -> torch.Tensor:
        """The uint8 image [1, C, H, W] held by a ``.utk`` file made by this model."""
        self._check_tables()
        header, streams, (h, w) = self.read(data)
        latent = (1, self.config.latent, h // 16, w // 16)
        try:
            if self.prior == "factorized":
                y_hat = self._decode_factorized(streams[0], latent).double()
            else:
                z_hat = self._decode_factorized(streams[0], (1, self.config.hyper, h // 64, w // 64)).double()
                mean, rows = self._tables_for(z_hat)
                q = coding.decode(streams[1], rows, self.gauss_counts, self.gauss_offsets, self.gauss_lengths)
                y_hat = q.view(latent).double() + mean
        except (coding.CorruptStreamError, ValueError, OverflowError) as e:
            raise CodecFileError(f"the file's coded data is corrupt ({e})") from None
        return self.to_image(self.g_s(y_hat.float()), header.channels, header.height, header.width)


class FactorizedPriorCodec(Codec):
    name = "codec-factorized"
    description = "Learned codec with a factorized prior on the latents (Ballé et al. 2017)"
    prior = "factorized"
    stride = 16
    streams = 1


class ScaleHyperpriorCodec(Codec):
    name = "codec-hyperprior"
    description = "Learned codec with a scale hyperprior (Ballé et al. 2018)"
    prior = "scale"


class MeanScaleHyperpriorCodec(Codec):
    name = "codec-mean-scale"
    description = "Learned codec with a mean-scale hyperprior (Minnen et al. 2018, no context model)"
    prior = "mean-scale"


@dataclass
class MSSSIMCodecConfig(CodecConfig):
    """The mean-scale codec's config with MS-SSIM as its distortion (lmbda of about 2 to 60)."""

    distortion: Literal["mse", "ms-ssim"] = "ms-ssim"
    lmbda: float = 8.73


class MSSSIMCodec(MeanScaleHyperpriorCodec):
    Config = MSSSIMCodecConfig
    name = "codec-msssim"
    description = "Mean-scale hyperprior codec trained for MS-SSIM (1 - MS-SSIM as its distortion)"


# -- shipped weights and whole images ---------------------------------------------------------------
WEIGHTS = Path(__file__).parent / "weights"


def available_qualities(model: str = "codec-mean-scale") -> list[int]:
    """The quality levels of ``model`` whose weights ship with untaught (folders ``weights/<model>-q<Q>``)."""
    prefix = f"{model}-q"
    found = [p.name[len(prefix) :] for p in WEIGHTS.glob(f"{prefix}*") if (p / "model.safetensors").is_file()]
    return sorted(int(q) for q in found if q.isdigit())


@functools.lru_cache(maxsize=16)
def load_codec(model: str = "codec-mean-scale", quality: int | None = None) -> Codec:
    """A codec with shipped weights (``model`` a registered codec name and ``quality`` a shipped
    level), or the trained codec in run folder ``model`` (``quality`` None)."""
    from ...io import load_model

    if quality is None:
        codec = load_model(model)
    else:
        folder = WEIGHTS / f"{model}-q{quality}"
        if not (folder / "model.safetensors").is_file():
            levels = available_qualities(model)
            raise ValueError(
                f"untaught ships no weights for {model!r} at quality {quality}; "
                + (f"available: {', '.join(map(str, levels))}" if levels else "it ships none for this model")
                + " (or train your own codec and pass its run folder as the model)"
            )
        codec = load_model(folder)
    if not isinstance(codec, ImageCodec):
        raise ValueError(f"{model} holds a {type(codec).__name__}, not a learned codec")
    return codec.eval()


def _as_tensor(image: np.ndarray) -> torch.Tensor:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"image must be a uint8 array [H, W] (grey) or [H, W, 3] (RGB); got {got}")
    if image.ndim == 3 and image.shape[2] != 3:
        raise ValueError(f"image must have 3 channels (RGB) or none (grey); got shape {image.shape}")
    x = torch.from_numpy(np.array(image, copy=True))  # owned and writable
    return (x[None, None] if x.dim() == 2 else x.permute(2, 0, 1)[None]).contiguous()


def rate_controlled(codec: ImageCodec | type[ImageCodec]) -> bool:
    """Whether ``codec`` (a codec or its class) meets a target rate: ``compress(x, bpp=...)`` (WaveOne)."""
    return "bpp" in inspect.signature(codec.compress).parameters


def compress_image(
    image: np.ndarray, *, model: str = "codec-mean-scale", quality: int | None = None, bpp: float | None = None
) -> bytes:
    """The ``.utk`` file of a uint8 image [H, W] or [H, W, 3] (see :func:`load_codec` for ``model``);
    ``bpp``: the target rate of a rate-controlled codec (WaveOne)."""
    codec = load_codec(model, quality)
    if bpp is None:
        return codec.compress(_as_tensor(image))
    if not rate_controlled(codec):
        raise ValueError(f"{codec.name} has no rate control: choose its rate with the quality level, not bpp")
    return codec.compress(_as_tensor(image), bpp=bpp)


def decompress_image(data: bytes, *, model: str | None = None) -> np.ndarray:
    """The uint8 image [H, W] or [H, W, 3] held by a ``.utk`` file. The shipped weights named in the
    file are used, unless ``model`` gives the run folder of a codec trained by the user."""
    header, _ = unpack(data)
    if model is None and header.quality == 0:
        raise CodecFileError(
            f"the file was made by {header.model} weights {header.weights.hex()} that untaught does not ship: "
            "give the run folder of the codec that made it"
        )
    try:
        codec = load_codec(model) if model is not None else load_codec(header.model, header.quality)
    except ValueError as e:
        raise CodecFileError(f"cannot decode this file: {e}") from None
    x = codec.decompress(data)[0]
    return (x[0] if x.shape[0] == 1 else x.permute(1, 2, 0)).numpy()


def ship(run: str | Path, quality: int, dest: Path = WEIGHTS) -> Path:
    """Turn the codec trained in run folder ``run`` into shipped weights ``dest/<model>-q<quality>``:
    parameters stored in float16 (half the size; the codec then runs on exactly these values),
    coding tables rebuilt from them (rate-distortion codecs; WaveOne's coder has no stored tables),
    config and metrics of the run kept beside them."""
    import dataclasses

    from safetensors.torch import save

    from ...io import METRICS, atomic_write_bytes, load_model, model_record, read_json, run_folder, write_json

    if not 1 <= quality < 256:
        raise ValueError(f"quality must be in [1, 255]; got {quality}")
    folder = run_folder(run)
    codec = load_model(folder)
    if not isinstance(codec, ImageCodec):
        raise ValueError(f"{folder} holds a {type(codec).__name__}, not a learned codec")
    codec.config = dataclasses.replace(codec.config, quality=quality)
    with torch.no_grad():
        for p in codec.parameters():
            p.copy_(p.half().float())
    codec.finalize()
    state = {k: (v.half() if v.is_floating_point() else v).detach().contiguous() for k, v in codec.state_dict().items()}
    target = dest / f"{codec.name}-q{quality}"
    record = {**model_record(codec), "trained": read_json(folder / "config.json").get("train")}
    if (folder / METRICS).is_file():
        record["training_metrics"] = read_json(folder / METRICS)
    atomic_write_bytes(target / "model.safetensors", save(state, metadata={"model": codec.name}))
    write_json(target / "config.json", record)
    load_codec.cache_clear()
    return target

"""The protocol every untaught model follows.

A model is a plain ``torch.nn.Module`` built from a config dataclass (``Model.Config``). It has the
capabilities that are true of it and nothing more:

=============  =============================================  ==========================================
capability     methods                                        who
=============  =============================================  ==========================================
trainable      ``loss(x, *, generator)`` -> scalar or         gradient-trained models
               (scalar, metrics)
updatable      ``update(x, *, step, generator, reduce)``      models trained by other rules (CD, SOM,
                                                              dictionary updates); the engine calls it
                                                              under ``no_grad`` with a cross-rank mean
density        ``log_prob(x)`` -> Tensor[B] in nats           autoregressive models, flows, RBM, VAE;
                                                              ``log_prob_kind`` says exact / lower bound
                                                              / estimate
generative     ``sample(n, *, temperature, generator)``       density models, decoders
representation ``encode(x)``, ``decode(z)``                   autoencoders, flows, sparse coding, SOM
codec          ``compress(x)`` -> bytes, ``decompress(b)``    learned compression
=============  =============================================  ==========================================

Data enter a model as the dataset gives them: integer levels ``uint8 [B, C, H, W]`` in
``[0, levels)``, or ``float32 [B, *shape]`` for continuous data (``levels`` None); the model turns
them into whatever it needs. Models that use labels (class-conditional ones) take a keyword
``condition`` in ``loss`` / ``log_prob`` / ``update``; the engine then passes the batch's labels.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import torch
from torch import nn

LogProbKind = Literal["exact", "lower bound", "estimate"]
M = TypeVar("M", bound="Model")

CAPABILITIES = ("loss", "update", "log_prob", "sample", "encode", "decode", "compress", "decompress")


@dataclasses.dataclass
class ModelConfig:
    """Fields every model config has: the data it models. Subclasses add hyperparameters."""

    shape: tuple[int, ...] = (1, 8, 8)
    levels: int | None = 17

    @property
    def dims(self) -> int:
        return math.prod(self.shape)


def check_fields(config: object, checks: Iterable[tuple[str, bool, str]]) -> None:
    """Raise ``ValueError("<name> must be <expected>; got <value>")`` for the first failed check.

    ``checks`` holds ``(field name, ok, what was expected)``; the value is read from ``config``.
    """
    for name, ok, expected in checks:
        if not ok:
            raise ValueError(f"{name} must be {expected}; got {getattr(config, name)!r}")


def statistic(*shape: int) -> nn.Parameter:
    """A statistic fitted by ``update`` (zeros to start): saved with the weights, counted as parameters,
    never trained by gradient."""
    return nn.Parameter(torch.zeros(*shape), requires_grad=False)


def require_binary(config: ModelConfig, model: str) -> None:
    """Raise ``ValueError`` unless ``config.levels`` is 2; ``model`` names the model in the message."""
    if config.levels != 2:
        raise ValueError(f"{model} models binary data: levels must be 2 (train with --binarize); got {config.levels}")


def require_continuous(config: ModelConfig, model: str, example: str | None = None) -> None:
    """Raise ``ValueError`` unless ``config.levels`` is None; ``example`` names a continuous dataset."""
    if config.levels is not None:
        hint = f" (e.g. --data {example})" if example else ""
        raise ValueError(f"{model} models continuous data: levels must be None{hint}; got {config.levels}")


class Model(nn.Module):
    """Base class: stores its config, validates inputs, reports its capabilities."""

    Config: ClassVar[type[ModelConfig]] = ModelConfig
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    log_prob_kind: ClassVar[LogProbKind] = "exact"

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if not isinstance(config, self.Config):
            raise TypeError(f"{type(self).__name__} needs a {self.Config.__name__}; got {type(config).__name__}")
        self.config = config

    # -- capabilities -------------------------------------------------------------------------
    @classmethod
    def capabilities(cls) -> list[str]:
        """Names of the protocol methods this class implements (overrides of the base)."""
        return [c for c in CAPABILITIES if getattr(cls, c, None) is not getattr(Model, c, None)]

    @classmethod
    def variant(cls, config: dict[str, Any]) -> str:
        """What sets a configuration (a run's ``model_config``) apart in a table of models: a layer type,
        or what its likelihood is conditioned on; '' for none."""
        return ""

    def loss(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> Any:
        raise TypeError(f"{type(self).__name__} is not trained by a loss")

    def update(self, x: torch.Tensor, *, step: int, generator: torch.Generator | None, reduce: Any) -> dict[str, float]:
        raise TypeError(f"{type(self).__name__} has no update rule")

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} has no density")

    def sample(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} cannot sample")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} has no encoder")

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} has no decoder")

    def compress(self, x: torch.Tensor) -> bytes:
        raise TypeError(f"{type(self).__name__} is not a codec")

    def decompress(self, data: bytes) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} is not a codec")

    def finalize(self) -> None:
        """Called by the engine once training ends, before the weights are saved: build state that
        is derived from the trained weights (a codec's integer coding tables). Nothing by default."""

    # -- input checks -------------------------------------------------------------------------
    def check_data(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """Check that ``x`` is a batch of this model's data: [B, *shape], integer levels in
        [0, levels) (or finite floats for continuous data)."""
        shape, levels = tuple(self.config.shape), self.config.levels
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
        if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape:
            raise ValueError(
                f"{name} must have shape (B, {', '.join(map(str, shape))}) (the model's data shape); "
                f"got {tuple(x.shape)}"
            )
        if levels is None:
            if not x.is_floating_point():
                raise TypeError(f"{name} must be floating point (continuous data); got dtype {x.dtype}")
            if not torch.isfinite(x).all():
                raise ValueError(f"{name} must be finite; it holds NaN or infinite values")
            return x
        if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer levels (uint8 or int64) in [0, {levels}); got dtype {x.dtype}")
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= levels):
            kind = "binary data (0 or 1)" if levels == 2 else f"levels in [0, {levels})"
            raise ValueError(f"{name} must hold {kind}; got values in [{int(x.min())}, {int(x.max())}]")
        return x

    @classmethod
    def condition_for(cls, method: str, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"condition": y}`` if ``method`` (loss, log_prob, update) takes the labels, else ``{}``."""
        return {"condition": y} if _takes(cls, method, "condition") else {}

    # -- persistence ----------------------------------------------------------------------------
    @classmethod
    def from_config_dict(cls: type[M], values: dict[str, Any]) -> M:
        return cls(config_from_dict(cls.Config, values))

    @classmethod
    def from_pretrained(cls: type[M], path: str | Path) -> M:
        """Load a model from a run folder (or its ``model.safetensors``); never unpickles."""
        from ..io import load_model

        model = load_model(path)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``config.json``'s model part and ``model.safetensors`` into ``folder``."""
        from ..io import save_model

        return save_model(self, folder)


@functools.cache
def _takes(cls: type, method: str, keyword: str) -> bool:
    """Whether ``cls.method`` accepts ``keyword`` (cached: signatures are slow to inspect per step)."""
    fn = getattr(cls, method, None)
    return fn is not None and keyword in inspect.signature(fn).parameters


def config_from_dict(config_cls: type[ModelConfig], values: dict[str, Any]) -> ModelConfig:
    """Build a config dataclass from JSON values, naming any unknown or ill-typed field."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"{config_cls.__name__} has no field(s) {unknown}; known: {sorted(fields)}")
    converted = {}
    for key, value in values.items():
        default = fields[key].default
        converted[key] = tuple(value) if isinstance(default, tuple) and isinstance(value, list) else value
    return config_cls(**converted)

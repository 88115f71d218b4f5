"""Files: atomic writes, model weights in safetensors, run folders. Nothing here unpickles.

A run folder holds ``config.json`` (model name, model config, training config),
``model.safetensors``, ``metrics.json``, the training log ``metrics.csv``, ``checkpoints/`` and
pictures.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
METRICS = "metrics.json"


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, value: Any) -> Path:
    return atomic_write_bytes(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is missing") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e})") from None


def tree_bytes(tree: Any) -> bytes:
    """A nest of dicts, lists, tuples, tensors, strings, numbers, booleans and None (a training
    checkpoint) as one safetensors file: the tensors as its tensors, the rest as tagged JSON in its
    metadata. Reading it back (:func:`read_tree`) builds data only, never objects."""
    from safetensors.torch import save

    tensors: dict[str, torch.Tensor] = {}

    def encode(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            key = str(len(tensors))
            tensors[key] = x.detach().cpu().contiguous().clone()  # clone: safetensors refuses shared storage
            return {"tensor": key}
        if isinstance(x, dict):
            return {"dict": [[encode(k), encode(v)] for k, v in x.items()]}
        if isinstance(x, (list, tuple)):
            return {type(x).__name__: [encode(v) for v in x]}
        if hasattr(x, "item") and not isinstance(x, (str, bytes)):  # numpy scalars
            x = x.item()
        if x is None or isinstance(x, (str, bool, int, float)):
            return x
        raise TypeError(f"a checkpoint holds only containers, tensors and plain values; got {type(x).__name__}")

    structure = json.dumps(encode(tree))
    return save(tensors, metadata={"untaught.tree": structure})


def read_tree(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """The nest that :func:`tree_bytes` wrote to ``path``."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device=str(map_location)) as f:
            structure = (f.metadata() or {}).get("untaught.tree")
            if structure is None:
                raise ValueError(f"{path} is a safetensors file but not an untaught checkpoint")
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    except SafetensorError as e:
        raise ValueError(f"{path} is not an untaught checkpoint (a safetensors file with its structure): {e}") from None

    def decode(x: Any) -> Any:
        if not isinstance(x, dict):
            return x
        (tag, value), *_ = x.items()
        if tag == "tensor":
            return tensors[value]
        if tag == "dict":
            return {decode(k): decode(v) for k, v in value}
        return (tuple if tag == "tuple" else list)(decode(v) for v in value)

    return decode(json.loads(structure))


def model_record(model: torch.nn.Module) -> dict[str, Any]:
    """The JSON description that rebuilds ``model``: its registry name and config."""
    import dataclasses

    return {"model": model.name, "model_config": dataclasses.asdict(model.config)}


def save_model(model: torch.nn.Module, folder: str | Path) -> Path:
    """Save weights to ``folder/model.safetensors``; write ``config.json`` if there is none."""
    from safetensors.torch import save

    folder = Path(folder)
    record = model_record(model)
    config_path = folder / CONFIG
    if config_path.exists():
        config = read_json(config_path)
        config.update(record)
    else:
        config = record
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(folder / WEIGHTS, save(state, metadata={"model": model.name}))
    write_json(config_path, config)
    return folder


def run_folder(path: str | Path) -> Path:
    """Check that ``path`` is a run folder (a directory with config.json) and return it."""
    folder = Path(path)
    if folder.is_file() and folder.name == WEIGHTS:
        folder = folder.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"run folder {str(path)!r} does not exist")
    if not (folder / CONFIG).is_file():
        raise FileNotFoundError(f"{folder} is not a run folder: it has no {CONFIG}")
    return folder


def load_run(path: str | Path, fits: Callable[[Any], bool], purpose: str) -> tuple[Path, Any]:
    """A run folder and its model (as :func:`load_model`); unless ``fits(model)``, a ``ValueError``
    "<folder> holds a <name> model; <purpose>" (e.g. purpose 'som-pictures draws SOMs')."""
    folder = run_folder(path)
    model = load_model(folder)
    if not fits(model):
        raise ValueError(f"{folder} holds a {model.name} model; {purpose}")
    return folder, model


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> torch.nn.Module:
    """Rebuild the model saved in a run folder (or at its model.safetensors), in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .registry import get_model_class

    folder = run_folder(path)
    config = read_json(folder / CONFIG)
    if "model" not in config or "model_config" not in config:
        raise ValueError(f"{folder / CONFIG} does not name a model (keys 'model', 'model_config')")
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(
            f"{folder} has no {WEIGHTS}: its training has not finished; "
            f"resume it with `untaught train --resume {folder}`"
        )
    cls = get_model_class(config["model"])
    model = cls.from_config_dict(config["model_config"])
    try:
        state = load_file(weights, device=str(map_location))
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{weights} is corrupt or not a safetensors file ({e})") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{weights} does not fit a {cls.__name__} with this config: {e}") from None
    return model.eval()

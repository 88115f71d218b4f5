"""``train`` and ``resume``: fit any model on Lightning's Trainer and leave a run folder behind.

A run folder holds ``config.json`` (written first, so a killed run can be resumed),
``checkpoints/last.ckpt`` (every epoch, written atomically), ``log/version_N/metrics.csv`` (the
training log of each session),
and after training ``model.safetensors``, ``metrics.json`` and ``samples.png``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data.registry import Split
from ..io import CONFIG, METRICS, model_record, read_json, run_folder, save_model, write_json
from ..models.base import Model, check_fields
from .data import TrainingData, loader, prepare

RUN_ENV = "UNTAUGHT_RUN_DIR"  # hands the run folder to DDP worker processes
CHECKPOINT = Path("checkpoints") / "last.ckpt"
BEST = Path("checkpoints") / "best.safetensors"


@dataclass
class TrainConfig:
    """How to train; saved in config.json so that ``resume`` can continue the same run.

    ``epochs`` and ``max_time`` (minutes) bound the whole run, resumed parts included; with
    neither, 20 epochs. ``epoch_images``: an epoch is this many training images (whole batches, a
    different random subset each epoch) instead of the whole split, so that validation, best-epoch
    selection and the phases of phase-by-epoch models come sooner on large data. ``val_images``:
    validate (every epoch and at the end) on the first this many validation images only, so that
    validation does not dominate short epochs (the test split is always whole). ``batch_size`` is
    global (split across ``devices``). ``select`` = 'best' keeps the weights of the epoch with the
    lowest validation NLL (or loss), 'last' the final ones; ``patience`` stops after that many
    epochs without improvement; ``lr_patience`` multiplies the learning rate by ``lr_factor`` after
    that many epochs without improvement (and again after as many more). ``init``: a run folder whose
    weights the model starts from (fine-tuning, e.g. a codec at another rate-distortion trade-off);
    the architecture must match.
    """

    data: str = "digits"
    binarize: str | None = None
    levels: int | None = None
    epochs: int | None = None
    max_time: float | None = None
    epoch_images: int | None = None
    val_images: int | None = None
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float | None = None
    seed: int = 0
    devices: int = 1
    strategy: str = "auto"
    accelerator: str = "auto"
    threads: int | None = None
    samples: int = 64
    progress: bool = True
    select: str = "best"
    patience: int | None = None
    lr_patience: int | None = None
    lr_factor: float = 0.2
    init: str | None = None

    def __post_init__(self) -> None:
        checks = [
            ("epochs", self.epochs is None or self.epochs >= 1, "an integer >= 1"),
            ("max_time", self.max_time is None or self.max_time > 0, "a positive number of minutes"),
            ("batch_size", self.batch_size >= 1, "an integer >= 1"),
            (
                "epoch_images",
                self.epoch_images is None or self.epoch_images >= self.batch_size,
                f"an integer >= batch_size ({self.batch_size})",
            ),
            ("val_images", self.val_images is None or self.val_images >= 1, "an integer >= 1"),
            ("lr", self.lr > 0, "a positive number"),
            ("devices", self.devices >= 1, "an integer >= 1"),
            ("threads", self.threads is None or self.threads >= 1, "an integer >= 1"),
            ("samples", self.samples >= 0, "an integer >= 0"),
            ("select", self.select in ("best", "last"), "'best' (lowest validation loss) or 'last'"),
            ("patience", self.patience is None or self.patience >= 1, "an integer >= 1 (epochs)"),
            ("lr_patience", self.lr_patience is None or self.lr_patience >= 1, "an integer >= 1 (epochs)"),
            ("lr_factor", 0 < self.lr_factor < 1, "a factor in (0, 1)"),
        ]
        check_fields(self, checks)


@dataclass
class Run:
    """What ``train`` returns: the run folder, its final metrics, and the trained model."""

    path: Path
    metrics: dict[str, Any]
    model: Model


def train(
    model: Model,
    data: str | TrainingData = "digits",
    *,
    out: str | Path | None = None,
    **options: Any,
) -> Run:
    """Train ``model`` on ``data`` (a dataset name or prepared :class:`TrainingData`).

    ``options`` are :class:`TrainConfig` fields (epochs, max_time, batch_size, lr, seed, devices,
    strategy, binarize, levels, ...). Returns the :class:`Run`; in DDP worker processes (rank > 0)
    the returned metrics are empty.
    """
    if isinstance(data, TrainingData):
        options["data"] = data.name
    else:
        options["data"] = data
    cfg = TrainConfig(**options)
    prepared = data if isinstance(data, TrainingData) else prepare(data, binarize=cfg.binarize, levels=cfg.levels)
    _check_fits(model, prepared)
    if cfg.init:
        _initialise(model, cfg.init)
    folder = _new_run_folder(out, model, cfg)
    return _fit(model, prepared, cfg, folder, resume_from=None)


def resume(path: str | Path, **overrides: Any) -> Run:
    """Continue the run in folder ``path`` from its last checkpoint.

    ``overrides`` may extend the budget (``epochs``, ``max_time``) or change ``progress``,
    ``threads``; everything else comes from the run's config.json.
    """
    folder = run_folder(path)
    allowed = {"epochs", "max_time", "progress", "threads"}
    if set(overrides) - allowed:
        raise ValueError(f"resume can change only {sorted(allowed)}; got {sorted(set(overrides) - allowed)}")
    checkpoint = folder / CHECKPOINT
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{folder} has no checkpoint to resume from ({checkpoint} is missing)")
    saved = read_json(folder / CONFIG)
    cfg = TrainConfig(**{**saved["train"], **{k: v for k, v in overrides.items() if v is not None}})
    from ..registry import get_model_class

    torch.manual_seed(cfg.seed)
    model = get_model_class(saved["model"]).from_config_dict(saved["model_config"])
    prepared = prepare(cfg.data, binarize=cfg.binarize, levels=cfg.levels)
    if _is_main_process():
        write_json(folder / CONFIG, {**saved, "train": dataclasses.asdict(cfg)})
    return _fit(model, prepared, cfg, folder, resume_from=checkpoint)


# -- internals ----------------------------------------------------------------------------------
def _is_main_process() -> bool:
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def _check_fits(model: Model, data: TrainingData) -> None:
    shape, levels = tuple(model.config.shape), model.config.levels
    if shape != data.shape or levels != data.levels:
        raise ValueError(
            f"the model was built for data of shape {shape} with {levels} levels, but {data.name!r} "
            f"gives shape {data.shape} with {data.levels} levels; build the model with "
            f"shape={data.shape}, levels={data.levels}"
        )
    if getattr(model, "needs_labels", False) and (len(data.train) == 0 or bool((data.train.y < 0).any())):
        raise ValueError(
            f"{model.name} trains on labels (e.g. supervised fine-tuning), but {data.name!r} has unlabelled "
            "training examples (label -1); train it on a labelled dataset"
        )


def _initialise(model: Model, run: str) -> None:
    """Load the weights of run folder ``run`` into ``model`` (same architecture, any other settings)."""
    from safetensors.torch import load_file

    from ..io import WEIGHTS

    weights = run_folder(run) / WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(f"cannot start from run {run}: it has no {WEIGHTS} (has its training finished?)")
    try:
        model.load_state_dict(load_file(weights, device=str(next(model.parameters()).device)))
    except RuntimeError as e:
        raise ValueError(f"cannot start from run {run}: its weights do not fit this {model.name}: {e}") from None


def _new_run_folder(out: str | Path | None, model: Model, cfg: TrainConfig) -> Path:
    """Create the run folder and its config.json (main process); workers get it from the env."""
    if not _is_main_process():
        return Path(os.environ[RUN_ENV])
    folder = Path(out) if out else Path("runs") / f"{model.name}-{cfg.data}-{time.strftime('%Y%m%d-%H%M%S')}"
    if (folder / CONFIG).exists():
        raise FileExistsError(
            f"{folder} already holds a run; resume it with `untaught train --resume {folder}` or choose another --out"
        )
    folder.mkdir(parents=True, exist_ok=True)
    # what the leaderboard shows besides the metrics: when the run started and the command that started it
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else ""
    record = {**model_record(model), "train": dataclasses.asdict(cfg), "created": created, "command": command}
    write_json(folder / CONFIG, record)
    return folder


def _checkpoint_io() -> Any:
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    from ..io import atomic_write_bytes, read_tree, tree_bytes

    class AtomicCheckpointIO(TorchCheckpointIO):
        """Checkpoints (weights, nested loop, callback and optimizer state) written atomically as
        safetensors with their structure as JSON (:func:`~untaught.io.tree_bytes`): reading one
        builds tensors and plain containers only, so a checkpoint from elsewhere cannot run code."""

        def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
            atomic_write_bytes(path, tree_bytes(checkpoint))

        def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: Any = None) -> dict[str, Any]:
            return read_tree(path, map_location if isinstance(map_location, (str, torch.device)) else "cpu")

    return AtomicCheckpointIO()


def _callbacks(folder: Path, monitor: str, patience: int | None) -> list[Any]:
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping

    class EpochCheckpoint(L.Callback):
        """Saves ``checkpoints/last.ckpt`` at the end of every training epoch."""

        def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
            trainer.save_checkpoint(folder / CHECKPOINT)

    class BestWeights(L.Callback):
        """Keeps the weights of the epoch with the lowest ``monitor`` in ``checkpoints/best.safetensors``."""

        def __init__(self) -> None:
            self.best, self.epoch = float("inf"), -1

        def on_validation_end(self, trainer: L.Trainer, module: Any) -> None:
            value = trainer.callback_metrics.get(monitor)
            if trainer.sanity_checking or value is None or not float(value) < self.best:
                return
            self.best, self.epoch = float(value), trainer.current_epoch
            if trainer.is_global_zero:
                from safetensors.torch import save

                from ..io import atomic_write_bytes

                state = {k: v.detach().cpu().contiguous() for k, v in module.model.state_dict().items()}
                atomic_write_bytes(folder / BEST, save(state))

        def state_dict(self) -> dict[str, Any]:
            return {"best": self.best, "epoch": self.epoch}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            self.best, self.epoch = state["best"], state["epoch"]

    class Throughput(L.Callback):
        """Wall time of the whole fit, and time and examples of the training steps alone (validation
        excluded), summed over every session of a resumed run (carried in its checkpoints; the part of
        an epoch that a kill lost is not counted, as its work was not kept)."""

        def __init__(self) -> None:
            self.seconds, self.examples, self._t0 = 0.0, 0, 0.0
            self.fit_before, self._started = 0.0, time.perf_counter()

        @property
        def fit_seconds(self) -> float:
            return self.fit_before + time.perf_counter() - self._started

        def on_fit_start(self, trainer: L.Trainer, module: Any) -> None:
            self._started = time.perf_counter()

        def on_train_batch_start(self, trainer: L.Trainer, module: Any, batch: Any, idx: int) -> None:
            self._t0 = time.perf_counter()

        def on_train_batch_end(self, trainer: L.Trainer, module: Any, out: Any, batch: Any, idx: int) -> None:
            self.seconds += time.perf_counter() - self._t0
            self.examples += len(batch[0]) * trainer.world_size

        def state_dict(self) -> dict[str, Any]:
            return {"seconds": self.seconds, "examples": self.examples, "fit_seconds": self.fit_seconds}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            self.seconds, self.examples, self.fit_before = state["seconds"], state["examples"], state["fit_seconds"]

    callbacks = [Throughput(), BestWeights(), EpochCheckpoint()]
    if patience:
        callbacks.append(EarlyStopping(monitor=monitor, patience=patience, mode="min", check_on_train_epoch_end=False))
    return callbacks


def _strategy(name: str, module: Any) -> Any:
    """Lightning's strategy ``name``, except that 'ddp' looks for unused parameters when the model
    trains in phases (its loss takes the epoch): a phase may leave layers out of the graph (greedy
    pretraining), which plain DDP refuses. Their gradients stay None, so Adam leaves them alone."""
    if name != "ddp" or module.by_update or not module._loss_takes_epoch:
        return name
    from lightning.pytorch.strategies import DDPStrategy

    return DDPStrategy(find_unused_parameters=True)


def _fit(model: Model, data: TrainingData, cfg: TrainConfig, folder: Path, resume_from: Path | None) -> Run:
    import lightning as L
    from lightning.pytorch.loggers import CSVLogger

    from .module import Trainee

    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*returned `None`, this fit will run with no optimizer")  # update models
    torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // cfg.devices))
    os.environ[RUN_ENV] = str(folder)
    module = Trainee(
        model,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        seed=cfg.seed,
        grad_clip=cfg.grad_clip,
        lr_patience=cfg.lr_patience,
        lr_factor=cfg.lr_factor,
    )
    monitor = "val/nll" if "log_prob" in model.capabilities() else "val/loss"
    callbacks = _callbacks(folder, monitor, cfg.patience)
    max_epochs = cfg.epochs if cfg.epochs is not None else (-1 if cfg.max_time else 20)
    trainer = L.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=_strategy(cfg.strategy, module),
        max_epochs=max_epochs,
        max_time={"minutes": cfg.max_time} if cfg.max_time else None,
        limit_train_batches=cfg.epoch_images // cfg.batch_size if cfg.epoch_images else None,
        logger=CSVLogger(save_dir=folder, name="log"),  # log/version_N/metrics.csv per session
        callbacks=callbacks,
        plugins=[_checkpoint_io()],
        enable_checkpointing=False,
        enable_progress_bar=cfg.progress,
        enable_model_summary=False,
        use_distributed_sampler=False,
        num_sanity_val_steps=0,
        log_every_n_steps=10,
        deterministic=False,
    )
    rank, world = trainer.global_rank, trainer.world_size
    if cfg.val_images:
        part = data.val
        data = dataclasses.replace(data, val=Split(part.x[: cfg.val_images], part.y[: cfg.val_images], part.levels))
    train_loader = loader(data, "train", batch_size=cfg.batch_size, seed=cfg.seed, rank=rank, world=world)
    val_loader = loader(data, "val", batch_size=max(cfg.batch_size, 256), seed=cfg.seed, rank=rank, world=world)
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(resume_from) if resume_from else None)
    if not trainer.is_global_zero:
        return Run(folder, {}, model)
    model = module.model.eval()
    throughput, best = callbacks[0], callbacks[1]
    if cfg.select == "best" and (folder / BEST).is_file():
        from safetensors.torch import load_file

        model.load_state_dict(load_file(folder / BEST, device=str(next(model.parameters()).device)))
    model.finalize()
    save_model(model, folder)
    metrics: dict[str, Any] = {
        "epochs": trainer.current_epoch,
        "selected": f"epoch {best.epoch} (lowest {monitor})" if cfg.select == "best" and best.epoch >= 0 else "last",
        "steps": module.steps,
        "fit_seconds": throughput.fit_seconds,
        "train_step_seconds": throughput.seconds,
        "train_images_per_second": throughput.examples / throughput.seconds if throughput.seconds else None,
        "parameters": sum(p.numel() for p in model.parameters()),
        "devices": world,
        "threads": torch.get_num_threads(),
        **evaluate_run(model, data.val, "val"),
        **evaluate_run(model, data.test, "test"),
    }
    write_json(folder / METRICS, metrics)
    if cfg.samples and "sample" in model.capabilities() and model.config.levels and len(model.config.shape) == 3:
        from ..viz import save_grid

        samples = model.sample(cfg.samples, generator=torch.Generator().manual_seed(cfg.seed))
        save_grid(samples.cpu(), model.config.levels, folder / "samples.png")
    return Run(folder, metrics, model)


def evaluate_run(model: Model, split: Split, prefix: str) -> dict[str, Any]:
    """Density models: NLL and bits/dim of ``split``; others: their mean loss."""
    if "log_prob" in model.capabilities():
        from ..evaluation import evaluate_nll

        return evaluate_nll(model, split).as_dict(prefix)
    device = next(model.parameters()).device
    with torch.no_grad():
        losses = [
            model.loss(
                x.to(device),
                generator=torch.Generator().manual_seed(0),
                **model.condition_for("loss", y.to(device)),
            )
            for x, y in zip(split.x.split(512), split.y.split(512), strict=True)
        ]
    values = torch.stack([(v[0] if isinstance(v, tuple) else v).double() for v in losses])
    sizes = torch.tensor([len(x) for x in split.x.split(512)], dtype=torch.float64)
    return {f"{prefix}_loss": float((values * sizes).sum() / sizes.sum())}

"""The one LightningModule that drives any untaught model through its protocol.

It knows no model's quirks: a model with ``loss`` is trained by an optimizer; a model with
``update`` (contrastive divergence, SOM, dictionary updates) is stepped by hand under ``no_grad``
and given ``reduce`` to average its statistics across DDP ranks.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import lightning as L
import torch

from ..models.base import Model
from .data import step_seed


def adam(params: Any, *, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam, fused into one kernel where the device supports it.

    The fused step is what makes large fully connected models fast on a CPU: for MADE 784-8000-784
    it takes 8.5 ms instead of 40 ms per step here, as long as the forward and backward together.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class Trainee(L.LightningModule):
    """Wraps ``model``; ``lr`` and ``weight_decay`` configure Adam. With ``lr_patience``, the learning
    rate is multiplied by ``lr_factor`` whenever the validation NLL (or loss) has not improved for
    that many epochs (``ReduceLROnPlateau``, stepped after each validation of the fit)."""

    def __init__(
        self,
        model: Model,
        *,
        lr: float,
        weight_decay: float,
        seed: int,
        grad_clip: float | None,
        lr_patience: int | None = None,
        lr_factor: float = 0.2,
    ) -> None:
        super().__init__()
        self.model = model
        self.lr, self.weight_decay, self.seed, self.grad_clip = lr, weight_decay, seed, grad_clip
        self.lr_patience, self.lr_factor = lr_patience, lr_factor
        caps = model.capabilities()
        if "loss" not in caps and "update" not in caps:
            raise TypeError(f"{type(model).__name__} has neither loss() nor update(): nothing to train")
        self.by_update = "update" in caps
        if self.by_update and lr_patience:
            raise ValueError(
                f"lr_patience applies to models trained by an optimizer; {type(model).__name__} is trained by "
                "its own update rule (no learning rate to cut)"
            )
        # the step is written out (training_step): Lightning's automatic optimization wraps every step in
        # a closure, an optimizer wrapper and eight hook dispatches, which cost a small model's throughput
        self.automatic_optimization = False
        self.steps = 0  # optimizer-independent step counter, saved in checkpoints
        self._val: list[torch.Tensor] = []
        # what loss() accepts, looked up once (inspect.signature is slow for a per-step call)
        self._loss_takes_epoch = "epoch" in inspect.signature(model.loss).parameters
        self._takes_labels = {m: bool(model.condition_for(m, torch.empty(0))) for m in ("loss", "update")}
        self._update_takes_epoch = "epoch" in inspect.signature(model.update).parameters
        self._window: dict[str, tuple[Any, int]] = {}  # training metrics summed since they were last logged

    # -- training -------------------------------------------------------------------------------
    def _generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(step_seed(self.seed, self.steps, 2))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> Any:
        x, y = batch
        gen = self._generator()
        if self.by_update:
            # an epoch-wise rule (batch EM: E-step statistics summed over an epoch) takes the epoch
            schedule = {"epoch": self.current_epoch} if self._update_takes_epoch else {}
            with torch.no_grad():
                metrics = self.model.update(
                    x,
                    step=self.steps,
                    generator=gen,
                    reduce=self._mean_across_ranks,
                    **schedule,
                    **({"condition": y} if self._takes_labels["update"] else {}),
                )
            self.steps += 1
            self._log_metrics(metrics, len(x))
            return None
        # a model with a schedule (e.g. greedy layer-wise pretraining) takes the epoch; resume restores it
        schedule = {"epoch": self.current_epoch} if self._loss_takes_epoch else {}
        labels = {"condition": y} if self._takes_labels["loss"] else {}
        out = self.model.loss(x, generator=gen, **schedule, **labels)
        loss, metrics = out if isinstance(out, tuple) else (out, {})
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"the training loss became {loss.item()} at step {self.steps} (epoch {self.current_epoch}); "
                "training stopped and the last good checkpoint is kept. Try a lower --lr or --grad-clip."
            )
        optimizer = self.optimizers(use_pl_optimizer=False)  # the torch optimizer itself
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)  # through the strategy: DDP averages the gradients here
        if self.grad_clip:
            self.clip_gradients(optimizer, gradient_clip_val=self.grad_clip, gradient_clip_algorithm="norm")
        optimizer.step()
        self.steps += 1
        self._log_metrics({"loss": loss, **metrics}, len(x))
        return None

    def _log_metrics(self, metrics: dict[str, Any], n: int) -> None:
        """Average training metrics over the steps between two log writes, and log only then.

        Lightning writes step metrics every ``log_every_n_steps``. Its ``self.log`` costs 1-2 ms per
        call here (result collections moved and reduced: more than a small model's whole step), so
        values are summed locally, and on the steps Lightning writes their means go straight to the
        logger, as the rows Lightning would write; ``self.log`` is left to the progress bar's loss.
        """
        for key, value in metrics.items():
            value = value.detach() if isinstance(value, torch.Tensor) else value
            total, count = self._window.get(key, (0.0, 0))
            self._window[key] = (total + value, count + 1)
        trainer = self.trainer
        if not trainer._logger_connector.should_update_logs:
            return
        means = {f"train/{key}": float(total / count) for key, (total, count) in self._window.items()}
        self._window.clear()
        if trainer.logger is not None:
            step = trainer.fit_loop.epoch_loop._batches_that_stepped
            trainer.logger.log_metrics({**means, "epoch": self.current_epoch}, step=step)
        if trainer.progress_bar_callback is not None and "train/loss" in means:
            self.log("train/loss", means["train/loss"], prog_bar=True, logger=False, batch_size=n)

    def _mean_across_ranks(self, value: torch.Tensor) -> torch.Tensor:
        """Mean of ``value`` over DDP ranks (the identity in one process)."""
        return self.trainer.strategy.reduce(value, reduce_op="mean")

    def configure_optimizers(self) -> Any:
        if self.by_update:
            return None
        optimizer = adam(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if not self.lr_patience:
            return optimizer
        # torch's patience counts the bad epochs tolerated; ours, the bad epochs that trigger a cut. An
        # improvement is any strict decrease, as for --patience and the best epoch (torch's default
        # relative threshold would count small increases of a negative loss as improvements)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="min",
            factor=self.lr_factor,
            patience=self.lr_patience - 1,
            threshold=0.0,
            threshold_mode="abs",
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": plateau}}

    # -- validation: summed over ranks, so the mean is over the whole split ---------------------
    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        if "log_prob" in self.model.capabilities():
            value = -self.model.log_prob(x, **self.model.condition_for("log_prob", y)).double().sum()
        else:
            out = self.model.loss(
                x, generator=torch.Generator().manual_seed(self.seed), **self.model.condition_for("loss", y)
            )
            value = (out[0] if isinstance(out, tuple) else out).double() * len(x)
        self._val.append(torch.stack([value, torch.tensor(float(len(x)), dtype=torch.float64)]))

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        total = self.trainer.strategy.reduce(torch.stack(self._val).sum(0), reduce_op="sum")
        self._val.clear()
        mean = float(total[0] / total[1])
        if self.lr_patience and self.trainer.state.fn == "fit":
            plateau = self.lr_schedulers()
            plateau.step(mean)
            self.log("lr", plateau.get_last_lr()[0], sync_dist=False)
        if "log_prob" in self.model.capabilities():
            self.log("val/nll", mean, prog_bar=True, sync_dist=True)
            self.log("val/bpd", mean / (self.model.config.dims * math.log(2)), sync_dist=True)
        else:
            self.log("val/loss", mean, prog_bar=True, sync_dist=True)

    # -- checkpoint state -------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["untaught_steps"] = self.steps

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.steps = int(checkpoint.get("untaught_steps", 0))

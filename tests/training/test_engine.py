"""The engine: run folders, exact resume (also after a kill), NaN handling, DDP equals one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from engine_runs import assert_same_state, ddp_and_one_process, untaught_cli, whole_and_resumed

import untaught
from untaught.io import read_tree
from untaught.models import MADE, MADEConfig

SMALL = dict(hidden=(32,), num_masks=2, order_agnostic=True, ensemble=2)
QUIET = dict(progress=False, threads=1, samples=4)


def small_made() -> MADE:
    torch.manual_seed(0)
    return MADE(MADEConfig(shape=(1, 8, 8), levels=17, **SMALL))


def test_train_writes_a_complete_run_folder(run_dir):
    run = untaught.train(small_made(), "digits", out=run_dir, epochs=2, **QUIET)
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "model.safetensors", "metrics.json", "samples.png", "checkpoints", "log"} <= names
    assert not [p for p in run_dir.rglob("*.tmp")], "no temporary files are left behind"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_nll_kind"] == "exact" and metrics["steps"] == 2 * (1257 // 64)
    # two epochs already beat the uniform model's 64 * log(17) nats
    assert metrics["test_nll_nats"] < 64 * torch.log(torch.tensor(17.0)).item() - 20
    assert run.metrics == metrics
    loaded = MADE.from_pretrained(run_dir)
    x = untaught.data.load_split("digits", "test").x[:32]
    assert torch.equal(loaded.log_prob(x), run.model.eval().log_prob(x))


def test_resume_equals_uninterrupted(tmp_path):
    whole, resumed = whole_and_resumed(tmp_path, small_made, "digits", epochs=3, first=1, **QUIET)
    assert resumed.metrics["steps"] == whole.metrics["steps"]
    assert resumed.metrics["test_nll_nats"] == whole.metrics["test_nll_nats"]
    assert_same_state(whole.model, resumed.model)


def test_a_resumed_run_reports_the_time_and_examples_of_all_its_sessions(tmp_path):
    whole = untaught.train(small_made(), "digits", out=tmp_path / "whole", epochs=3, **QUIET).metrics
    first = untaught.train(small_made(), "digits", out=tmp_path / "parts", epochs=2, **QUIET).metrics
    resumed = untaught.resume(tmp_path / "parts", epochs=3, progress=False).metrics

    def examples(m):
        return m["train_images_per_second"] * m["train_step_seconds"]

    assert examples(resumed) == pytest.approx(examples(whole)) == pytest.approx(1.5 * examples(first))
    assert resumed["train_step_seconds"] > 1.2 * first["train_step_seconds"]  # three epochs of steps, not one
    assert resumed["fit_seconds"] > resumed["train_step_seconds"]


def test_killed_run_resumes_to_the_same_result(tmp_path):
    """SIGKILL a CLI run after its first checkpoint; resuming it ends where an unbroken run ends."""
    args = [
        "train",
        "made",
        "--data",
        "digits",
        "--hidden",
        "256,256",
        "--epochs",
        "4",
        "--threads",
        "1",
        "--no-progress",
        "--samples",
        "0",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "untaught", *args, "--out", str(tmp_path / "killed")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists() and not (tmp_path / "killed" / "model.safetensors").exists()
    done = untaught_cli("train", "--resume", str(tmp_path / "killed"), "--no-progress")
    assert done.returncode == 0, done.stderr
    whole = untaught_cli(*args, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    killed = json.loads((tmp_path / "killed" / "metrics.json").read_text())
    unbroken = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert killed["steps"] == unbroken["steps"] == 4 * (1257 // 64)
    assert killed["test_nll_nats"] == unbroken["test_nll_nats"]


class NaNAfter(MADE):
    """A MADE whose loss turns NaN at a given step, to test that training stops cleanly."""

    calls = 0

    def loss(self, x, *, generator=None):
        loss, metrics = super().loss(x, generator=generator)
        NaNAfter.calls += 1
        return (loss * float("nan") if NaNAfter.calls > 25 else loss), metrics


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(run_dir):
    model = NaNAfter(MADEConfig(shape=(1, 8, 8), levels=17, hidden=(16,)))
    with pytest.raises(FloatingPointError, match=r"loss became nan at step 25 \(epoch 1\).*last good checkpoint"):
        untaught.train(model, "digits", out=run_dir, epochs=3, **QUIET)
    assert not (run_dir / "model.safetensors").exists()
    state = read_tree(run_dir / "checkpoints" / "last.ckpt")
    assert state["untaught_steps"] == 1257 // 64  # saved after epoch 0, before the NaN
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values())


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"unknown dataset 'nope'; expected one of: .*digits"):
        untaught.train(small_made(), "nope", out=tmp_path / "a")
    with pytest.raises(
        ValueError, match=r"shape \(1, 8, 8\) with 17 levels, but 'digits' gives shape \(1, 8, 8\) with 2"
    ):
        untaught.train(small_made(), "digits", binarize="static", out=tmp_path / "b")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1; got 0"):
        untaught.train(small_made(), "digits", batch_size=0, out=tmp_path / "c")
    untaught.train(small_made(), "digits", out=tmp_path / "d", epochs=1, **QUIET)
    with pytest.raises(FileExistsError, match="already holds a run; resume it"):
        untaught.train(small_made(), "digits", out=tmp_path / "d", epochs=1, **QUIET)


def test_ddp_two_processes_match_one_process(tmp_path):
    """Two CPU processes split each global batch, so DDP follows the single-process run."""
    common = [
        "train",
        "made",
        "--data",
        "digits",
        "--hidden",
        "32",
        "--epochs",
        "2",
        "--no-progress",
        "--samples",
        "0",
        "--threads",
        "1",
        "--accelerator",
        "cpu",
    ]
    metrics = ddp_and_one_process(tmp_path, *common)
    a, b = metrics["ddp"], metrics["one"]
    assert a["devices"] == 2 and a["steps"] == b["steps"]
    assert a["test_nll_nats"] == pytest.approx(b["test_nll_nats"], rel=1e-4)


def test_best_validation_epoch_is_kept_and_patience_stops(run_dir):
    import csv

    torch.manual_seed(0)
    model = MADE(MADEConfig(shape=(1, 8, 8), levels=17, hidden=(256,)))
    run = untaught.train(model, "digits", out=run_dir, epochs=60, lr=5e-3, patience=3, **QUIET)
    with open(run_dir / "log" / "version_0" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val/nll")]
    val = [float(r["val/nll"]) for r in rows]
    best = min(range(len(val)), key=val.__getitem__)
    assert len(val) < 60, "patience should stop this over-fitting run early"
    assert len(val) == best + 1 + 3
    assert run.metrics["selected"].startswith(f"epoch {best} ")
    assert run.metrics["val_nll_nats"] == pytest.approx(val[best], rel=1e-5)


class Gaussian(untaught.models.Model):
    """A diagonal Gaussian with a per-class mean: the smallest continuous, conditional model."""

    name = "test-gaussian"
    log_prob_kind = "exact"

    def __init__(self, config):
        super().__init__(config)
        self.mean = torch.nn.Parameter(torch.zeros(3, *config.shape))
        self.log_std = torch.nn.Parameter(torch.zeros(config.shape))
        self.seen_labels: set[int] = set()

    def log_prob(self, x, condition=None):
        self.check_data(x)
        mean = self.mean[(condition.clamp(min=0) % 3)]
        return torch.distributions.Normal(mean, self.log_std.exp()).log_prob(x).sum(1)

    def loss(self, x, *, generator=None, condition=None):
        self.seen_labels.update(condition.tolist())
        return -self.log_prob(x, condition).mean()


def test_continuous_data_and_labels_reach_the_model(run_dir):
    model = Gaussian(untaught.models.ModelConfig(shape=(2,), levels=None))
    run = untaught.train(model, "gaussians", out=run_dir, epochs=3, lr=0.05, **QUIET)
    assert model.seen_labels == {-1}  # toy data carry no labels; the engine passed them anyway
    data = untaught.data.load_split("gaussians", "train").x
    # the fitted scale approaches the data's (about 1.07 per coordinate)
    assert torch.allclose(model.log_std.exp(), data.std(0), rtol=0.15)
    assert run.metrics["test_nll_kind"] == "exact" and run.metrics["test_nll_nats"] < 4.0
    with pytest.raises(TypeError, match="must be floating point"):
        model.log_prob(torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, dtype=torch.long))


def gaussian() -> Gaussian:
    return Gaussian(untaught.models.ModelConfig(shape=(2,), levels=None))


def val_and_lr(run: Path) -> tuple[list[float], list[float]]:
    """Validation NLL and learning rate of every epoch of ``run``, over all its sessions."""
    import csv

    rows = []
    for log in sorted((run / "log").glob("version_*/metrics.csv")):
        with open(log) as f:
            rows += [r for r in csv.DictReader(f) if r.get("val/nll")]
    return [float(r["val/nll"]) for r in rows], [float(r["lr"]) for r in rows]


def test_lr_patience_cuts_the_learning_rate_after_that_many_epochs_without_improvement(run_dir):
    untaught.train(gaussian(), "gaussians", out=run_dir, epochs=10, lr=0.05, lr_patience=2, lr_factor=0.5, **QUIET)
    val, lrs = val_and_lr(run_dir)
    expected, lr, best, bad = [], 0.05, float("inf"), 0
    for v in val:  # the rule, by hand: an improvement is any strict decrease
        best, bad = (v, 0) if v < best else (best, bad + 1)
        if bad == 2:
            lr, bad = lr * 0.5, 0
        expected.append(lr)
    assert lrs == pytest.approx(expected, rel=1e-6)  # logged in float32
    assert min(lrs) < 0.05 * 0.9, "the fit plateaus within 10 epochs"


def test_lr_patience_is_refused_for_a_model_without_a_learning_rate(run_dir):
    from untaught.registry import get_model_class

    rbm = get_model_class("rbm")
    model = rbm(rbm.Config(shape=(1, 8, 8), levels=2, hidden=4))
    with pytest.raises(ValueError, match="lr_patience applies to models trained by an optimizer; RBM"):
        untaught.train(model, "digits", binarize="static", out=run_dir, epochs=1, lr_patience=2, **QUIET)


def small_maf() -> untaught.models.Model:
    from untaught.registry import get_model_class

    torch.manual_seed(0)
    maf = get_model_class("maf")
    return maf(maf.Config(shape=(2,), levels=None, layers=1, hidden=(8,)))


def test_a_resumed_run_keeps_its_learning_rate_schedule(tmp_path):
    whole, resumed = whole_and_resumed(
        tmp_path, small_maf, "gaussians", epochs=8, first=4, lr=0.05, lr_patience=1, lr_factor=0.5, **QUIET
    )
    assert_same_state(whole.model, resumed.model)
    lrs = val_and_lr(tmp_path / "parts")[1]
    assert lrs == val_and_lr(tmp_path / "whole")[1]
    assert lrs[3] < 0.05 * 0.9 and lrs[-1] < lrs[3], "cuts before and after the interruption"


class _Trap:
    """Unpickling this object would create the file ``path``: what a malicious checkpoint could do."""

    def __init__(self, path) -> None:
        self.path = path

    def __reduce__(self):
        return (type(self.path).touch, (self.path,))


def test_a_checkpoint_that_would_run_code_is_refused_on_resume(tmp_path):
    run = tmp_path / "run"
    untaught.train(small_made(), "digits", out=run, epochs=1, **QUIET)
    marker = tmp_path / "code-ran"
    torch.save({"state_dict": {}, "trap": _Trap(marker)}, run / "checkpoints" / "last.ckpt")
    with pytest.raises(ValueError, match="not an untaught checkpoint"):
        untaught.resume(run, epochs=2, progress=False)
    assert not marker.exists()

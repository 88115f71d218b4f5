"""Flows train through the engine: the likelihood improves (Flow++: its variational-dequantisation
bound), and Glow's actnorm is initialised by the first training batch and saved with the weights."""

from __future__ import annotations

import torch

import untaught
from untaught.data import Split
from untaught.evaluation import evaluate_nll
from untaught.models.flows import MAF, FlowPlusPlus, Glow
from untaught.models.flows.actnorm import ActNorm
from untaught.training import TrainingData, prepare


def test_maf_on_moons_improves_through_the_engine(tmp_path):
    torch.manual_seed(0)
    model = MAF(MAF.Config(shape=(2,), levels=None, layers=3, hidden=(32, 32)))
    full = prepare("moons")
    part = {s: getattr(full, s) for s in ("train", "val", "test")}
    sizes = {"train": 3000, "val": 500, "test": 500}
    data = TrainingData("moons", *(Split(v.x[: sizes[s]], v.y[: sizes[s]], None) for s, v in part.items()), None)
    before = evaluate_nll(model, data.test).nats
    run = untaught.train(
        model, data, out=tmp_path / "run", epochs=3, batch_size=128, progress=False, samples=0, threads=1
    )
    assert run.metrics["test_nll_kind"] == "exact"
    assert run.metrics["test_nll_nats"] < before - 0.3  # N(0, I) on moons: 2.97 nats


def test_glow_on_digits_initialises_actnorm_and_reports_a_bound(tmp_path):
    torch.manual_seed(0)
    model = Glow(Glow.Config(shape=(1, 8, 8), levels=17, scales=2, steps=1, hidden=8))
    run = untaught.train(model, "digits", out=tmp_path / "run", epochs=1, progress=False, samples=4, threads=1)
    layers = [m for m in run.model.modules() if isinstance(m, ActNorm)]
    assert layers and all(bool(m.initialized) for m in layers)
    loaded = Glow.from_pretrained(tmp_path / "run")
    assert all(bool(m.initialized) for m in loaded.modules() if isinstance(m, ActNorm))
    m = run.metrics
    assert m["test_nll_kind"] == "lower bound" and 0 < m["test_bpd"] < 8
    assert (tmp_path / "run" / "samples.png").is_file()


def test_flow_plus_plus_on_digits_improves_its_variational_bound(tmp_path):
    torch.manual_seed(0)
    config = FlowPlusPlus.Config(shape=(1, 8, 8), levels=17, steps=(1, 1, 1), hidden=8, blocks=1, heads=2, mixtures=2)
    model = FlowPlusPlus(config)
    data = prepare("digits")
    before = evaluate_nll(model, data.test)
    run = untaught.train(
        model, data, out=tmp_path / "run", epochs=2, batch_size=32, progress=False, samples=0, threads=1
    )
    m = run.metrics
    assert before.kind == m["test_nll_kind"] == "lower bound"
    assert m["test_bpd"] < before.bpd - 0.5
    # the trained q beats uniform noise under the same trained flow: the bound the paper's dequantiser buys
    model = FlowPlusPlus.from_pretrained(tmp_path / "run")
    uniform = FlowPlusPlus(FlowPlusPlus.Config(**{**vars(model.config), "dequantization": "uniform"}))
    uniform.load_state_dict(model.state_dict(), strict=False)
    assert evaluate_nll(model, data.test).nats < evaluate_nll(uniform, data.test).nats

"""``untaught rbm-pictures`` and ``untaught ais`` on a small trained run."""

from __future__ import annotations

import re

import pytest
import torch
from PIL import Image

import untaught
from untaught.cli import main
from untaught.io import read_json
from untaught.leaderboard import read_entry
from untaught.models.boltzmann import DBM, RBM, DBMConfig, RBMConfig


@pytest.fixture(scope="module")
def rbm_run(tmp_path_factory):
    torch.manual_seed(0)
    model = RBM(RBMConfig(shape=(1, 8, 8), hidden=10, chains=20))
    out = tmp_path_factory.mktemp("rbm") / "run"
    untaught.train(model, "digits", binarize="static", epochs=2, out=out, progress=False, threads=1, samples=0)
    return out


def test_pictures_of_filters_and_chains(rbm_run, tmp_path, capsys):
    assert (
        main(["rbm-pictures", str(rbm_run), "-o", str(tmp_path), "--chains", "3", "--steps", "40", "--every", "10"])
        == 0
    )
    filters = Image.open(tmp_path / "filters.png")
    chains = Image.open(tmp_path / "chains.png")
    # 10 filters of 8x8 enlarged 4x: a 4 x 3 grid; chains: 3 rows of 4 snapshots
    assert filters.size == (4 * 33 + 1, 3 * 33 + 1) and chains.size == (4 * 33 + 1, 3 * 33 + 1)
    assert "wrote 3 Gibbs chains" in capsys.readouterr().out


def test_pictures_and_ais_of_a_three_layer_dbm(tmp_path, capsys):
    torch.manual_seed(0)
    model = DBM(DBMConfig(shape=(1, 8, 8), hidden=(6, 5, 4), chains=10, pretrain_epochs=1))
    run = tmp_path / "run"
    untaught.train(model, "digits", binarize="static", epochs=4, out=run, progress=False, threads=1, samples=0)
    args = ["rbm-pictures", str(run), "-o", str(tmp_path), "--chains", "2", "--steps", "30", "--every", "10"]
    assert main(args) == 0
    # the 6 first-layer filters: a 3 x 2 grid; chains: 2 rows of 3 snapshots
    assert Image.open(tmp_path / "filters.png").size == (3 * 33 + 1, 2 * 33 + 1)
    assert Image.open(tmp_path / "chains.png").size == (3 * 33 + 1, 2 * 33 + 1)
    out = capsys.readouterr().out
    assert "wrote 6 filters" in out and "wrote 2 Gibbs chains" in out
    # the snapshots are the DBM's own odd/even sweeps
    from untaught.models.boltzmann.commands import chain_snapshots

    loaded = DBM.from_pretrained(run)
    shots = chain_snapshots(loaded, 2, 30, 10, torch.Generator().manual_seed(0))
    _, expected = loaded.gibbs(2, 30, torch.Generator().manual_seed(0), every=10)
    assert torch.equal(shots, torch.stack(expected, 1).reshape(-1, 1, 8, 8))
    # untaught ais: the exact log Z (odd layers: 6 + 4 units) inside the AIS interval, a bound on the test split
    assert main(["ais", str(run), "--exact"]) == 0
    exact = float(re.search(r"log Z = (-?[\d.]+) nats \(exact\)", capsys.readouterr().out).group(1))
    assert main(["ais", str(run), "--chains", "50", "--betas", "300"]) == 0
    out = capsys.readouterr().out
    low, high = map(float, re.search(r"interval \[(-?[\d.]+), (-?[\d.]+)\]", out).groups())
    assert low <= exact <= high and "lower bound, log Z AIS estimate" in out


def test_ais_interval_holds_the_exact_log_z(rbm_run, capsys):
    assert main(["ais", str(rbm_run), "--exact"]) == 0
    exact = float(re.search(r"log Z = (-?[\d.]+) nats \(exact\)", capsys.readouterr().out).group(1))
    assert main(["ais", str(rbm_run), "--chains", "50", "--betas", "300"]) == 0
    out = capsys.readouterr().out
    low, high = map(float, re.search(r"interval \[(-?[\d.]+), (-?[\d.]+)\]", out).groups())
    assert low <= exact <= high
    assert "test log-likelihood" in out and "AIS estimate" in out
    # the run's own log Z is exact: the AIS figure is not recorded, the leaderboard keeps the exact NLL
    metrics = read_json(rbm_run / "metrics.json")
    entry = read_entry(rbm_run)
    assert "evaluations" not in metrics and entry.method == "" and entry.nats == metrics["test_nll_nats"]


def test_ais_figures_of_an_ais_run_are_recorded_and_the_most_temperatures_win(tmp_path, capsys):
    torch.manual_seed(0)
    model = RBM(RBMConfig(shape=(1, 8, 8), hidden=10, chains=20, log_z="ais", ais_chains=10, ais_betas=30))
    run = tmp_path / "run"
    untaught.train(model, "digits", binarize="static", epochs=1, out=run, progress=False, threads=1, samples=0)
    for betas in ("300", "100"):
        assert main(["ais", str(run), "--chains", "50", "--betas", betas]) == 0
    out = capsys.readouterr().out
    first = float(re.findall(r"test log-likelihood: (-?[\d.]+)", out)[0])
    records = read_json(run / "metrics.json")["evaluations"]
    assert [r["method"] for r in records] == ["ais_betas=300", "ais_betas=100"]
    assert all(r["nll_kind"] == "estimate" and r["split"] == "test" for r in records)
    entry = read_entry(run)
    assert entry.method == "ais_betas=300" and entry.nats == pytest.approx(-first, abs=1e-3)


def test_pictures_refuse_other_models(tmp_path, capsys):
    from untaught.models import MADE, MADEConfig

    MADE(MADEConfig(shape=(1, 8, 8), levels=17, hidden=(8,))).save_pretrained(tmp_path)
    assert main(["rbm-pictures", str(tmp_path)]) == 2
    assert "holds a made model; rbm-pictures draws RBMs and DBMs" in capsys.readouterr().err

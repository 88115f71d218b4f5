"""The leaderboard: one table per dataset, best first, bounds always marked, clear errors, nothing half-written."""

from __future__ import annotations

import csv
import io
import json

import pytest

from untaught.cli import main
from untaught.leaderboard import Entry, by_dataset, collect, csv_text, markdown, read_csv, read_entry, rows


def make_run(root, name, *, model="made", data="digits", binarize=None, nats=90.0, kind="exact", seconds=10.0,
             evaluations=None, metrics=True, test=True, model_config=None):  # fmt: skip
    folder = root / name
    folder.mkdir(parents=True)
    train = {"data": data, "binarize": binarize, "levels": None, "epochs": 5, "max_time": None}
    config = {"model": model, "model_config": model_config or {}, "train": train, "created": "2026-11-25T05:00:00+0000",
              "command": f"untaught train {model} --data {data}"}  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config))
    if metrics:
        values = {"epochs": 5, "fit_seconds": seconds, "parameters": 1234}
        if test:
            values |= {
                "test_nll_nats": nats,
                "test_nll_stderr_nats": 0.5,
                "test_bpd": nats / 100,
                "test_nll_kind": kind,
            }
        else:
            values |= {"test_loss": 0.1}
        if evaluations:
            values["evaluations"] = evaluations
        (folder / "metrics.json").write_text(json.dumps(values))
    return folder


def iwae(nats):
    return {"split": "test", "nll_nats": nats, "nll_stderr_nats": 0.4, "bpd": nats / 100, "nll_kind": "lower bound",
            "method": "IWAE k=5000"}  # fmt: skip


def test_runs_are_ordered_best_first_within_each_dataset(tmp_path):
    make_run(tmp_path, "a", nats=95.0)
    make_run(tmp_path, "b", nats=88.0, model="nade")
    make_run(tmp_path, "c", nats=91.0, model="vae", kind="lower bound")
    make_run(tmp_path, "d", nats=230.0, data="fashion-mnist", binarize="dynamic")
    entries, skipped = collect([tmp_path])
    assert not skipped
    groups = by_dataset(entries)
    assert list(groups) == ["digits", "fashion-mnist (dynamic binarisation)"]
    assert [e.nats for e in groups["digits"]] == [88.0, 91.0, 95.0]
    assert [r["model"] for r in rows(groups["digits"])] == ["nade", "vae", "made"]
    assert {e.model: e.family for e in groups["digits"]}["made"] == "autoregressive"


def test_variants_and_conditional_likelihoods_are_named(tmp_path):
    make_run(tmp_path, "row", model="pixelrnn", model_config={"layer": "row"})
    make_run(tmp_path, "diagonal", model="pixelrnn", model_config={"layer": "diagonal"})
    make_run(tmp_path, "plain", model="gated-pixelcnn", model_config={"num_classes": 0, "lowres": 0})
    make_run(tmp_path, "classes", model="gated-pixelcnn", model_config={"num_classes": 10, "lowres": 0})
    make_run(tmp_path, "both", model="gated-pixelcnn", model_config={"num_classes": 10, "lowres": 2})
    names = {e.folder.name: e.model for e in collect([tmp_path])[0]}
    assert names == {
        "row": "pixelrnn (Row LSTM)",
        "diagonal": "pixelrnn (Diagonal BiLSTM)",
        "plain": "gated-pixelcnn",
        "classes": "gated-pixelcnn (NLL given the class)",
        "both": "gated-pixelcnn (NLL given the class and the image / 2)",
    }
    assert {e.family for e in collect([tmp_path])[0]} == {"autoregressive"}


def test_bounds_and_estimates_are_never_shown_unmarked(tmp_path):
    make_run(tmp_path, "exact", nats=90.0)
    make_run(tmp_path, "bound", nats=85.0, model="vae", kind="lower bound")
    make_run(tmp_path, "ais", nats=87.0, model="rbm", kind="estimate")
    entries, _ = collect([tmp_path])
    table = {r["model"]: r for r in rows(entries)}
    assert table["vae"]["test NLL (nats)"].startswith("≤ ") and table["vae"]["bits/dim"].startswith("≤ ")
    assert table["rbm"]["test NLL (nats)"].startswith("≈ ") and table["rbm"]["bits/dim"].startswith("≈ ")
    assert table["made"]["test NLL (nats)"][0].isdigit() and table["made"]["bits/dim"][0].isdigit()
    text = markdown("digits", entries)
    assert "≤ 85.00" in text and "≈ 87.00" in text and "lower bound" in text
    for record in csv.DictReader(io.StringIO(csv_text(entries))):
        assert record["nll_kind"] == {"made": "exact", "vae": "lower bound", "rbm": "estimate"}[record["model"]]


def test_the_tightest_recorded_bound_is_used_and_an_exact_value_wins(tmp_path):
    folder = make_run(
        tmp_path, "vae", model="vae", nats=100.0, kind="lower bound", evaluations=[iwae(96.0), iwae(97.0)]
    )
    entry = read_entry(folder)
    assert entry.nats == 96.0 and entry.kind == "lower bound" and entry.method == "IWAE k=5000"
    exact = make_run(tmp_path, "mixed", nats=99.0, evaluations=[iwae(90.0)])
    assert read_entry(exact).nats == 99.0 and read_entry(exact).kind == "exact"


def test_the_ais_of_most_temperatures_wins_over_cheaper_estimates(tmp_path):
    # an AIS log Z is biased low: a cheaper AIS gives a lower NLL that is a worse estimate, not a tighter bound
    def ais(nats, betas):
        return {"split": "test", "nll_nats": nats, "nll_stderr_nats": 0.6, "bpd": nats / 100,
                "nll_kind": "lower bound", "method": f"ais_betas={betas}"}  # fmt: skip

    folder = make_run(tmp_path, "dbm", model="dbm", nats=140.9, kind="lower bound",
                      evaluations=[ais(149.7, 14500), ais(145.0, 3000)])  # fmt: skip
    entry = read_entry(folder)
    assert entry.nats == 149.7 and entry.method == "ais_betas=14500"


def test_runs_without_test_metrics_are_left_out_with_the_reason(tmp_path, capsys):
    make_run(tmp_path, "good", nats=90.0)
    make_run(tmp_path, "unfinished", metrics=False)
    make_run(tmp_path, "autoencoder", model="ae", test=False)
    entries, skipped = collect([tmp_path])
    assert [e.folder.name for e in entries] == ["good"]
    assert any("unfinished" in s and "not finished" in s for s in skipped)
    assert any("autoencoder" in s and "no test NLL" in s for s in skipped)


def test_a_lone_run_without_test_metrics_is_an_error_and_writes_nothing(tmp_path, capsys):
    folder = make_run(tmp_path, "autoencoder", model="ae", test=False)
    assert main(["leaderboard", str(folder), "--out", str(tmp_path / "out")]) == 2
    assert "no test NLL" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_one_table_never_mixes_datasets(tmp_path, capsys):
    make_run(tmp_path, "a", data="digits")
    make_run(tmp_path, "b", data="fashion-mnist", binarize="dynamic")
    entries, _ = collect([tmp_path])
    with pytest.raises(ValueError, match="one table holds one dataset"):
        rows(entries)
    assert main(["leaderboard", str(tmp_path), "--data", "digits,fashion-mnist"]) == 2
    assert "one dataset" in capsys.readouterr().err
    assert not list(tmp_path.glob("leaderboard-*"))


def test_the_command_writes_markdown_csv_and_png_per_dataset(tmp_path, capsys):
    make_run(tmp_path / "runs", "a", nats=95.0)
    make_run(tmp_path / "runs", "b", nats=91.0, model="vae", kind="lower bound", evaluations=[iwae(89.0)])
    make_run(tmp_path / "runs", "c", data="fashion-mnist", binarize="dynamic", nats=230.0)
    out = tmp_path / "board"
    assert main(["leaderboard", str(tmp_path / "runs"), "--data", "digits", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "≤ 89.00" in printed and "fashion" not in printed.split("wrote")[0]
    names = sorted(p.name for p in out.iterdir())
    assert names == ["leaderboard-digits.csv", "leaderboard-digits.md", "leaderboard-digits.png"]
    assert (out / "leaderboard-digits.png").read_bytes()[:4] == b"\x89PNG"
    ranks = [r["model"] for r in csv.DictReader(io.StringIO((out / "leaderboard-digits.csv").read_text()))]
    assert ranks == ["vae", "made"]


def test_a_written_csv_reads_back_to_the_same_table(tmp_path):
    make_run(tmp_path / "runs", "a", nats=95.0)
    make_run(tmp_path / "runs", "b", nats=91.0, model="vae", kind="lower bound", evaluations=[iwae(89.0)])
    entries, _ = collect([tmp_path / "runs"])
    path = tmp_path / "table.csv"
    path.write_text(csv_text(entries))
    again = read_csv(path)
    assert csv_text(again) == csv_text(entries)
    assert markdown("digits", again) == markdown("digits", entries)


def test_entry_is_a_plain_record():
    e = Entry(
        folder=None,
        model="m",
        family="f",
        dataset="d",
        nats=1.0,
        stderr=0.1,
        bpd=0.01,
        kind="exact",
        method="",
        parameters=None,
        seconds=None,
        budget="",
        date="",
        command="",
    )
    assert rows([e])[0]["parameters"] == "?" and rows([e])[0]["training time"] == "?"


def test_evaluations_of_a_subset_of_the_test_set_are_not_ranked(tmp_path):
    part = {**iwae(80.0), "n": 1000}
    whole = {**iwae(95.0), "n": 10000}
    folder = make_run(tmp_path, "vae", model="vae", nats=100.0, kind="lower bound", evaluations=[part, whole])
    metrics = json.loads((folder / "metrics.json").read_text())
    (folder / "metrics.json").write_text(json.dumps({**metrics, "test_n": 10000}))
    assert read_entry(folder).nats == 95.0

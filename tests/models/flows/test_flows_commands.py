"""``untaught flow-pictures``: the pictures of an image flow and of a 2-D flow land in the run folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from untaught.cli import main
from untaught.io import CONFIG, read_json, save_model, write_json
from untaught.models.flows import Glow, RealNVP


def run_folder(model, data: str, path):
    save_model(model, path)
    write_json(path / CONFIG, {**read_json(path / CONFIG), "train": {"data": data}})
    return path


def test_image_flow_pictures(tmp_path, capsys):
    torch.manual_seed(0)
    model = Glow(Glow.Config(shape=(1, 8, 8), levels=17, scales=2, steps=1, hidden=4))
    folder = run_folder(model, "digits", tmp_path / "run")
    assert main(["flow-pictures", str(folder), "-n", "4", "--pairs", "3", "--temperatures", "0.5,1"]) == 0
    temps = np.asarray(Image.open(folder / "temperatures.png"))
    inter = np.asarray(Image.open(folder / "interpolation.png"))
    # tiles of 32 px (8 px enlarged 4x) with 1 px gaps: 2 rows x 4 columns, then 3 rows x 4 columns
    assert temps.shape == (2 * 33 + 1, 4 * 33 + 1) and inter.shape == (3 * 33 + 1, 4 * 33 + 1)
    assert "temperatures 0.5, 1.0" in capsys.readouterr().out


def test_two_dimensional_flow_picture(tmp_path, capsys):
    torch.manual_seed(0)
    model = RealNVP(RealNVP.Config(shape=(2,), levels=None, couplings=1, hidden=8, blocks=1))
    folder = run_folder(model, "moons", tmp_path / "run")
    assert main(["flow-pictures", str(folder)]) == 0
    assert (folder / "flow-2d.png").stat().st_size > 10_000
    integral = float(capsys.readouterr().out.rsplit(":", 1)[1].strip().rstrip(")"))
    assert integral == pytest.approx(1.0, abs=0.01)  # an untrained flow is about N(0, I): mass in [-3, 3]^2


def test_flow_pictures_refuses_other_models(tmp_path, capsys):
    from untaught.models import MADE, MADEConfig

    folder = run_folder(MADE(MADEConfig(hidden=(8,))), "digits", tmp_path / "run")
    assert main(["flow-pictures", str(folder)]) == 2
    assert "flow-pictures draws flows" in capsys.readouterr().err


def test_one_dimensional_flow_from_the_command_line(tmp_path, capsys):
    folder = tmp_path / "cdf"
    args = ["--epochs", "2", "--batch-size", "1000", "--lr", "0.02", "--threads", "1", "--samples", "0"]
    assert main(["train", "cdf-flow", "--data", "bimodal-1d", "--components", "4", *args, "--out", str(folder)]) == 0
    metrics = read_json(folder / "metrics.json")
    assert metrics["test_nll_kind"] == "exact" and 1.45 < metrics["test_nll_nats"] < 1.7  # true density: 1.48
    assert main(["flow-pictures", str(folder)]) == 0
    assert (folder / "flow-1d.png").stat().st_size > 10_000
    assert f"wrote {folder / 'flow-1d.png'}" in capsys.readouterr().out

"""``untaught som`` trains through the engine and draws the map; ``untaught som-pictures`` redraws a run."""

from __future__ import annotations

import json

from PIL import Image

from untaught.cli import main


def test_som_command_trains_reports_and_draws(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["som", "--data", "digits", "--rows", "5", "--cols", "7", "--topology", "hexagonal", "--epochs", "2"]
    assert main([*args, "--threads", "1", "--no-progress", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "test: quantisation error" in text and "topographic error" in text
    config = json.loads((out / "config.json").read_text())
    # the batch rule decays over the first pass and converges in the last
    assert config["model"] == "som" and config["model_config"]["decay_steps"] == 1257 // 256
    for name in ("u_matrix.png", "hits.png", "components.png", "prototypes.png", "model.safetensors"):
        assert (out / name).is_file(), name
    assert Image.open(out / "prototypes.png").size == (7 * 17 + 1, 5 * 17 + 1)  # 8x8 digits enlarged 2x
    again = tmp_path / "again"
    assert main(["som-pictures", str(out), "-o", str(again)]) == 0
    assert (again / "u_matrix.png").read_bytes() == (out / "u_matrix.png").read_bytes()


def test_som_command_names_bad_options(capsys):
    assert main(["som", "--data", "digits", "--neighbourhood", "mexican-hat", "--no-progress"]) == 2
    assert "mexican-hat' has negative weights" in capsys.readouterr().err

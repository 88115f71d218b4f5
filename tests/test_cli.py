"""The command line: listings, the train -> eval -> sample path, and specific errors."""

from __future__ import annotations

import pytest
import torch

from untaught.cli import _train_options, build_parser, main
from untaught.registry import model_names


def test_models_and_datasets_list(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "made" in out and "log_prob" in out
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "1x8x8" in out and "17" in out and "fashion-mnist" in out


def test_train_eval_sample(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "made", "--data", "digits", "--epochs", "1", "--hidden", "32", "--no-progress", "--threads", "1"]
    assert main([*args, "--out", str(run)]) == 0
    assert "test NLL" in capsys.readouterr().out
    assert main(["eval", str(run)]) == 0
    out = capsys.readouterr().out
    assert "nats" in out and "bits/dim" in out
    assert main(["sample", str(run), "-n", "9", "-o", str(tmp_path / "s.png")]) == 0
    from PIL import Image

    assert Image.open(tmp_path / "s.png").size[0] > 8 * 3


def test_compare_is_paired(tmp_path, capsys):
    base = ["train", "made", "--data", "digits", "--epochs", "1", "--hidden", "32", "--no-progress", "--threads", "1"]
    a, b, other = tmp_path / "a", tmp_path / "b", tmp_path / "other"
    assert main([*base, "--out", str(a)]) == 0
    assert main([*base, "--hidden", "8", "--out", str(b)]) == 0
    assert main([*base, "--levels", "9", "--out", str(other)]) == 0
    capsys.readouterr()
    assert main(["compare", str(a), str(a), "--images", "50"]) == 0  # a model against itself: exactly 0
    out = capsys.readouterr().out
    assert "A - B: +0.0000 ± 0.0000 nats" in out and "no difference shown" in out
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "paired over the same 360 examples" in out
    assert main(["compare", str(a), str(other)]) == 2
    assert "a paired comparison needs the same data" in capsys.readouterr().err
    assert main(["compare", str(a), str(b), "--images", "1"]) == 2
    assert "--images must be in [2, 360] (the test split's size); got 1" in capsys.readouterr().err


def test_paired_standard_error_removes_shared_variation():
    from untaught.evaluation import paired_difference

    gen = torch.Generator().manual_seed(0)
    shared = 100 * torch.randn(1000, generator=gen, dtype=torch.float64)  # per-example difficulty
    a = shared + torch.randn(1000, generator=gen, dtype=torch.float64)
    b = shared + 0.5 + torch.randn(1000, generator=gen, dtype=torch.float64)
    mean, stderr = paired_difference(a, b)
    assert abs(mean + 0.5) < 4 * stderr and stderr < 0.1  # unpaired, each mean has a 3.2 standard error
    with pytest.raises(ValueError, match="same N >= 2"):
        paired_difference(a, b[:10])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "nope"], "unknown model 'nope'; expected one of: "),
        (["train", "made", "--data", "nope"], "unknown dataset 'nope'"),
        (["eval", "/nonexistent/run"], "run folder '/nonexistent/run' does not exist"),
        (["train", "made", "--epochs", "0"], "epochs must be an integer >= 1; got 0"),
        (["train", "made", "--levels", "40"], "levels must be in [2, 17] for 'digits'; got 40"),
        (["train", "--resume", "/nonexistent/run"], "does not exist"),
    ],
)
def test_errors_are_specific(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_hidden_must_be_integers():
    with pytest.raises(SystemExit):
        main(["train", "made", "--hidden", "a,b"])


@pytest.mark.parametrize("name", model_names())
def test_every_model_has_a_train_command_whose_options_do_not_collide(name):
    """Each model's options beside the engine's (argparse refuses a flag defined twice), and the
    engine's ``--init-from`` reaches the training options whatever the model calls its own fields."""
    args = build_parser(name).parse_args(["train", name, "--init-from", "runs/a"])
    assert _train_options(args)["init"] == "runs/a"


def test_the_som_keeps_its_own_init_option():
    args = build_parser("som").parse_args(["train", "som", "--init", "random"])
    assert args.init == "random" and _train_options(args)["init"] is None

"""The dependency audit (untaught audit / masks): it finds PixelCNN's blind spot, none in Gated
PixelCNN, MADE, PixelCNN++ or a Diagonal BiLSTM, no leaks in any of them, and a leak when one is
planted."""

from __future__ import annotations

import torch

from untaught.audit import audit, field_picture, mask_panels
from untaught.cli import main
from untaught.models import MADE, MADEConfig
from untaught.models.autoregressive.gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig
from untaught.models.autoregressive.pixelcnn import PixelCNN, PixelCNNConfig


def test_pixelcnn_blind_spot_and_gated_full_field():
    torch.manual_seed(0)
    pcnn = PixelCNN(PixelCNNConfig(shape=(1, 6, 6), levels=2, blocks=4, channels=8, head=8, kernel=3)).double()
    gated = GatedPixelCNN(GatedPixelCNNConfig(shape=(1, 6, 6), levels=2, layers=5, channels=8, head=8, kernel=3))
    a, b = audit(pcnn), audit(gated.double())
    assert a.leaks == 0 and b.leaks == 0
    p = 3 * 6 + 2
    assert not a.used[p, 2 * 6 + 4] and a.before[p, 2 * 6 + 4]  # (3, 2) never sees (2, 4)
    assert a.unseen.sum() > 0 and b.unseen.sum() == 0
    pic = field_picture(a, (3, 2))
    assert tuple(pic[2, 4].tolist()) == (235, 50, 50) and tuple(pic[3, 2].tolist()) == (40, 90, 255)


def test_audit_catches_a_planted_leak():
    torch.manual_seed(0)
    model = PixelCNN(PixelCNNConfig(shape=(1, 4, 4), levels=2, blocks=1, channels=4, head=4, kernel=3)).double()
    model.input.mask[:, :, 1, 1] = 1  # mask A turned into mask B: every pixel sees itself
    result = audit(model)
    assert result.leaks >= 16 and bool(result.used.diagonal().all())


def test_made_audit_and_mask_pictures():
    model = MADE(MADEConfig(shape=(1, 3, 3), levels=2, hidden=(30,))).double()
    assert audit(model).leaks == 0 and audit(model).unseen.sum() == 0
    names = [name for name, _ in mask_panels(model)]
    assert names[0].startswith("hidden 1") and names[-1] == "output <- input reach"
    reach = mask_panels(model)[-1][1]
    lower = torch.ones(9, 9, dtype=torch.bool).tril(-1)
    assert (reach[lower] == 255).all() and (reach[~lower] == 0).all()  # strictly lower: raster order


def test_commands_write_pictures(tmp_path, capsys):
    assert main(["audit", "pixelcnn", "--shape", "1,5,5", "-o", str(tmp_path / "a.png")]) == 0
    assert "0 leaks" in capsys.readouterr().out and (tmp_path / "a.png").is_file()
    assert main(["masks", "gated-pixelcnn", "--shape", "1,5,5", "-o", str(tmp_path / "m.png")]) == 0
    assert (tmp_path / "m.png").is_file()
    assert main(["audit", "no-such-model"]) == 2


def test_audit_builds_variants_with_set(tmp_path, capsys):
    """--set picks config fields: a Diagonal BiLSTM and a small PixelCNN++ see every earlier pixel."""
    for target, settings in (("pixelrnn", ["layer=diagonal"]), ("pixelcnn++", ["channels=4", "resnets=2"])):
        args = ["audit", target, "--shape", "1,6,6", "-o", str(tmp_path / "a.png")]
        assert main(args + [f"--set={item}" for item in settings]) == 0
        assert "all pixels: 0 (output, earlier input) pairs unseen" in capsys.readouterr().out
    assert main(["audit", "pixelrnn", "--set", "layer"]) == 2
    assert "--set expects FIELD=VALUE" in capsys.readouterr().err
    assert main(["audit", "pixelrnn", "--set", "width=3"]) == 2
    assert "has no field(s) ['width']" in capsys.readouterr().err


def test_complete_command_on_a_trained_run(tmp_path, capsys):
    import untaught

    torch.manual_seed(0)
    model = GatedPixelCNN(GatedPixelCNNConfig(shape=(1, 8, 8), levels=17, layers=1, channels=8, head=8, lowres=2))
    run = untaught.train(model, "digits", out=tmp_path / "run", epochs=1, progress=False, samples=0, threads=1)
    assert main(["complete", str(run.path), "--rows", "4", "-n", "3", "--samples", "2"]) == 0
    assert (run.path / "complete-4rows.png").is_file()
    assert main(["complete", str(run.path), "--superres", "-n", "3", "-o", str(tmp_path / "sr.png")]) == 0
    assert (tmp_path / "sr.png").is_file()
    assert main(["complete", str(run.path), "--rows", "9"]) == 2
    assert "--rows must be in [0, 8]" in capsys.readouterr().err

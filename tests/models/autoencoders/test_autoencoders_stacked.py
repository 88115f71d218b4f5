"""Stacked autoencoder: the schedule, frozen layers during greedy pretraining, fine-tuning with labels."""

from __future__ import annotations

import math

import pytest
import torch

import untaught
from untaught.data import load_split
from untaught.models.autoencoders.stacked import StackedAutoencoder, StackedAutoencoderConfig


def build(**fields) -> StackedAutoencoder:
    torch.manual_seed(0)
    return StackedAutoencoder(StackedAutoencoderConfig(**{"shape": (1, 8, 8), "levels": 17, **fields}))


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> set[str]:
    """Names of the modules (encoders.0, decoders.1, head) whose parameters differ."""
    return {k.rsplit(".", 1)[0] for k in before if not torch.equal(before[k], after[k])}


def test_the_phase_is_a_function_of_the_epoch():
    model = build(hidden=(8, 6, 4), pretrain_epochs=2)
    assert [model.phase(e) for e in range(8)] == [0, 0, 1, 1, 2, 2, None, None]
    assert model.phase(None) is None
    assert build(pretrain_epochs=0).phase(0) is None


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_pretraining_layer_k_gives_gradients_to_layer_k_only(layer):
    model = build(hidden=(8, 6, 4), pretrain_epochs=1).double().train()
    x = torch.randint(0, 17, (16, 1, 8, 8), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    loss, metrics = model.loss(x, epoch=layer, generator=torch.Generator().manual_seed(1))
    loss.backward()
    with_grad = {name.rsplit(".", 1)[0] for name, p in model.named_parameters() if p.grad is not None}
    assert with_grad == {f"encoders.{layer}", f"decoders.{layer}"}
    assert metrics["layer"].item() == layer


def test_greedy_pretraining_through_the_engine_leaves_the_other_layers_unchanged(tmp_path):
    model = build(hidden=(16, 8), pretrain_epochs=2, classes=10)
    options = dict(progress=False, threads=1, samples=0, select="last", lr=0.01, batch_size=16)
    start = snapshot(model)
    run = untaught.train(model, "digits", epochs=2, out=tmp_path / "run", **options)
    after_0 = snapshot(run.model)
    assert changed(start, after_0) == {"encoders.0", "decoders.0"}
    after_1 = snapshot(untaught.resume(tmp_path / "run", epochs=4, progress=False).model)
    assert changed(after_0, after_1) == {"encoders.1", "decoders.1"}
    final = untaught.resume(tmp_path / "run", epochs=10, progress=False)
    after_ft = snapshot(final.model)
    assert changed(after_1, after_ft) == {"encoders.0", "encoders.1", "head"}  # decoders take no part
    assert final.metrics["test_loss"] < 0.6 * math.log(10)  # cross-entropy well below chance
    x = load_split("digits", "test")
    with torch.no_grad():
        accuracy = (final.model.classify(x.x).argmax(1) == x.y).double().mean().item()
    assert accuracy > 0.5  # chance: 0.1


def test_fine_tuning_needs_labels():
    model = build(hidden=(8,), pretrain_epochs=1)
    x = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"fine-tuning needs labels.*have none"):
        model.loss(x, epoch=3)
    with pytest.raises(ValueError, match=r"unlabelled examples \(label -1\)"):
        model.loss(x, epoch=3, condition=torch.tensor([0, 1, -1, 2]))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\)"):
        model.loss(x, condition=torch.tensor([0, 1, 10, 2]))
    model.loss(x, epoch=0)  # pretraining needs no labels


def test_decode_inverts_through_the_pretraining_decoders():
    model = build(hidden=(8, 4)).double()
    z = torch.rand(3, 4, dtype=torch.float64)
    expected = torch.sigmoid(model.decoders[0](torch.sigmoid(model.decoders[1](z))))
    assert torch.allclose(model.decode(z).flatten(1), expected)
    assert model.encode(torch.zeros(2, 1, 8, 8, dtype=torch.uint8)).shape == (2, 4)


def test_the_engine_refuses_unlabelled_data_before_writing_anything(tmp_path):
    from untaught.data import Split
    from untaught.training import prepare
    from untaught.training.data import TrainingData

    digits = prepare("digits")
    unlabelled = Split(digits.train.x, torch.full_like(digits.train.y, -1), digits.train.levels)
    data = TrainingData("digits-unlabelled", unlabelled, digits.val, digits.test, digits.levels)
    with pytest.raises(ValueError, match=r"trains on labels.*'digits-unlabelled' has unlabelled training examples"):
        untaught.train(build(hidden=(8,)), data, out=tmp_path / "run", epochs=1, progress=False)
    assert not (tmp_path / "run").exists()

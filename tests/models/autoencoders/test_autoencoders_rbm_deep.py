"""RBM-pretrained deep autoencoder: CD surrogate = the RBM's CD gradient, unrolled = up-down pass."""

from __future__ import annotations

import pytest
import torch

from untaught.models.autoencoders.rbm_deep import RBMDeepAutoencoder, RBMDeepAutoencoderConfig


def build(**fields) -> RBMDeepAutoencoder:
    torch.manual_seed(0)
    config = dict(shape=(1, 8, 8), levels=17, hidden=(12, 6, 3), pretrain_epochs=1, init_std=0.3)
    return RBMDeepAutoencoder(RBMDeepAutoencoderConfig(**{**config, **fields})).double()


def batch(n: int = 10) -> torch.Tensor:
    return torch.randint(0, 17, (n, 1, 8, 8), generator=torch.Generator().manual_seed(0)).to(torch.uint8)


def test_unrolled_autoencoder_before_fine_tuning_reconstructs_as_the_rbm_up_down_pass():
    model = build()
    for rbm in model.rbms:  # pretrained-looking RBMs: non-zero biases too
        with torch.no_grad():
            rbm.visible_bias.normal_(0, 0.5)
            rbm.hidden_bias.normal_(0, 0.5)
    x = batch()
    assert torch.allclose(model.reconstruct(x), model.rbm_up_down(x), atol=1e-12, rtol=0)
    # by hand: sigmoid up through every RBM, sigmoid down through the transposed weights
    h = x.flatten(1).double() / 16
    for rbm in model.rbms:
        h = torch.sigmoid(h @ rbm.weight + rbm.hidden_bias)
    for rbm in reversed(model.rbms):
        h = torch.sigmoid(h @ rbm.weight.T + rbm.visible_bias)
    assert torch.allclose(model.reconstruct(x).flatten(1), h, atol=1e-12, rtol=0)


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_cd_surrogate_gradient_is_the_rbm_cd_gradient_of_that_layer_only(layer):
    model = build()
    x = batch()
    loss = model.pretrain_loss(x, layer, torch.Generator().manual_seed(3))
    loss.backward()
    rbm = model.rbms[layer]
    with torch.no_grad():
        v = model.rbm_up(model.inputs(x), upto=layer)
        expected = rbm.statistics(v, torch.Generator().manual_seed(3)).grads
    for name in ("weight", "visible_bias", "hidden_bias"):
        assert torch.allclose(getattr(rbm, name).grad, -expected[name], atol=1e-12), name
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert with_grad == {f"rbms.{layer}.weight", f"rbms.{layer}.visible_bias", f"rbms.{layer}.hidden_bias"}


def test_fine_tuning_moves_the_untied_deltas_and_leaves_the_rbms_frozen():
    model = build()
    loss, metrics = model.loss(batch(), epoch=3)  # after 3 layers x 1 epoch: fine-tuning
    loss.backward()
    assert all(p.grad is None for p in model.rbms.parameters())
    deltas = [model.encoder_delta, model.decoder_delta, model.encoder_bias_delta, model.decoder_bias_delta]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for group in deltas for p in group)
    # encoder and decoder deltas of a layer get different gradients: the weights are untied
    assert not torch.allclose(model.encoder_delta[0].grad, model.decoder_delta[0].grad)
    assert metrics["recon"] > 0


def test_the_schedule_and_bad_input():
    model = build(pretrain_epochs=2)
    assert [model.phase(e) for e in range(8)] == [0, 0, 1, 1, 2, 2, None, None]
    with pytest.raises(ValueError, match=r"z must have shape \(B, 3\)"):
        model.decode(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="hidden must be one or more layer sizes >= 1"):
        RBMDeepAutoencoderConfig(hidden=(10, 0))

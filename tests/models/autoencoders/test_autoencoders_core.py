"""Autoencoder properties: contractive penalty vs autograd, corruptions, clean targets, sparsity, shapes."""

from __future__ import annotations

import pytest
import torch

from untaught.models.autoencoders import Autoencoder, AutoencoderConfig
from untaught.models.autoencoders.corruption import corrupt
from untaught.models.autoencoders.penalties import contractive_batched, kl_sparsity
from untaught.registry import get_model_class


def build(name: str = "ae", **fields) -> Autoencoder:
    torch.manual_seed(0)
    cls = get_model_class(name)
    return cls(cls.Config(**{"shape": (1, 4, 5), "levels": 17, **fields})).double()


def autograd_frobenius(model: Autoencoder, u: torch.Tensor) -> torch.Tensor:
    """||J||_F^2 of the encoder per example, one torch.autograd.functional.jacobian per example."""
    values = []
    for ui in u:
        jac = torch.autograd.functional.jacobian(lambda v: model._encode_float(v.unsqueeze(0)).squeeze(0), ui)
        values.append(jac.pow(2).sum())
    return torch.stack(values)


def test_contractive_closed_form_equals_autograd_jacobian():
    model = build("cae", code=6)
    u = torch.rand(5, 1, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    expected = autograd_frobenius(model, u)
    closed = model.contractive_penalty(u, "closed")
    batched = model.contractive_penalty(u, "batched")
    assert torch.allclose(closed, expected, atol=1e-6, rtol=0)
    assert torch.allclose(batched, expected, atol=1e-6, rtol=0)
    assert expected.min() > 0


@pytest.mark.parametrize(
    "fields",
    [
        dict(hidden=(7, 5), code=3, activation="tanh", code_activation="sigmoid"),
        dict(arch="conv", channels=(2, 3), code=4, activation="relu"),
    ],
    ids=["deep-mlp", "conv"],
)
def test_contractive_batched_path_equals_autograd_jacobian_for_deep_encoders(fields):
    model = build("cae", **fields)
    u = torch.rand(4, 1, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(model.contractive_penalty(u), autograd_frobenius(model, u), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="closed-form"):
        model.contractive_penalty(u, "closed")


def test_contractive_penalty_gradient_is_the_same_by_both_paths():
    model = build("cae", code=3)
    u = torch.rand(6, 1, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    grads = []
    for method in ("closed", "batched"):
        model.zero_grad()
        model.contractive_penalty(u, method).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.encoder.parameters()]))
    assert grads[0].abs().max() > 0
    assert torch.allclose(grads[0], grads[1], atol=1e-10)


def test_batched_jacobian_of_a_linear_map_is_its_weight():
    w = torch.randn(3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    x = torch.randn(5, 8, dtype=torch.float64)
    assert torch.allclose(contractive_batched(x, lambda v: v @ w.T), w.pow(2).sum().expand(5))


# -- corruptions ----------------------------------------------------------------------------------
def _inputs(n: int = 200) -> torch.Tensor:
    # strictly inside (0, 1), so that setting an input to 0 or 1 always changes it
    return 0.05 + 0.9 * torch.rand(n, 1, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(5))


@pytest.mark.parametrize("kind", ["masking", "salt-pepper", "block"])
@pytest.mark.parametrize("level", [0.1, 0.5])
def test_each_corruption_changes_the_stated_fraction_of_inputs(kind, level):
    x = _inputs()
    fractions = []
    for seed in range(5):
        y = corrupt(x, kind, level, block=4, generator=torch.Generator().manual_seed(seed))
        fractions.append((y != x).double().mean())
    changed = torch.stack(fractions)
    # 51,200 inputs per draw (3,200 independent 4x4 blocks): the mean is within a few standard errors
    assert changed.mean().item() == pytest.approx(level, abs=0.015)
    assert torch.equal(x, _inputs()), "corrupt must not modify its input"


def test_masking_and_block_set_inputs_to_zero_and_salt_pepper_to_zero_or_one():
    x, gen = _inputs(), torch.Generator().manual_seed(0)
    for kind in ("masking", "block"):
        y = corrupt(x, kind, 0.3, block=4, generator=gen)
        assert torch.all(y[y != x] == 0)
    y = corrupt(x, "salt-pepper", 0.3, generator=gen)
    hit = y[y != x]
    assert set(hit.unique().tolist()) == {0.0, 1.0}
    assert (hit == 1).double().mean().item() == pytest.approx(0.5, abs=0.02)


def test_block_corruption_drops_whole_aligned_blocks():
    x = _inputs(20)
    y = corrupt(x, "block", 0.4, block=4, generator=torch.Generator().manual_seed(0))
    dropped = (y == 0).double().unfold(2, 4, 4).unfold(3, 4, 4)  # [B, 1, 4, 4, 4, 4] cells
    per_cell = dropped.mean((-1, -2))
    assert torch.all((per_cell == 0) | (per_cell == 1))


def test_gaussian_corruption_changes_every_input_with_the_stated_deviation():
    x = _inputs()
    y = corrupt(x, "gaussian", 0.2, generator=torch.Generator().manual_seed(0))
    assert torch.all(y != x)
    assert (y - x).std().item() == pytest.approx(0.2, rel=0.02)
    assert (y - x).mean().item() == pytest.approx(0.0, abs=0.005)


def test_denoising_loss_compares_the_reconstruction_of_the_corrupted_input_with_the_clean_input():
    model = build("dae", hidden=(6,), code=3, corruption="masking", noise=0.5)
    x = torch.randint(1, 17, (8, 1, 4, 5), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    clean = model.inputs(x)
    noisy = model.corrupt(clean, torch.Generator().manual_seed(7))
    assert not torch.equal(noisy, clean)
    out = model._decode_raw(model._encode_float(noisy))
    loss, _ = model.train().loss(x, generator=torch.Generator().manual_seed(7))
    assert loss.item() == pytest.approx(model.reconstruction_error(out, clean).mean().item(), abs=1e-12)
    assert loss.item() != pytest.approx(model.reconstruction_error(out, noisy).mean().item(), abs=1e-6)
    # no corruption in eval mode (validation and test measure the clean reconstruction)
    clean_out = model._decode_raw(model._encode_float(clean))
    eval_loss, _ = model.eval().loss(x, generator=torch.Generator().manual_seed(7))
    assert eval_loss.item() == pytest.approx(model.reconstruction_error(clean_out, clean).mean().item(), abs=1e-12)


# -- sparsity ------------------------------------------------------------------------------------
def test_kl_sparsity_is_zero_at_the_target_and_matches_the_formula():
    z = torch.full((4, 3), 0.05, dtype=torch.float64)
    assert torch.allclose(kl_sparsity(z, 0.05), torch.zeros(4, dtype=torch.float64))
    z = torch.tensor([[0.1, 0.5], [0.3, 0.7]], dtype=torch.float64)
    rho = torch.tensor([0.2, 0.6], dtype=torch.float64)
    t = 0.05
    expected = (t * torch.log(t / rho) + (1 - t) * torch.log((1 - t) / (1 - rho))).sum()
    assert torch.allclose(kl_sparsity(z, t), expected.expand(2))


def test_sparse_penalty_enters_the_loss_with_its_weight():
    x = torch.randint(0, 17, (8, 1, 4, 5), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    for penalty in ("kl", "l1"):
        model = build("sparse-ae", code=5, penalty=penalty, penalty_weight=2.5).eval()
        loss, metrics = model.loss(x)
        assert loss.item() == pytest.approx((metrics["recon"] + 2.5 * metrics["penalty"]).item(), abs=1e-12)
        z = model.encode(x)
        expected = z.abs().sum(1).mean() if penalty == "l1" else kl_sparsity(z, 0.05).mean()
        assert metrics["penalty"].item() == pytest.approx(expected.item(), abs=1e-12)


# -- shapes and bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 5, 6), (1, 8, 8), (1, 7, 9)])
def test_conv_autoencoder_restores_any_image_size(shape):
    model = build("conv-ae", shape=shape, channels=(2, 3, 4), code=5)
    x = torch.randint(0, 17, (2, *shape)).to(torch.uint8)
    assert model.encode(x).shape == (2, 5)
    assert model.reconstruct(x).shape == (2, *shape)


def test_decode_returns_intensities_in_data_units():
    model = build("ae", code=4)
    out = model.decode(torch.randn(3, 4, dtype=torch.float64) * 10)
    assert out.shape == (3, 1, 4, 5) and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (dict(code=0), "code must be a code size >= 1; got 0"),
        (dict(penalty="kl"), "code_activation must be 'sigmoid' for the KL sparsity penalty"),
        (dict(corruption="masking", noise=1.5), "noise must be a probability in"),
        (dict(arch="conv", shape=(64,)), "shape must be images"),
        (dict(levels=None), "levels must be set"),
        (dict(hidden=(0,)), "hidden must be positive layer sizes"),
    ],
)
def test_bad_configs_name_the_field_and_the_expectation(fields, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        AutoencoderConfig(**{"shape": (1, 4, 5), "levels": 17, **fields})


def test_decode_rejects_codes_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"z must have shape \(B, 4\)"):
        build("ae", code=4).decode(torch.zeros(2, 3))

"""Context encoder: masks where they are said to be, gradients only from the hole, inpainting keeps the context."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from untaught.models.context_encoder import ContextEncoder, ContextEncoderConfig, make_masks
from untaught.models.context_encoder.model import random_mirror


def tiny(**fields) -> ContextEncoder:
    torch.manual_seed(0)
    config = dict(shape=(3, 16, 16), levels=256, hole=8, channels=(4, 6), disc_channels=(4,))
    return ContextEncoder(ContextEncoderConfig(**{**config, **fields})).double()


def images(n: int = 4, size: int = 16) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(0)).to(torch.uint8)


def test_center_mask_is_the_central_square():
    m = make_masks("center", 2, 128, 96, 64)
    assert m.shape == (2, 1, 128, 96)
    expected = torch.zeros(128, 96)
    expected[32:96, 16:80] = 1
    assert torch.equal(m[0, 0], expected) and torch.equal(m[1, 0], expected)


def test_block_masks_are_unions_of_squares_of_half_the_hole_side_inside_the_image():
    m = make_masks("block", 50, 64, 64, 32, torch.Generator().manual_seed(0))
    area = m.sum((1, 2, 3))
    assert torch.all(area >= 16 * 16) and torch.all(area <= 4 * 16 * 16)
    # opening with a 16x16 square (erode, then dilate) leaves a union of such squares unchanged
    eroded = -F.max_pool2d(-m, 16, stride=1)  # 1 where a whole 16x16 square is masked (top-left anchor)
    opened = (F.conv_transpose2d(eroded, torch.ones(1, 1, 16, 16)) > 0).float()
    assert torch.equal(opened, m)
    assert not torch.equal(m[0], m[1])  # random positions


def test_region_masks_cover_exactly_the_area_of_the_central_hole():
    m = make_masks("region", 20, 64, 48, 24, torch.Generator().manual_seed(1))
    assert torch.all(m.sum((1, 2, 3)) == 24 * 24)
    assert set(m.unique().tolist()) == {0.0, 1.0}
    assert not torch.equal(m[0], m[1])


def test_masks_are_reproducible_from_the_generator():
    for kind in ("block", "region"):
        a = make_masks(kind, 3, 32, 32, 16, torch.Generator().manual_seed(5))
        b = make_masks(kind, 3, 32, 32, 16, torch.Generator().manual_seed(5))
        assert torch.equal(a, b)


@pytest.mark.parametrize("log_mse", [False, True])
@pytest.mark.parametrize("kind", ["center", "block", "region"])
def test_reconstruction_loss_has_zero_gradient_from_pixels_outside_the_hole(kind, log_mse):
    model = tiny(mask=kind)
    u = model.inputs(images())
    mask = model.masks(len(u), torch.Generator().manual_seed(0))
    out = model.predict(u, mask).detach().requires_grad_(True)
    target = u.clone().requires_grad_(True)
    (model.log_mse_loss if log_mse else model.reconstruction_loss)(out, target, mask).backward()
    outside = (mask == 0).expand_as(out)
    assert torch.all(out.grad[outside] == 0) and torch.all(target.grad[outside] == 0)
    assert torch.all(out.grad[~outside] != 0)


@pytest.mark.parametrize("skips", [False, True])
def test_the_network_never_sees_the_pixels_in_the_hole(skips):
    model = tiny(skips=skips).eval()
    x = images()
    mask = model.masks(len(x))
    u = model.inputs(x).requires_grad_(True)
    model.predict(u, mask).sum().backward()
    assert torch.all(u.grad[(mask == 1).expand_as(u)] == 0)
    assert u.grad[(mask == 0).expand_as(u)].abs().sum() > 0


def test_inpaint_changes_only_the_hole():
    model = tiny().eval()
    x = images()
    mask = make_masks("region", len(x), 16, 16, 8, torch.Generator().manual_seed(3))
    filled = model.inpaint(x, mask)
    outside = (mask == 0).expand_as(x)
    assert filled.dtype == torch.uint8 and torch.equal(filled[outside], x[outside])
    assert not torch.equal(filled[~outside], x[~outside])


@pytest.mark.parametrize("skips", [False, True])
def test_mean_offset_makes_zero_decoder_logits_the_mean_fill(skips):
    model = tiny(mask="region", skips=skips).eval()
    last = model.decoder[-1][-1]
    torch.nn.init.zeros_(last.weight), torch.nn.init.zeros_(last.bias)
    u = model.inputs(images())
    mask = model.masks(len(u), torch.Generator().manual_seed(2))
    keep = (1 - mask).expand_as(u)
    mean = (u * keep).sum((2, 3)) / keep.sum((2, 3))
    assert torch.allclose(model.predict(u, mask), mean[:, :, None, None].expand_as(u), atol=1e-12)
    model.config.mean_offset = False
    assert torch.allclose(model.predict(u, mask), torch.full_like(u, 0.5))


def test_log_mse_is_the_mean_psnr_in_the_holes_up_to_a_factor():
    model = tiny(mask="region", adversarial_weight=0.0, flip=False, log_mse=True).eval()
    x = images(6)
    u = model.inputs(x)
    mask = model.masks(len(u), torch.Generator().manual_seed(0))
    out = model.predict(u, mask)
    out = torch.cat([u[:1] + 1e-3, out[1:]])  # one near-perfect fill: per-image and batch means part
    hole = mask[:, 0].bool()
    mse = torch.stack([((o - v)[:, h] ** 2).mean() for o, v, h in zip(out, u, hole, strict=True)])
    psnr = 10 * torch.log10(1 / mse)
    log_mse = model.log_mse_loss(out, u, mask)
    assert torch.allclose(log_mse, torch.log(mse + 1e-5).mean(), atol=1e-12)
    assert torch.allclose(log_mse, -math.log(10) / 10 * psnr.clamp(max=50).mean(), atol=0.1)
    assert not torch.allclose(log_mse, torch.log(model.reconstruction_loss(out, u, mask) + 1e-5), atol=0.5)
    out = model.predict(u, mask)
    loss, metrics = model.loss(x, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(loss, model.config.reconstruction_weight * model.log_mse_loss(out, u, mask))
    assert torch.allclose(metrics["recon"], model.reconstruction_loss(out, u, mask))  # the MSE, for comparison


def test_random_mirror_flips_whole_images_left_right_reproducibly():
    u = torch.rand(64, 3, 5, 7, generator=torch.Generator().manual_seed(1))
    out = random_mirror(u, torch.Generator().manual_seed(2))
    flipped = torch.tensor([torch.equal(o, v.flip(-1)) for o, v in zip(out, u, strict=True)])
    kept = torch.tensor([torch.equal(o, v) for o, v in zip(out, u, strict=True)])
    assert torch.all(flipped ^ kept) and 16 < int(flipped.sum()) < 48
    assert torch.equal(out, random_mirror(u, torch.Generator().manual_seed(2)))


def test_training_loss_sees_mirrored_images_and_evaluation_does_not():
    model = tiny(adversarial_weight=0.0).train()
    x = images(8)
    mirrored = random_mirror(model.inputs(x), torch.Generator().manual_seed(0))
    model.config.flip = False
    by_hand = model.loss((mirrored * 255).round().to(torch.uint8), generator=torch.Generator().manual_seed(0))[0]
    model.config.flip = True
    assert torch.allclose(model.loss(x, generator=torch.Generator().manual_seed(0))[0], by_hand)
    model.eval()
    u, mask = model.inputs(x), model.masks(8)
    expected = model.config.reconstruction_weight * model.reconstruction_loss(model.predict(u, mask), u, mask)
    assert torch.allclose(model.loss(x)[0], expected)


def test_each_network_gets_only_the_gradient_of_its_own_objective():
    model = tiny(flip=False).train()
    x = images()
    names = [n for n, _ in model.named_parameters()]

    def grads(loss):
        model.zero_grad()
        loss.backward()
        return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]

    g_total = grads(model.loss(x, generator=torch.Generator().manual_seed(0))[0])
    u = model.inputs(x)
    mask = model.masks(len(u), torch.Generator().manual_seed(0))
    bce = F.binary_cross_entropy_with_logits
    out = model.predict(u, mask)
    filled = u * (1 - mask) + out * mask
    # discriminator: real vs the detached fake, nothing from the generator's adversarial term
    real, fake = model.discriminator(u), model.discriminator(filled.detach())
    g_disc = grads(bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake)))
    # generator: its weighted reconstruction and adversarial terms, nothing from the discriminator's loss
    out = model.predict(u, mask)
    filled = u * (1 - mask) + out * mask
    fooled = model.discriminator(filled)
    c = model.config
    g_gen = grads(
        c.reconstruction_weight * model.reconstruction_loss(out, u, mask)
        + c.adversarial_weight * bce(fooled, torch.ones_like(fooled))
    )
    for name, total, disc, gen in zip(names, g_total, g_disc, g_gen, strict=True):
        expected = disc if name.startswith("discriminator") else gen
        assert torch.allclose(total, expected, atol=1e-10), name
        assert expected.abs().sum() > 0, name


def test_bad_configs_name_the_field():
    with pytest.raises(ValueError, match=r"hole must be a side in \[1, 16\] pixels for 16x16 images; got 20"):
        tiny(hole=20)
    with pytest.raises(ValueError, match="mask must be one of"):
        tiny(mask="star")
    with pytest.raises(ValueError, match="divisible by 8"):
        ContextEncoderConfig(shape=(3, 12, 12), hole=4, channels=(2, 2, 2), disc_channels=(2,))


@pytest.mark.parametrize("skips", [False, True])
def test_skips_feed_each_decoder_layer_the_encoder_features_of_its_resolution(skips):
    """Decoding the code of ``encode`` gives the prediction of an image without a hole; with skips the
    code holds every encoder layer's output, and the output depends on the finest of them."""
    model = tiny(shape=(3, 32, 32), channels=(4, 5, 6), skips=skips).eval()
    x = images(3, 32)
    z = model.encode(x)
    sizes = [6 * 4 * 4] + ([4 * 16 * 16, 5 * 8 * 8, 6 * 4 * 4] if skips else [])
    assert z.shape == (3, sum(sizes))
    u = model.inputs(x)
    model.config.mean_offset = False
    assert torch.allclose(model.decode(z), model.predict(u, torch.zeros_like(u[:, :1])), atol=1e-12)
    finest = z.clone()
    finest[:, sizes[0] : sizes[0] + 4 * 16 * 16] += 1.0
    assert torch.equal(model.decode(finest), model.decode(z)) != skips
    with pytest.raises(ValueError, match=rf"z must have shape \(B, {sum(sizes)}\)"):
        model.decode(z[:, :-1])


def test_the_decoder_paints_no_checkerboard():
    """Resize-convolutions decode a spatially constant bottleneck to a constant image away from the
    borders; transposed stride-2 convolutions would give it a 2-pixel period (Odena et al. 2016)."""
    model = tiny(shape=(3, 32, 32), hole=8, channels=(4, 5, 6)).eval()
    with torch.no_grad():
        for module in model.decoder.modules():
            if isinstance(module, torch.nn.Conv2d) and module.bias is not None:
                module.bias.normal_()
            if isinstance(module, torch.nn.BatchNorm2d):
                module.bias.normal_()
        out = model.decode(torch.full((1, 6 * 4 * 4), 0.7, dtype=torch.float64))
    interior = out[0, :, 8:-8, 8:-8]  # border effects reach 1 + 2 (1 + 2 * 1) = 7 pixels inwards
    assert interior.std((1, 2)).max() < 1e-12
    assert out[0].std((1, 2)).min() > 1e-6  # but the decoder is not constant: the borders differ

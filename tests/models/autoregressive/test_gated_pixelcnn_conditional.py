"""Class-conditional Gated PixelCNN: p(x | y) normalises for every class, samples follow p(x | y),
the cached sampler honours the labels, and the engine trains it with the dataset's labels."""

from __future__ import annotations

import itertools

import pytest
import torch

from untaught.models.autoregressive.gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig


def model(shape=(1, 2, 2), levels=2, classes=3) -> GatedPixelCNN:
    torch.manual_seed(0)
    m = GatedPixelCNN(
        GatedPixelCNNConfig(shape=shape, levels=levels, layers=2, channels=8, head=8, kernel=3, num_classes=classes)
    ).double()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.7)
        m.embed_h.mul_(5.0)  # classes that matter
    return m.eval()


def space(shape, levels):
    grid = torch.tensor(list(itertools.product(range(levels), repeat=3 * 3 if shape == (1, 3, 3) else 4)))
    return grid.to(torch.uint8).view(-1, *shape)


def test_every_class_conditional_normalises():
    m = model((1, 3, 3))
    x = space((1, 3, 3), 2)
    for y in range(3):
        total = torch.logsumexp(m.log_prob(x, condition=torch.full((len(x),), y)), 0)
        assert total.item() == pytest.approx(0.0, abs=1e-9)
    a, b = (m.log_prob(x, condition=torch.full((len(x),), y)) for y in (0, 1))
    assert not torch.allclose(a, b), "the class should change the density"


@pytest.mark.parametrize("y", [0, 2])
def test_samples_follow_the_conditional_of_their_class(y):
    m = model()
    x = space((1, 2, 2), 2)
    probs = m.log_prob(x, condition=torch.full((16,), y)).exp()
    n = 20_000
    s = m.sample(n, condition=y, generator=torch.Generator().manual_seed(0)).view(n, -1).long()
    freq = torch.bincount((s * torch.tensor([8, 4, 2, 1])).sum(1), minlength=16).double() / n
    assert torch.all((freq - probs).abs() <= 5 * (probs * (1 - probs) / n).sqrt() + 1e-4)


def test_cached_sampling_honours_labels_and_equals_naive():
    m = model((3, 3, 3), levels=4)
    y = torch.tensor([0, 1, 2, 2, 1, 0])
    fast = m.sample(6, condition=y, generator=torch.Generator().manual_seed(5), fast=True)
    naive = m.sample(6, condition=y, generator=torch.Generator().manual_seed(5), fast=False)
    assert torch.equal(fast, naive)
    other = m.sample(6, condition=(y + 1) % 3, generator=torch.Generator().manual_seed(5), fast=True)
    assert not torch.equal(fast, other)
    cycled = m.sample(6, generator=torch.Generator().manual_seed(5))  # no labels: classes 0, 1, 2, 0, ...
    assert torch.equal(cycled, m.sample(6, condition=torch.arange(6) % 3, generator=torch.Generator().manual_seed(5)))


def test_labels_are_checked():
    m = model()
    x = torch.zeros(2, 1, 2, 2, dtype=torch.uint8)
    with pytest.raises(ValueError, match="class-conditional"):
        m.log_prob(x)
    with pytest.raises(ValueError, match=r"condition must be 2 class labels in \[0, 3\)"):
        m.log_prob(x, condition=torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="condition must be 2 class labels"):
        m.sample(2, condition=torch.tensor([0, 1, 2]))


def test_engine_trains_on_the_labels(tmp_path):
    import untaught

    torch.manual_seed(0)
    m = GatedPixelCNN(
        GatedPixelCNNConfig(shape=(1, 8, 8), levels=17, layers=1, channels=8, head=8, kernel=3, num_classes=10)
    )
    run = untaught.train(m, "digits", out=tmp_path / "run", epochs=1, progress=False, samples=10, threads=1)
    assert run.metrics["test_nll_nats"] < 64 * 2.84  # below uniform (log 17 = 2.83 nats per pixel)
    assert (run.path / "samples.png").is_file()


def lowres_model(shape=(1, 2, 2), levels=2) -> GatedPixelCNN:
    torch.manual_seed(0)
    m = GatedPixelCNN(GatedPixelCNNConfig(shape=shape, levels=levels, layers=2, channels=8, head=8, kernel=3, lowres=2))
    m = m.double()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.7)
    return m.eval()


def test_lowres_conditional_normalises_for_every_small_image():
    m = lowres_model()
    x = space((1, 2, 2), 2)
    totals = []
    for level in (0, 1):
        small = torch.full((16, 1, 1, 1), level, dtype=torch.uint8)
        totals.append(torch.logsumexp(m.log_prob(x, lowres=small), 0).item())
    assert totals == pytest.approx([0.0, 0.0], abs=1e-9)
    # by default the condition is the image's own low-resolution version
    assert torch.allclose(m.log_prob(x), m.log_prob(x, lowres=m.downsample(x)))
    assert torch.equal(m.downsample(torch.tensor([[[[1, 1], [1, 0]]]], dtype=torch.uint8)), torch.ones(1, 1, 1, 1))


def test_super_resolution_samples_follow_the_conditional_and_cache_agrees():
    m = lowres_model()
    small = torch.ones(20_000, 1, 1, 1, dtype=torch.uint8)
    probs = m.log_prob(space((1, 2, 2), 2), lowres=small[:16]).exp()
    s = m.sample(20_000, lowres=small, generator=torch.Generator().manual_seed(0)).view(20_000, -1).long()
    freq = torch.bincount((s * torch.tensor([8, 4, 2, 1])).sum(1), minlength=16).double() / 20_000
    assert torch.all((freq - probs).abs() <= 5 * (probs * (1 - probs) / 20_000).sqrt() + 1e-4)
    big = lowres_model((3, 4, 4), levels=4)
    low = torch.randint(4, (5, 3, 2, 2), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    fast = big.sample(5, lowres=low, generator=torch.Generator().manual_seed(2), fast=True)
    assert torch.equal(fast, big.sample(5, lowres=low, generator=torch.Generator().manual_seed(2), fast=False))
    with pytest.raises(ValueError, match=r"lowres must be integer levels of shape \(5, 3, 2, 2\)"):
        big.sample(5, lowres=low[:, :, :1])


def test_lowres_conditionals_stay_autoregressive_given_the_small_image():
    m = lowres_model((1, 4, 4), levels=3)
    small = torch.ones(1, 1, 2, 2, dtype=torch.uint8)
    h = torch.rand(1, 1, 4, 4, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: m.conditionals(v, (None, small)), h).reshape(16, -1, 16)
    used = jac.abs().sum(1) > 0
    before = torch.ones(16, 16, dtype=torch.bool).tril(-1)  # raster order: j < d
    assert not used[~before].any() and used[before].all()


@pytest.mark.parametrize("kind", ["class", "lowres"])
def test_conditional_models_keep_the_causal_field_whole(kind):
    """Given a fixed condition, conditional d depends on every earlier pixel and on no other (no blind
    spot, no leak through the condition's path), as for the unconditional Gated PixelCNN."""
    shape = (1, 4, 4)
    m = model(shape, levels=2) if kind == "class" else lowres_model(shape, levels=2)
    d = 16
    small = torch.randint(0, 2, (1, 1, 2, 2), generator=torch.Generator().manual_seed(1))
    condition = torch.tensor([1]) if kind == "class" else (None, small)
    total = torch.zeros(d, d, dtype=torch.float64)
    for seed in range(3):
        h = torch.rand(1, *shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        jac = torch.autograd.functional.jacobian(lambda v: m.conditionals(v, condition), h)
        total += jac.reshape(d, -1, d).abs().sum(1)
    before = torch.arange(d)[None, :] < torch.arange(d)[:, None]  # raster order
    assert (total[~before] == 0).all() and (total[before] > 0).all()
    other = torch.tensor([2]) if kind == "class" else (None, 1 - small)
    h = torch.rand(1, *shape, dtype=torch.float64)
    assert not torch.allclose(m.conditionals(h, condition), m.conditionals(h, other)), "the condition is ignored"

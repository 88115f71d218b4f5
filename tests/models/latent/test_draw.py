"""DRAW: normalised filterbanks, a full-coverage stride-1 read returns the image, write is read's
adjoint, the per-step KL matches a Monte-Carlo estimate, the bound tightens with k, and it trains."""

from __future__ import annotations

import json
import math

import pytest
import torch

import untaught
from untaught.models.latent.draw import DRAW, Attention, DRAWConfig, filterbank, read_glimpse, write_patch


def tiny(**kw) -> DRAW:
    torch.manual_seed(0)
    base = dict(shape=(1, 6, 6), steps=3, encoder=8, decoder=8, latent=3, read=2, write=3)
    return DRAW(DRAWConfig(**{**base, **kw})).double()


def test_filterbanks_are_normalised_over_the_pixels():
    gen = torch.Generator().manual_seed(0)
    centre = torch.rand(5, generator=gen, dtype=torch.float64) * 20
    delta = torch.rand(5, generator=gen, dtype=torch.float64) * 3
    log_var = torch.randn(5, generator=gen, dtype=torch.float64)
    f = filterbank(centre, delta, log_var, 4, 17)
    assert f.shape == (5, 4, 17) and (f >= 0).all()
    assert torch.allclose(f.sum(2), torch.ones(5, 4, dtype=torch.float64))
    # the filters' centres step by delta around the centre
    wide = filterbank(torch.full((1,), 9.0, dtype=torch.float64), torch.ones(1, dtype=torch.float64),
                      torch.full((1,), -3.0, dtype=torch.float64), 4, 17)  # fmt: skip
    centres = (wide * torch.arange(1, 18, dtype=torch.float64)).sum(2)
    assert torch.allclose(centres, torch.tensor([[7.5, 8.5, 9.5, 10.5]], dtype=torch.float64), atol=1e-3)


def test_a_stride_one_read_covering_the_image_returns_the_image():
    size = 7
    attention = Attention(4, size, size, size).double()
    zero = torch.zeros(2, dtype=torch.float64)
    # centre 0 -> (size + 1) / 2, log delta 0 -> stride (size - 1) / (N - 1) = 1, tiny variance, gamma 1
    fy, fx, gamma = attention.filters_from(zero, zero, torch.full((2,), -12.0, dtype=torch.float64), zero, zero)
    assert torch.allclose(gamma, torch.ones(2, dtype=torch.float64))
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(read_glimpse(x, fy, fx), x, atol=1e-8)
    assert torch.allclose(write_patch(x, fy, fx), x, atol=1e-8)


def test_write_is_the_adjoint_of_read():
    gen = torch.Generator().manual_seed(1)
    fy = torch.softmax(torch.randn(2, 3, 5, generator=gen, dtype=torch.float64), 2)
    fx = torch.softmax(torch.randn(2, 3, 6, generator=gen, dtype=torch.float64), 2)
    x = torch.randn(2, 1, 5, 6, generator=gen, dtype=torch.float64)
    w = torch.randn(2, 1, 3, 3, generator=gen, dtype=torch.float64)
    assert torch.allclose((read_glimpse(x, fy, fx) * w).sum(), (x * write_patch(w, fy, fx)).sum())


@pytest.mark.parametrize("attention", [True, False])
def test_the_kl_per_step_matches_a_monte_carlo_estimate(attention):
    model = tiny(attention=attention)
    x = torch.randint(2, (2, 1, 6, 6), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    with torch.no_grad():
        out = model.unroll(x.double(), model._noise(1, 2, torch.Generator().manual_seed(0)))
        mu, log_var = out["mu"], out["log_var"]  # [T, B, L]
        closed = 0.5 * (mu.pow(2) + log_var.exp() - 1 - log_var).sum(2)  # [T, B]
        eps = torch.randn(200_000, *mu.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        z = mu + (0.5 * log_var).exp() * eps
        log_q = -0.5 * (eps.pow(2) + math.log(2 * math.pi) + log_var).sum(3)
        log_p = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(3)
        mc = (log_q - log_p).mean(0)
        se = (log_q - log_p).std(0) / math.sqrt(200_000)
    assert (closed > 0).all()
    assert ((mc - closed).abs() < 4 * se + 1e-9).all()
    # and the sum over steps along whole sampled sequences: E[log q - log p] = E[sum_t KL_t]
    with torch.no_grad():
        t = model.log_weights(x, 4000, torch.Generator().manual_seed(2))
    diff = t["log_qz"] - t["log_pz"] - t["kl"]
    assert (diff.mean(0).abs() < 4 * diff.std(0) / math.sqrt(4000)).all()


def test_the_bound_tightens_with_k_and_log_prob_is_repeatable():
    model = tiny()
    x = torch.randint(2, (3, 1, 6, 6), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    with torch.no_grad():
        means = [
            model.iwae_bound(x.repeat(300, 1, 1, 1), k, torch.Generator().manual_seed(k)).mean() for k in (1, 4, 16)
        ]
    assert means[0] < means[1] < means[2]
    assert torch.equal(model.log_prob(x), model.log_prob(x))
    assert model.log_prob_kind == "lower bound"


def test_canvases_end_in_the_sampled_distribution_and_the_model_trains(tmp_path):
    model = tiny(shape=(1, 8, 8), steps=4)
    frames = model.canvases(5, generator=torch.Generator().manual_seed(0))
    assert frames.shape == (4, 5, 1, 8, 8) and ((frames >= 0) & (frames <= 1)).all()
    model = DRAW(DRAWConfig(shape=(1, 8, 8), steps=4, encoder=16, decoder=16, latent=4, read=2, write=3))
    untaught.train(model, "digits", binarize="static", epochs=2, out=tmp_path / "run", progress=False, threads=1,
                   samples=4, lr=3e-3)  # fmt: skip
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test_nll_kind"] == "lower bound" and metrics["test_nll_nats"] < 64 * math.log(2)


def test_draw_refuses_data_that_is_not_binary():
    with pytest.raises(ValueError, match="DRAW models binary images"):
        DRAWConfig(shape=(1, 8, 8), levels=17)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        DRAWConfig(steps=0)


def test_the_canvases_command_writes_a_gif_and_a_grid(tmp_path, capsys):
    from PIL import Image

    from untaught.cli import main
    from untaught.io import save_model

    model = tiny(shape=(1, 8, 8), steps=3).float()
    save_model(model, tmp_path / "run")
    assert main(["canvases", str(tmp_path / "run"), "-n", "4"]) == 0
    gif = Image.open(tmp_path / "run" / "canvases.gif")
    assert gif.n_frames == 3
    grid = Image.open(tmp_path / "run" / "canvases.png")
    assert grid.size == (3 * 33 + 1, 4 * 33 + 1)  # 3 steps across, 4 samples down, 32-pixel tiles + 1 of padding
    assert main(["canvases", str(tmp_path / "run"), "-n", "0"]) == 2

"""WaveOne: exact bitplane coding, rate control to a target bpp, determinism and bad files."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from test_codec import smooth_image

from untaught.models.compression import CodecFileError, bitplanes
from untaught.registry import get_model_class


def sparse_code(shape=(6, 10, 12), bits=5, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = rng.exponential(3, shape) * (rng.random(shape) < 0.4)
    return q.astype(np.int64).clip(0, (1 << bits) - 1)


def test_bitplanes_decode_exactly_what_was_coded():
    q = sparse_code()
    data, kept = bitplanes.encode(q, 5)
    assert kept == 5 * 2 * q.shape[0]  # every (plane, pass, channel) unit
    assert np.array_equal(bitplanes.decode(data, q.shape, 5), q)
    # a code of all zeros costs a fraction of a bit per value; all planes still decode
    zeros = np.zeros((4, 8, 8), np.int64)
    data, _ = bitplanes.encode(zeros, 5)
    assert np.array_equal(bitplanes.decode(data, zeros.shape, 5), zeros) and 8 * len(data) < zeros.size


def test_a_prefix_of_units_decodes_the_high_planes():
    q = sparse_code(seed=1)
    full = len(bitplanes.encode(q, 5)[0]) * 8
    previous_error = np.inf
    for budget in (full // 8, full // 3, full // 2):
        data, kept = bitplanes.encode(q, 5, budget)
        assert 8 * len(data) <= budget and kept < 5 * 2 * q.shape[0]
        back = bitplanes.decode(data, q.shape, 5)
        planes_done = kept // (2 * q.shape[0])  # whole planes received
        high = (q >> (5 - planes_done)) << (5 - planes_done)
        assert np.array_equal((back >> (5 - planes_done)) << (5 - planes_done), high)
        error = np.abs(back - q).mean()
        assert error < previous_error
        previous_error = error


def test_the_estimate_is_close_to_the_real_length():
    q = sparse_code((16, 16, 24), bits=6, seed=2)
    real = 8 * len(bitplanes.encode(q, 6)[0])
    assert bitplanes.estimate_bits(q, 6) == pytest.approx(real, rel=0.15)


@pytest.fixture(scope="module")
def waveone():
    cls = get_model_class("codec-waveone")
    torch.manual_seed(0)
    model = cls(cls.Config(channels=16, code=24, bits=6, scales=2, disc_channels=4)).eval()
    with torch.no_grad():  # a code that spreads over its range, as after training
        model.to_code.bias.normal_(0, 2)
    return model


@pytest.mark.parametrize("target", [0.08, 0.1, 0.15, 0.25])
def test_the_rate_meets_the_target(waveone, target):
    x = smooth_image(160, 224, seed=5)
    data = waveone.compress(x, bpp=target)
    bpp = 8 * len(data) / (160 * 224)
    assert target * 0.9 <= bpp <= target
    assert waveone.decompress(data).shape == x.shape


def test_round_trips_at_any_size_and_any_thread_count(waveone):
    for shape in [(1, 3, 1, 1), (1, 1, 33, 47), (1, 3, 70, 90)]:
        x = smooth_image(shape[2], shape[3], shape[1])
        data = waveone.compress(x, bpp=2.0)
        outputs = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            outputs.append(waveone.decompress(data))
        torch.set_num_threads(1)
        assert outputs[0].shape == x.shape and torch.equal(outputs[0], outputs[1])


def test_bad_and_fuzzed_files_are_clear_errors(waveone):
    x = smooth_image(64, 80, seed=6)
    data = waveone.compress(x, bpp=0.5)
    with pytest.raises(CodecFileError, match="corrupt or truncated"):
        waveone.decompress(data[:-3])
    with pytest.raises(ValueError, match="bpp must be a positive number"):
        waveone.compress(x, bpp=0)
    rng = np.random.default_rng(0)
    errors = 0
    for trial in range(200):
        body = bytearray(data[:-4])
        at = int(rng.integers(len(body)))
        if trial % 3 == 0:
            del body[at:]
        else:
            body[at] ^= 1 << int(rng.integers(8))
        try:
            y = waveone.decompress(bytes(body) + struct.pack(">I", zlib.crc32(body)))
        except CodecFileError:
            errors += 1
        else:
            assert y.dtype == torch.uint8
    assert errors > 20


def test_training_steers_alpha_towards_the_target_rate():
    cls = get_model_class("codec-waveone")
    torch.manual_seed(0)
    model = cls(cls.Config(shape=(3, 32, 32), channels=8, code=4, bits=4, scales=2, disc_channels=4, target_bpp=0.05))
    x = torch.cat([smooth_image(32, 32, seed=s) for s in range(2)])
    alpha = float(model.alpha)
    loss, metrics = model.loss(x, generator=torch.Generator().manual_seed(0))
    loss.backward()
    above = float(metrics["bpp"]) > 0.05
    step = 1 + model.config.alpha_step
    assert float(model.alpha) == pytest.approx(alpha * (step if above else 1 / step))
    assert {"bpp", "ms_ssim", "l1", "alpha", "adversarial", "disc"} <= set(metrics)


def test_the_discriminators_learn_only_from_their_own_loss():
    """D's gradient comes from telling real from fake, never from the generator's adversarial term:
    it must not change when the adversarial weight does."""
    cls = get_model_class("codec-waveone")
    x = torch.cat([smooth_image(32, 32, seed=s) for s in range(2)])
    grads = []
    for weight in (0.01, 1.0):
        torch.manual_seed(0)
        model = cls(cls.Config(shape=(3, 32, 32), channels=8, code=4, bits=4, scales=2, disc_channels=4,
                               adversarial_weight=weight))  # fmt: skip
        loss, _ = model.loss(x, generator=torch.Generator().manual_seed(0))
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.discriminators.parameters()]))
    torch.testing.assert_close(grads[0], grads[1])
    assert grads[0].abs().sum() > 0

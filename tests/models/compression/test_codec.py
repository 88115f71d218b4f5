"""Learned codecs: exact round trips, the rate of the real file, and errors on bad files."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from untaught.models.compression import CodecFileError
from untaught.models.compression.container import FORMAT_VERSION, MAGIC, Header, pack, unpack
from untaught.registry import get_model_class

CODECS = ["codec-factorized", "codec-hyperprior", "codec-mean-scale"]


def smooth_image(h: int, w: int, channels: int = 3, seed: int = 0) -> torch.Tensor:
    """A photograph-like uint8 image [1, C, h, w]: smooth shading, an edge, a little noise."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([0.5 + 0.4 * torch.sin(3 * xx + c + 4 * yy) for c in range(channels)])
    base = base + 0.3 * (xx + 0.5 * yy > 0.7) + 0.03 * torch.randn(channels, h, w, generator=g)
    return (base.clamp(0, 1) * 255).round().to(torch.uint8)[None]


@pytest.fixture(scope="module", params=CODECS)
def codec(request):
    cls = get_model_class(request.param)
    torch.manual_seed(0)
    model = cls(cls.Config(channels=8, latent=12, hyper=8)).eval()
    with torch.no_grad():
        model.g_a[-1].weight.mul_(20)  # latents of several integers, as after training
    model.finalize()
    return model


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (1, 3, 37, 70), (1, 1, 65, 20), (1, 3, 64, 128)])
def test_decompress_gives_the_test_time_reconstruction(codec, shape):
    torch.set_num_threads(1)
    x = smooth_image(shape[2], shape[3], shape[1])
    data = codec.compress(x)
    y = codec.decompress(data)
    assert y.shape == x.shape and y.dtype == torch.uint8
    assert torch.equal(y, codec.reconstruct(x))


def test_file_size_is_the_estimated_rate(codec):
    x = smooth_image(128, 192, seed=1)
    data = codec.compress(x)
    _, streams = unpack(data)
    estimate = codec.estimate_bits(x) / 8
    assert estimate > 500, "the test image must cost more than the tolerance"
    assert abs(sum(map(len, streams)) - estimate) <= 0.01 * estimate + 64
    assert abs(len(data) - estimate) <= 0.01 * estimate + 64


def test_decoding_does_not_depend_on_the_thread_count(codec):
    x = smooth_image(96, 160, seed=2)
    data = codec.compress(x)
    outputs = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        assert codec.compress(x) == data
        outputs.append(codec.decompress(data))
    torch.set_num_threads(1)
    assert torch.equal(outputs[0], outputs[1])


def test_the_coding_tables_are_integer_and_normalised(codec):
    total = 1 << 16
    for counts, lengths in [(codec.table_counts, codec.table_lengths)] + (
        [(codec.gauss_counts, codec.gauss_lengths)] if codec.prior != "factorized" else []
    ):
        assert counts.dtype == torch.int32
        assert bool((counts.long().sum(1) == total).all())
        for row, length in zip(counts, lengths.tolist(), strict=True):
            assert bool((row[: length + 1] >= 1).all()) and bool((row[length + 1 :] == 0).all())


def _forge(header: Header, streams: list[bytes]) -> bytes:
    return pack(header, streams)


def test_bad_files_are_clear_errors(codec):
    x = smooth_image(40, 50)
    data = codec.compress(x)
    header, streams = unpack(data)
    cases = {
        b"\x89PNG\r\n\x1a\n" + bytes(40): "not an untaught compressed file",
        data[:10]: "corrupt or truncated",
        data[:-1]: "corrupt or truncated",
        data[:20] + bytes([data[20] ^ 1]) + data[21:]: "checksum",
        MAGIC + bytes([FORMAT_VERSION + 1]) + data[5:]: "format version 2 is not supported",
        _forge(Header("codec-other", header.weights, 0, 3, 40, 50, header.padding), streams): "made by 'codec-other'",
        _forge(Header(header.model, bytes(8), 0, 3, 40, 50, header.padding), streams): "weights 0000000000000000",
        _forge(Header(header.model, header.weights, 0, 3, 40, 50, (1, 2)), streams): "padding",
        _forge(Header(header.model, header.weights, 0, 3, 40, 50, header.padding), streams[:1] * 3): "stream",
    }
    for bad, message in cases.items():
        with pytest.raises(CodecFileError, match=message):
            codec.decompress(bad)
    # a header that claims a huge image is refused before anything is allocated
    body = data[:-4]
    at = 6 + len(header.model) + 8 + 2
    huge = body[:at] + struct.pack(">II", 16000, 16000) + body[at + 8 :]
    with pytest.raises(CodecFileError, match="at most"):
        codec.decompress(huge + struct.pack(">I", zlib.crc32(huge)))


def fuzz(codec, trials: int, seed: int = 0) -> dict[str, int]:
    """Decode ``trials`` random mutations of a valid file (byte flips, insertions, truncations; the
    checksum repaired in every other one, so that the decoder behind it is reached): each must end in
    a CodecFileError or an image, within 5 s."""
    import time

    data = codec.compress(smooth_image(64, 64, seed=3))
    rng = np.random.default_rng(seed)
    outcomes = {"error": 0, "image": 0}
    for trial in range(trials):
        mutated = bytearray(data[:-4])
        for _ in range(rng.integers(1, 4)):
            kind = rng.integers(3)
            at = int(rng.integers(len(mutated)))
            if kind == 0:
                mutated[at] ^= 1 << int(rng.integers(8))
            elif kind == 1:
                mutated.insert(at, int(rng.integers(256)))
            else:
                del mutated[at:]
                if not mutated:
                    mutated = bytearray(b"U")
        crc = zlib.crc32(mutated) if trial % 2 else int(rng.integers(1 << 32))
        started = time.perf_counter()
        try:
            y = codec.decompress(bytes(mutated) + struct.pack(">I", crc))
        except CodecFileError:
            outcomes["error"] += 1
        else:
            assert y.dtype == torch.uint8 and y.dim() == 4
            outcomes["image"] += 1
        assert time.perf_counter() - started < 5, f"mutation {trial} took too long to decode or refuse"
    return outcomes


def test_fuzzed_files_end_in_a_clear_error_or_an_image(codec):
    outcomes = fuzz(codec, 100)
    assert outcomes["error"] > 50


@pytest.mark.slow
def test_ten_thousand_fuzzed_files(codec):
    outcomes = fuzz(codec, 10_000, seed=1)
    assert outcomes["error"] > 5_000


def test_bad_images_are_named(codec):
    with pytest.raises(ValueError, match=r"one uint8 image \[1, 1 or 3, H, W\]; got torch.float32"):
        codec.compress(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"got torch.uint8 \(2, 3, 8, 8\)"):
        codec.compress(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    fresh = type(codec)(codec.config)
    with pytest.raises(RuntimeError, match="no coding tables"):
        fresh.compress(smooth_image(8, 8))


def test_training_lowers_the_rate_distortion_loss():
    cls = get_model_class("codec-mean-scale")
    torch.manual_seed(0)
    model = cls(cls.Config(shape=(3, 64, 64), channels=8, latent=8, hyper=8, lmbda=0.01))
    x = torch.cat([smooth_image(64, 64, seed=s) for s in range(4)])
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(60):
        loss, metrics = model.loss(x, generator=torch.Generator().manual_seed(step))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert set(metrics) == {"bpp", "psnr"}


def test_shipped_weights_and_the_command_line(codec, tmp_path, monkeypatch, capsys):
    from PIL import Image

    from untaught.cli import main
    from untaught.models.compression import codec as module

    run = tmp_path / "run"
    codec.save_pretrained(run)
    monkeypatch.setattr(module, "WEIGHTS", tmp_path / "weights")
    module.load_codec.cache_clear()
    shipped = module.ship(run, 3, dest=tmp_path / "weights")
    assert module.available_qualities(codec.name) == [3]
    image = smooth_image(50, 70, seed=4)[0].permute(1, 2, 0).numpy()
    data = module.compress_image(image, model=codec.name, quality=3)
    assert module.decompress_image(data).shape == (50, 70, 3)
    with pytest.raises(ValueError, match=r"no weights for .* at quality 9; available: 3"):
        module.compress_image(image, model=codec.name, quality=9)
    assert (shipped / "model.safetensors").stat().st_size < (run / "model.safetensors").stat().st_size

    # the command line: a PNG in, a .utk file, a PNG out equal to the test-time reconstruction
    Image.fromarray(image).save(tmp_path / "in.png")
    # (no --quality: level 2 is not shipped, so the lowest shipped level, 3)
    assert main(["compress", str(tmp_path / "in.png"), "-o", str(tmp_path / "f.utk"), "--model", codec.name]) == 0
    assert "quality 3" in capsys.readouterr().out
    assert main(["decompress", str(tmp_path / "f.utk"), "-o", str(tmp_path / "out.png")]) == 0
    out = np.asarray(Image.open(tmp_path / "out.png"))
    expected = module.load_codec(codec.name, 3).reconstruct(torch.from_numpy(image).permute(2, 0, 1)[None])
    assert np.array_equal(out, expected[0].permute(1, 2, 0).numpy())
    # a truncated file: a clear error, and no output written
    (tmp_path / "cut.utk").write_bytes((tmp_path / "f.utk").read_bytes()[:-9])
    assert main(["decompress", str(tmp_path / "cut.utk"), "-o", str(tmp_path / "never.png")]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err and not (tmp_path / "never.png").exists()
    (tmp_path / "text.png").write_text("not an image")
    assert main(["compress", str(tmp_path / "text.png"), "-o", str(tmp_path / "g.utk")]) == 2
    assert "cannot read" in capsys.readouterr().err and not (tmp_path / "g.utk").exists()
    module.load_codec.cache_clear()


GOLDEN = Path(__file__).parent / "golden"
DECODE = """
import sys, torch
from untaught.io import load_model
torch.set_num_threads(int(sys.argv[1]))
codec = load_model(sys.argv[2])
sys.stdout.buffer.write(codec.decompress(open(sys.argv[3], "rb").read()).numpy().tobytes())
"""


def test_the_golden_file_decodes_to_the_golden_image_in_any_process():
    """A committed file, made by committed weights, decodes to the committed image: in this process,
    and in fresh processes with 1 and 2 threads (tests/models/compression/golden/make.py made them)."""
    from PIL import Image

    from untaught.io import load_model

    codec = load_model(GOLDEN / "codec")
    expected = np.asarray(Image.open(GOLDEN / "expected.png"))
    decoded = codec.decompress((GOLDEN / "image.utk").read_bytes())[0].permute(1, 2, 0).numpy()
    assert np.array_equal(decoded, expected)
    original = torch.from_numpy(np.asarray(Image.open(GOLDEN / "image.png")).copy()).permute(2, 0, 1)[None]
    assert codec.compress(original) == (GOLDEN / "image.utk").read_bytes()
    for threads in (1, 2):
        out = subprocess.run(
            [sys.executable, "-c", DECODE, str(threads), str(GOLDEN / "codec"), str(GOLDEN / "image.utk")],
            capture_output=True,
            timeout=120,
            check=True,
        ).stdout
        assert out == expected.transpose(2, 0, 1).tobytes()

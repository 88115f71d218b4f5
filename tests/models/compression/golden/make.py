"""Rebuild the golden files (only when the file format or the coder changes on purpose):
``python tests/models/compression/golden/make.py`` writes a small mean-scale codec (seeded weights,
latents scaled up as after training), a 140x100 test image, its ``.utk`` file and the decoded image."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import torch
from PIL import Image

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from test_codec import smooth_image  # noqa: E402

from untaught.registry import get_model_class  # noqa: E402


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cls = get_model_class("codec-mean-scale")
    codec = cls(cls.Config(channels=8, latent=12, hyper=8)).eval()
    with torch.no_grad():
        codec.g_a[-1].weight.mul_(20)
    codec.finalize()
    codec.save_pretrained(HERE / "codec")
    x = smooth_image(100, 140, seed=11)
    Image.fromarray(x[0].permute(1, 2, 0).numpy()).save(HERE / "image.png")
    data = codec.compress(x)
    (HERE / "image.utk").write_bytes(data)
    buffer = io.BytesIO()
    Image.fromarray(codec.decompress(data)[0].permute(1, 2, 0).numpy()).save(buffer, format="PNG")
    (HERE / "expected.png").write_bytes(buffer.getvalue())


if __name__ == "__main__":
    main()

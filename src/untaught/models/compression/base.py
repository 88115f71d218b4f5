"""What every image codec shares: the input checks and padding, the output image, the weights hash,
and reading its own ``.utk`` files."""

from __future__ import annotations

import hashlib
from typing import ClassVar

import torch
from torch.nn import functional as F

from ..base import Model
from .container import CodecFileError, Header, unpack

LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as Pillow converts RGB to L


class ImageCodec(Model):
    """A model with ``compress(x) -> bytes`` and ``decompress(bytes) -> x`` for uint8 images
    ``[1, C, H, W]`` (C = 1 grey or 3 RGB, any H, W); subclasses set ``stride`` (images are padded
    to multiples of it) and ``streams`` (how many coded streams their files hold)."""

    stride: ClassVar[int] = 16
    streams: ClassVar[int] = 1

    def weights_hash(self) -> bytes:
        """First 8 bytes of the SHA-256 of every weight and buffer, in name order."""
        digest = hashlib.sha256()
        for name, value in sorted(self.state_dict().items()):
            digest.update(name.encode())
            digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        return digest.digest()[:8]

    def prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """uint8 [1, C, H, W] (C = 1 or 3) -> float RGB [1, 3, H', W'] in [0, 1], padded by replication
        to multiples of the stride, and the padding (bottom, right)."""
        ok = isinstance(x, torch.Tensor) and x.dtype == torch.uint8 and x.dim() == 4
        if not ok or x.shape[:2] not in ((1, 1), (1, 3)):
            got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be one uint8 image [1, 1 or 3, H, W]; got {got}")
        h, w = x.shape[-2:]
        pad = (-h % self.stride, -w % self.stride)
        image = x.float().div(255).expand(1, 3, h, w)
        return F.pad(image, (0, pad[1], 0, pad[0]), mode="replicate"), pad

    @staticmethod
    def to_image(x_hat: torch.Tensor, channels: int, h: int, w: int) -> torch.Tensor:
        """A decoded float RGB image [1, 3, H', W'] -> uint8 [1, channels, h, w] (padding cropped)."""
        x_hat = x_hat[:, :, :h, :w].clamp(0, 1)
        if channels == 1:
            x_hat = (x_hat * torch.tensor(LUMA, dtype=x_hat.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)
        return x_hat.mul(255).round().to(torch.uint8)

    def header(self, x: torch.Tensor, padding: tuple[int, int]) -> Header:
        c, h, w = x.shape[1:]
        return Header(self.name, self.weights_hash(), self.config.quality, c, h, w, padding)

    def read(self, data: bytes) -> tuple[Header, list[bytes], tuple[int, int]]:
        """A file's header, streams and padded size (H', W'), checked against this codec."""
        header, streams = unpack(data)
        if header.model != self.name:
            raise CodecFileError(f"the file was made by {header.model!r}; this model is {self.name!r}")
        if header.weights != self.weights_hash():
            raise CodecFileError(
                f"the file was made by {header.model} weights {header.weights.hex()}; these weights are "
                f"{self.weights_hash().hex()} (quality {self.config.quality})"
            )
        if len(streams) != self.streams:
            raise CodecFileError(f"{self.name} files hold {self.streams} stream(s); this one holds {len(streams)}")
        size = (header.height + header.padding[0], header.width + header.padding[1])
        if max(header.padding) >= self.stride or size[0] % self.stride or size[1] % self.stride:
            raise CodecFileError(f"the padding {header.padding} is not the padding {self.name} writes")
        return header, streams, size

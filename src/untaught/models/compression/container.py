"""The ``.utk`` file: a small header, the entropy-coded streams, and a checksum.

Layout (integers big-endian)::

    magic  "UTKC"                        4 bytes
    version                              1 byte   (FORMAT_VERSION)
    model name length, model name        1 + n bytes (ASCII, e.g. "codec-mean-scale")
    weights hash                         8 bytes  (first bytes of the SHA-256 of the weights)
    quality                              1 byte   (0: weights not shipped with untaught)
    channels                             1 byte   (1 grey, 3 RGB)
    height, width                        4 + 4 bytes (pixels)
    padding bottom, padding right        1 + 1 bytes (pixels added before coding)
    number of streams, their lengths     1 + 4 x k bytes
    the streams                          sum of the lengths
    CRC-32 of everything above           4 bytes

:func:`unpack` checks the checksum first, then every field against the limits, before anything
is allocated from the sizes the header claims.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

MAGIC = b"UTKC"
FORMAT_VERSION = 1
MAX_SIDE = 16384
MAX_PIXELS = 4096 * 4096
MAX_STREAMS = 8


class CodecFileError(ValueError):
    """A compressed file that cannot be decoded: truncated, corrupt, foreign or unsupported."""


@dataclass(frozen=True)
class Header:
    """What a ``.utk`` file says about the image and the codec that made it."""

    model: str
    weights: bytes
    quality: int
    channels: int
    height: int
    width: int
    padding: tuple[int, int]

    def __post_init__(self) -> None:
        checks = [
            ("model", 0 < len(self.model) < 256 and self.model.isascii() and self.model.isprintable(), "1-255 ASCII"),
            ("weights", len(self.weights) == 8, "an 8-byte hash"),
            ("quality", 0 <= self.quality < 256, "in [0, 255]"),
            ("channels", self.channels in (1, 3), "1 (grey) or 3 (RGB)"),
            ("height", 1 <= self.height <= MAX_SIDE, f"in [1, {MAX_SIDE}]"),
            ("width", 1 <= self.width <= MAX_SIDE, f"in [1, {MAX_SIDE}]"),
            ("padding", all(0 <= p < 256 for p in self.padding), "two values in [0, 255]"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise CodecFileError(f"header field {name} must be {expected}; got {getattr(self, name)!r}")
        if self.height * self.width > MAX_PIXELS:
            raise CodecFileError(
                f"the file claims an image of {self.width}x{self.height} pixels; "
                f"at most {MAX_PIXELS} pixels are decoded"
            )


def pack(header: Header, streams: list[bytes]) -> bytes:
    """The file's bytes for ``header`` and the entropy-coded ``streams``."""
    if not 1 <= len(streams) <= MAX_STREAMS:
        raise ValueError(f"a file holds 1 to {MAX_STREAMS} streams; got {len(streams)}")
    name = header.model.encode("ascii")
    head = MAGIC + struct.pack(">BB", FORMAT_VERSION, len(name)) + name + header.weights
    head += struct.pack(">BBIIBB", header.quality, header.channels, header.height, header.width, *header.padding)
    head += struct.pack(f">B{len(streams)}I", len(streams), *map(len, streams))
    body = head + b"".join(streams)
    return body + struct.pack(">I", zlib.crc32(body))


def unpack(data: bytes) -> tuple[Header, list[bytes]]:
    """Parse and check a file's bytes; :class:`CodecFileError` says what is wrong."""
    data = bytes(data)
    if len(data) < 4 or data[:4] != MAGIC:
        raise CodecFileError(f"not an untaught compressed file: it does not start with {MAGIC!r}")
    if len(data) < 4 + 2 + 4:
        raise CodecFileError(f"the file is truncated: {len(data)} bytes cannot hold a header")
    version = data[4]
    if version != FORMAT_VERSION:
        raise CodecFileError(f"format version {version} is not supported; this untaught reads version {FORMAT_VERSION}")
    body, (crc,) = data[:-4], struct.unpack(">I", data[-4:])
    if zlib.crc32(body) != crc:
        raise CodecFileError("the file is corrupt or truncated: its checksum does not match its contents")
    try:
        n = body[5]
        at = 6 + n
        name = body[6:at].decode("ascii")
        weights = body[at : at + 8]
        quality, channels, height, width, pad_h, pad_w = struct.unpack_from(">BBIIBB", body, at + 8)
        at += 8 + 12
        (count,) = struct.unpack_from(">B", body, at)
        if not 1 <= count <= MAX_STREAMS:
            raise CodecFileError(f"the header lists {count} streams; a file holds 1 to {MAX_STREAMS}")
        lengths = struct.unpack_from(f">{count}I", body, at + 1)
        at += 1 + 4 * count
    except (struct.error, UnicodeDecodeError, IndexError):
        raise CodecFileError("the file's header is malformed or truncated") from None
    header = Header(name, weights, quality, channels, height, width, (pad_h, pad_w))
    if at + sum(lengths) != len(body):
        raise CodecFileError(
            f"the header's stream lengths add up to {sum(lengths)} bytes, but {len(body) - at} follow the header"
        )
    streams, start = [], at
    for length in lengths:
        streams.append(body[start : start + length])
        start += length
    return header, streams

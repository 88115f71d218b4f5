"""Range coding of integer symbols with the integer tables of :mod:`.entropy` (constriction).

:func:`encode` codes ``symbols`` [N] where symbol i follows table row ``rows[i]``; the symbols are
coded row by row (ascending), each row's in their given order, with one fixed categorical model per
row built from the stored counts. Values outside a row's support are coded as the row's escape
symbol, followed at the end by their values (zigzag, then an Elias-gamma code: the bit length with a
uniform model over 0..31, then the bits below the leading one). :func:`decode` mirrors it and
raises :class:`CorruptStreamError` on data that cannot be a valid stream.

References:
    Bamler. Understanding entropy coding with asymmetric numeral systems (ANS): a statistician's
    perspective. 2022. (constriction)
"""

from __future__ import annotations

import numpy as np
import torch

ESCAPE_LIMIT = 1 << 24  # |value| of an escaped symbol; larger values are refused by the encoder


class CorruptStreamError(ValueError):
    """The compressed data is not a stream the tables could have produced."""


def _models(counts: np.ndarray, lengths: np.ndarray, rows: np.ndarray) -> dict[int, object]:
    import constriction

    return {
        int(r): constriction.stream.model.Categorical(counts[r, : lengths[r] + 1].astype(np.float64), perfect=False)
        for r in np.unique(rows)
    }


def encode(
    symbols: torch.Tensor, rows: torch.Tensor, counts: torch.Tensor, offsets: torch.Tensor, lengths: torch.Tensor
) -> bytes:
    """Bytes coding the integer ``symbols`` [N] with table rows ``rows`` [N] (int64)."""
    import constriction

    Uniform, RangeEncoder = constriction.stream.model.Uniform, constriction.stream.queue.RangeEncoder

    symbols, rows = symbols.reshape(-1).numpy().astype(np.int64), rows.reshape(-1).numpy()
    if symbols.size and np.abs(symbols).max() >= ESCAPE_LIMIT:
        raise ValueError(f"a latent value of magnitude >= {ESCAPE_LIMIT} cannot be coded; the model diverged")
    counts, offsets, lengths = counts.numpy(), offsets.numpy().astype(np.int64), lengths.numpy().astype(np.int64)
    encoder = RangeEncoder()
    escaped = []
    for r, model in _models(counts, lengths, rows).items():
        values = symbols[rows == r] - offsets[r]
        outside = (values < 0) | (values >= lengths[r])
        escaped.append(values[outside] + offsets[r])
        values[outside] = lengths[r]
        encoder.encode(values.astype(np.int32), model)
    extra = np.concatenate(escaped) if escaped else np.zeros(0, np.int64)
    if extra.size:
        u = np.where(extra >= 0, 2 * extra, -2 * extra - 1) + 1  # zigzag, then >= 1
        bits = np.floor(np.log2(u)).astype(np.int64)
        encoder.encode(bits.astype(np.int32), Uniform(32))
        long = bits > 0
        encoder.encode((u[long] - (1 << bits[long])).astype(np.int32), Uniform(), (1 << bits[long]).astype(np.int32))
    return encoder.get_compressed().astype("<u4").tobytes()


def decode(
    data: bytes, rows: torch.Tensor, counts: torch.Tensor, offsets: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """The int64 symbols [N] that :func:`encode` coded with table rows ``rows`` [N]."""
    try:
        return _decode(data, rows, counts, offsets, lengths)
    except (AssertionError, ValueError, RuntimeError, OverflowError) as e:  # constriction asserts on bad data
        if isinstance(e, CorruptStreamError):
            raise
        raise CorruptStreamError(f"the coded data is invalid ({e})") from None


def _decode(
    data: bytes, rows: torch.Tensor, counts: torch.Tensor, offsets: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    import constriction

    Uniform, RangeDecoder = constriction.stream.model.Uniform, constriction.stream.queue.RangeDecoder

    if len(data) % 4:
        raise CorruptStreamError(f"a stream is a whole number of 32-bit words; got {len(data)} bytes")
    rows = rows.reshape(-1).numpy()
    counts, offsets, lengths = counts.numpy(), offsets.numpy().astype(np.int64), lengths.numpy().astype(np.int64)
    decoder = RangeDecoder(np.frombuffer(data, dtype="<u4").astype(np.uint32))
    symbols = np.empty(rows.shape, np.int64)
    escapes = []
    for r, model in _models(counts, lengths, rows).items():
        at = np.flatnonzero(rows == r)
        values = decoder.decode(model, len(at)).astype(np.int64)
        symbols[at] = values + offsets[r]
        escapes.append(at[values == lengths[r]])
    where = np.concatenate(escapes) if escapes else np.zeros(0, np.int64)
    if where.size:
        bits = decoder.decode(Uniform(32), len(where)).astype(np.int64)
        if bits.max() > 25:
            raise CorruptStreamError("an escaped value is longer than any encoder writes")
        u = np.ones(len(where), np.int64) << bits
        long = bits > 0
        u[long] += decoder.decode(Uniform(), (1 << bits[long]).astype(np.int32)).astype(np.int64)
        u -= 1
        symbols[where] = np.where(u % 2 == 0, u // 2, -(u + 1) // 2)
    return torch.from_numpy(symbols)

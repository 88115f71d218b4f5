"""Bitplane coding of a quantised code with an adaptive binary context model (WaveOne's coder).

A code ``q`` (int, ``[C, h, w]`` in ``[0, 2**B)``) is coded from its most significant bitplane to
its least. Each plane is coded in two passes over a checkerboard, and each pass channel by channel;
a (plane, pass, channel) is one *unit*. A bit's context is known to the decoder when it decodes it:

* whether the coefficient is already significant (a 1 in a higher plane),
* how many of its 4 neighbours are significant (0, 1, 2+),
* in the second pass, how many of its 4 neighbours (first-pass positions) have a 1 in this plane,
* the pass (the plane is not part of it, so what one plane teaches the counts serves the next).

Every context keeps integer counts of the zeros and ones coded so far in this image, starting at
one each; a unit's bits are coded with ``P(1) = (ones + 1/2) / (zeros + ones + 1)`` in 16-bit fixed
point, and the counts are updated after the unit. Both ends compute the same integers, so the
probabilities agree to the bit. Coding stops after any unit: :func:`encode` keeps the longest
prefix of units that fits a bit budget (rate control); the bits a decoder did not receive are
reconstructed at the middle of what they could be.

References:
    Rippel, Bourdev. Real-time adaptive image compression. ICML 2017.
"""

from __future__ import annotations

import numpy as np

PRECISION = 16
_SHIFTS = ((0, 1), (0, -1), (1, 0), (-1, 0))


class BitplaneError(ValueError):
    """A bitplane stream that this coder cannot have written."""


def _neighbour_sum(a: np.ndarray) -> np.ndarray:
    """Sum of the 4 spatial neighbours of every element of ``a`` [C, h, w] (zeros outside)."""
    padded = np.pad(a, ((0, 0), (1, 1), (1, 1)))
    h, w = a.shape[1:]
    return sum(padded[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in _SHIFTS)


class _Contexts:
    """The adaptive context model of one image: contexts of a unit's bits, counts, probabilities."""

    def __init__(self, shape: tuple[int, int, int], bits: int) -> None:
        h, w = shape[1:]
        self.bits = bits
        self.counts = np.ones((2, 2, 3, 3, 2), dtype=np.int64)  # pass, sig, nbr sig, nbr ones, bit
        parity = (np.arange(h)[:, None] + np.arange(w)[None, :]) % 2
        self.masks = [parity == p for p in (0, 1)]

    def units(self, channels: int) -> list[tuple[int, int, int]]:
        return [(b, p, c) for b in range(self.bits - 1, -1, -1) for p in (0, 1) for c in range(channels)]

    def contexts(self, known: np.ndarray, plane: int, part: int, channel: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions [N, 2] of a unit's bits and their context indices [N] into the counts, given the
        bits ``known`` so far ([C, h, w] ints holding the higher planes and this plane's first pass)."""
        above = known[channel] >> (plane + 1)
        significant = (above > 0).astype(np.int64)
        near = np.minimum(_neighbour_sum(significant[None])[0], 2)
        if part == 1:
            ones = np.minimum(_neighbour_sum(((known[channel] >> plane) & 1)[None])[0], 2)
        else:
            ones = np.zeros_like(near)
        where = np.nonzero(self.masks[part])
        index = ((significant * 3 + near) * 3 + ones)[where]
        return np.stack(where, 1), index

    def probabilities(self, part: int) -> np.ndarray:
        """P(1) of a pass's 18 contexts in 16-bit fixed point, in [1, 2**16 - 1]."""
        counts = self.counts[part].reshape(18, 2)
        p = ((2 * counts[:, 1] + 1) << PRECISION) // (2 * counts.sum(1) + 2)
        return np.clip(p, 1, (1 << PRECISION) - 1)

    def update(self, part: int, index: np.ndarray, bits: np.ndarray) -> None:
        view = self.counts[part].reshape(18, 2)
        np.add.at(view, (index, bits), 1)


def _models(p_one: np.ndarray) -> list:
    import constriction

    total = float(1 << PRECISION)
    return [constriction.stream.model.Categorical(np.array([total - p, p]) / total, perfect=False) for p in p_one]


def encode(q: np.ndarray, bits: int, budget: int | None = None) -> tuple[bytes, int]:
    """Code ``q`` [C, h, w] (ints in [0, 2**bits)); with a ``budget`` in bits, only the longest prefix
    of units whose stream fits it. Returns the bytes (2-byte unit count, then the range coder's
    words) and the number of units coded.

    With a budget, a first pass codes every unit and notes the coder's length after each; the
    second codes the prefix that fits (one unit fewer if the final flush overshoots)."""
    if budget is None:
        return _encode(q, bits, None)
    lengths = [length for _, length in _lengths(q, bits)]
    kept = sum(1 for length in lengths if 16 + length + 64 <= budget)  # 64: the coder's final flush
    while True:
        data, kept = _encode(q, bits, kept)
        if 8 * len(data) <= budget or kept == 0:
            return data, kept
        kept -= 1


def _encode(q: np.ndarray, bits: int, units: int | None) -> tuple[bytes, int]:
    """The stream of the first ``units`` units (all if None)."""
    import constriction

    encoder = constriction.stream.queue.RangeEncoder()
    done = 0
    for done, unit_bits, models, index in _walk(q, bits):
        if units is not None and done > units:
            done -= 1
            break
        _code_unit(encoder, unit_bits, models, index)
    words = encoder.get_compressed()
    return done.to_bytes(2, "big") + words.astype("<u4").tobytes(), done


def _lengths(q: np.ndarray, bits: int):
    """(units so far, coder length in bits after them) for every unit."""
    import constriction

    encoder = constriction.stream.queue.RangeEncoder()
    for done, unit_bits, models, index in _walk(q, bits):
        _code_unit(encoder, unit_bits, models, index)
        yield done, encoder.num_bits()


def _code_unit(encoder, unit_bits: np.ndarray, models: list, index: np.ndarray) -> None:
    for context, m in enumerate(models):
        chosen = unit_bits[index == context]
        if chosen.size:
            encoder.encode(chosen.astype(np.int32), m)


def estimate_bits(q: np.ndarray, bits: int) -> float:
    """About the code length of ``q`` in bits, without coding: the empirical conditional entropy of
    its bits given their contexts (what the adaptive coder approaches, less its cost of learning
    the counts; a fast estimate for steering training)."""
    q = np.asarray(q, dtype=np.int64)
    model = _Contexts(q.shape, bits)
    for plane in range(bits - 1, -1, -1):
        significant = ((q >> (plane + 1)) > 0).astype(np.int64)
        near = np.minimum(_neighbour_sum(significant), 2)
        current = (q >> plane) & 1
        ones = np.minimum(_neighbour_sum(current * model.masks[0]), 2)
        for part in (0, 1):
            mask = np.broadcast_to(model.masks[part], q.shape)
            index = ((significant * 3 + near) * 3 + (ones if part else 0))[mask]
            model.update(part, index, current[mask])
    counts = (model.counts - 1).reshape(-1, 2).astype(np.float64)
    totals = counts.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(-np.nansum(counts * np.log2(counts / totals)))


def _walk(q: np.ndarray, bits: int):
    """For every unit in coding order: (units so far, its bits, its contexts' models, the context of
    each bit); the counts are updated after."""
    q = np.asarray(q, dtype=np.int64)
    if q.ndim != 3 or q.min(initial=0) < 0 or q.max(initial=0) >= 1 << bits:
        raise ValueError(f"q must be ints [C, h, w] in [0, {1 << bits}); got shape {q.shape}")
    model = _Contexts(q.shape, bits)
    known = np.zeros_like(q)
    for done, (plane, part, channel) in enumerate(model.units(q.shape[0]), 1):
        at, index = model.contexts(known, plane, part, channel)
        unit_bits = (q[channel][at[:, 0], at[:, 1]] >> plane) & 1
        yield done, unit_bits, _models(model.probabilities(part)), index
        model.update(part, index, unit_bits)
        known[channel][at[:, 0], at[:, 1]] |= unit_bits << plane


def decode(data: bytes, shape: tuple[int, int, int], bits: int) -> np.ndarray:
    """The code [C, h, w] from :func:`encode`'s bytes; bits that were not sent are set to the middle
    of their range (0 for a coefficient with no 1 received)."""
    try:
        return _decode(data, shape, bits)
    except (AssertionError, ValueError, RuntimeError, OverflowError) as e:  # constriction asserts on bad data
        if isinstance(e, BitplaneError):
            raise
        raise BitplaneError(f"the bitplane stream is invalid ({e})") from None


def _decode(data: bytes, shape: tuple[int, int, int], bits: int) -> np.ndarray:
    import constriction

    if len(data) < 2 or (len(data) - 2) % 4:
        raise BitplaneError(f"a bitplane stream is 2 bytes and whole 32-bit words; got {len(data)} bytes")
    kept = int.from_bytes(data[:2], "big")
    model = _Contexts(shape, bits)
    units = model.units(shape[0])
    if kept > len(units):
        raise BitplaneError(f"the stream claims {kept} units; a code of this shape has {len(units)}")
    decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(data[2:], dtype="<u4").astype(np.uint32))
    known = np.zeros(shape, np.int64)
    lowest = np.full(shape, bits, np.int64)  # the lowest plane received at each position
    for plane, part, channel in units[:kept]:
        at, index = model.contexts(known, plane, part, channel)
        values = np.zeros(len(index), np.int64)
        for context, m in enumerate(_models(model.probabilities(part))):
            chosen = index == context
            if chosen.any():
                values[chosen] = decoder.decode(m, int(chosen.sum()))
        model.update(part, index, values)
        known[channel][at[:, 0], at[:, 1]] |= values << plane
        lowest[channel][at[:, 0], at[:, 1]] = plane
    missing = (1 << lowest) // 2  # half of the unknown range below the received planes
    return np.where(known > 0, known + missing, known)

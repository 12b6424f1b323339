"""A brush RLE encoder for tests, written from the published rle-pack bit layout.

Header: 32 bits value count, 5 bits word size - 1, four 4-bit run-field sizes - 1. Chunks:
1 flag bit (1 = one value repeated, 0 = literal values), 2 bits choosing a run field, the run
length - 1, then one word or run-length words. Unlike Label Studio's own encoder (which writes
every single value as its own literal chunk) this one groups consecutive single values into
literal chunks, so the decoder's literal path is exercised with long literals too.
"""

from __future__ import annotations

import numpy as np

RUN_BITS = (3, 4, 8, 16)


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[str] = []

    def put(self, value: int, n: int) -> None:
        assert 0 <= value < (1 << n)
        self.bits.append(format(value, f"0{n}b"))

    def bytes(self) -> list[int]:
        text = "".join(self.bits)
        text += "0" * (-len(text) % 8)
        return [int(text[i:i + 8], 2) for i in range(0, len(text), 8)]


def _length_field(n: int) -> int:
    return next(i for i, bits in enumerate(RUN_BITS) if n - 1 < (1 << bits))


def encode(values: np.ndarray, word: int = 8) -> list[int]:
    flat = [int(v) for v in np.asarray(values).ravel()]
    out = BitWriter()
    out.put(len(flat), 32)
    out.put(word - 1, 5)
    for bits in RUN_BITS:
        out.put(bits - 1, 4)
    runs: list[tuple[int, int]] = []
    for v in flat:
        if runs and runs[-1][0] == v:
            runs[-1] = (v, runs[-1][1] + 1)
        else:
            runs.append((v, 1))
    limit = 1 << RUN_BITS[-1]
    literal: list[int] = []

    def flush() -> None:
        while literal:
            part, literal[:] = literal[:limit], literal[limit:]
            out.put(0, 1)
            f = _length_field(len(part))
            out.put(f, 2)
            out.put(len(part) - 1, RUN_BITS[f])
            for v in part:
                out.put(v, word)

    for value, n in runs:
        if n == 1:
            literal.append(value)
            continue
        flush()
        while n:
            part = min(n, limit)
            out.put(1, 1)
            f = _length_field(part)
            out.put(f, 2)
            out.put(part - 1, RUN_BITS[f])
            out.put(value, word)
            n -= part
    flush()
    return out.bytes()


def encode_mask(mask: np.ndarray, colour: tuple[int, int, int] = (255, 0, 0)) -> list[int]:
    """An RGBA stroke: the colour with alpha 255 where the mask is set, zeros elsewhere."""
    h, w = mask.shape
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[mask.astype(bool)] = (*colour, 255)
    return encode(rgba)

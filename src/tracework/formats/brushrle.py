"""Label Studio's brush RLE → a binary mask.

Label Studio stores a brush stroke (``brushlabels`` with ``format: "rle"``) as a list of bytes:
the thi-ng ``rle-pack`` bit stream of the stroke's canvas flattened to RGBA, ``height × width × 4``
8-bit values in row-major order. This is not COCO RLE. The stream, read most significant bit
first within each byte:

- a header: 32 bits, the number of values; 5 bits, the word size minus one; then four 4-bit
  fields, the sizes (minus one) of the four run-length fields a chunk may use;
- chunks until that many values are out: 1 bit (1 = a run of one repeated value, 0 = literal
  values), 2 bits selecting one of the four run-length field sizes, the run length minus one in
  that many bits, then one word (run) or that many words (literal).

Bits left after the last value are padding. The stroke is the alpha channel: a pixel belongs to
it when its alpha is not 0. Written from the published algorithm (label-studio-converter
``brush.decode_rle``, after thi-ng/umbrella ``rle-pack``), checked more strictly: a run that goes
past the declared count, a stream that ends early, or a count that does not match the image is
refused rather than cut or padded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["BrushRLEError", "decode_brush_rle", "brush_mask"]

_HEADER_BITS = 32 + 5 + 4 * 4
_VECTOR_LITERAL = 16  # literals at least this long are unpacked with NumPy in one go


class BrushRLEError(ValueError):
    """The bytes are not a brush RLE stream this module can decode (message for users)."""


class _Bits:
    """Reads big-endian bit fields of up to 32 bits from bytes, in O(1) each."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data) * 8
        self.pos = 0

    def read(self, n: int) -> int:
        end = self.pos + n
        if end > self.size:
            raise BrushRLEError(f"the RLE ends at bit {self.size:,}, inside a field that needs "
                                f"bits {self.pos:,}–{end - 1:,}")
        first, last = self.pos >> 3, (end + 7) >> 3
        chunk = int.from_bytes(self.data[first:last], "big")
        self.pos = end
        return (chunk >> ((last << 3) - end)) & ((1 << n) - 1)

    def read_words(self, count: int, word: int) -> NDArray[np.uint8]:
        """``count`` consecutive ``word``-bit values (word ≤ 8), unpacked at once."""
        end = self.pos + count * word
        if end > self.size:
            raise BrushRLEError(f"the RLE ends at bit {self.size:,}, inside a literal that needs "
                                f"bits {self.pos:,}–{end - 1:,}")
        first, last = self.pos >> 3, (end + 7) >> 3
        bits = np.unpackbits(np.frombuffer(self.data, np.uint8, last - first, first))
        offset = self.pos - (first << 3)
        fields = bits[offset:offset + count * word].reshape(count, word).astype(np.uint16)
        weights = np.left_shift(1, np.arange(word - 1, -1, -1)).astype(np.uint16)
        self.pos = end
        return (fields @ weights).astype(np.uint8)


def decode_brush_rle(rle: Sequence[int], *, max_values: int) -> NDArray[np.uint8]:
    """The flat uint8 values a brush RLE encodes (``height × width × 4`` for a stroke).

    ``rle`` must be a sequence of integers 0–255. More than ``max_values`` declared values is
    refused before anything is allocated (a 53-bit header can declare 4 billion values).
    """
    if set(map(type, rle)) - {int}:
        raise BrushRLEError("the RLE must be a list of integers from 0 to 255")
    values = np.array(rle, dtype=np.int64)
    if values.size and (values.min() < 0 or values.max() > 255):
        raise BrushRLEError("the RLE must be a list of integers from 0 to 255")
    bits = _Bits(values.astype(np.uint8).tobytes())
    if bits.size < _HEADER_BITS:
        raise BrushRLEError(f"the RLE has {len(rle)} bytes, fewer than its 7-byte header")
    count = bits.read(32)
    word = bits.read(5) + 1
    if word > 8:
        raise BrushRLEError(f"the RLE uses {word}-bit words; brush masks use 8-bit words")
    run_sizes = [bits.read(4) + 1 for _ in range(4)]
    if count > max_values:
        raise BrushRLEError(f"the RLE declares {count:,} values; at most {max_values:,} "
                            f"are expected")
    out = np.zeros(count, np.uint8)
    i = 0
    while i < count:
        repeat = bits.read(1)
        j = i + 1 + bits.read(run_sizes[bits.read(2)])
        if j > count:
            raise BrushRLEError(f"a run of {j - i:,} values at value {i:,} goes past the "
                                f"declared {count:,} values")
        if repeat:
            out[i:j] = bits.read(word)
            i = j
        elif j - i >= _VECTOR_LITERAL:
            out[i:j] = bits.read_words(j - i, word)
            i = j
        else:
            for k in range(i, j):
                out[k] = bits.read(word)
            i = j
    return out


def brush_mask(rle: Sequence[int], width: int, height: int) -> NDArray[np.bool_]:
    """The ``(height, width)`` mask of a brush stroke: pixels whose alpha is not 0."""
    expected = width * height * 4
    head = list(rle[:4])
    if len(head) == 4 and all(type(b) is int and 0 <= b <= 255 for b in head):
        declared = int.from_bytes(bytes(head), "big")
        if declared != expected:
            raise BrushRLEError(f"the RLE holds {declared:,} values; an RGBA image of "
                                f"{width}×{height} has {expected:,}")
    values = decode_brush_rle(rle, max_values=expected)
    alpha: NDArray[np.bool_] = values[3::4].reshape(height, width) != 0
    return alpha

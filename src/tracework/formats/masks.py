"""Label-colour PNG masks → per-category COCO RLE, bounding box and area.

A semantic-segmentation answer is a PNG whose flat colours are labels, plus a mapping
``label -> "#rrggbb"``. :func:`decode_mask_cell` turns the base64 text of one answer into a
:class:`MaskResult`; it is the function ingest runs in worker processes.

Rules, in the order they are applied (each failure is a :class:`~tracework.core.errors.MaskError`
whose message says what is wrong; the caller adds file, row and field):

Text
    ASCII whitespace anywhere (spaces, tabs, CR, LF: CSV and e-mail wrapping) is removed. An
    optional ``data:image/png;base64,`` prefix (letters in any case) is removed; a ``data:``
    URL of another type is refused. The rest must be standard base64 (``A-Z a-z 0-9 + /``)
    with correct ``=`` padding. Text whose decoded size would exceed ``max_bytes`` is refused
    before anything is decoded.
PNG structure
    Checked before any pixel is decoded: the 8-byte signature, then every chunk (length,
    type, CRC), ``IHDR`` first, consecutive ``IDAT`` chunks, ``IEND`` last with nothing after
    it. So a truncated or corrupted file is refused with the byte offset where it breaks.
    From ``IHDR``: 16-bit images are refused (label masks are 8-bit); a size other than
    ``expected_size`` is refused with both sizes; more than ``max_pixels`` pixels is refused
    (decompression bombs: memory and time stay bounded by the limit).
Colours
    Every colour type is expanded to 8-bit RGBA the way a browser shows it: grey ``v`` is
    ``(v, v, v)``, low bit depths are scaled to 0-255, a palette index is its ``PLTE``
    entry, and ``tRNS`` gives alpha. A pixel then is
      * background: alpha 0 with any RGB (the default), or exactly the configured opaque
        ``background`` colour (then transparent pixels are *not* background);
      * a label: exactly that label's colour with alpha 255 (hex digits in any case);
      * unknown: anything else, including partially transparent pixels.
Unknown colours
    With ``tolerance`` 0 (the default) any unknown pixel refuses the mask, and the message
    lists the unknown colours (``#rrggbb``, or ``#rrggbbaa`` when alpha is not 255) with their
    pixel counts, the 10 most frequent first. With ``tolerance`` t > 0, if the unknown pixels
    are at most ``t × width × height`` they are counted as background (so
    ``background_pixels`` includes them) and also reported as ``tolerated_pixels``; more than
    that still refuses the mask. Unknown pixels are never given to a label.
Result
    One :class:`PartMask` per label that covers at least one pixel, in the mapping's order;
    an all-background mask is valid and has no parts. ``background_pixels`` plus the parts'
    areas is ``width × height``. RLEs are COCO compressed RLE (column-major, string counts).
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from pycocotools import mask as _coco

from tracework.core.errors import ConfigError, MaskError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "MaskResult",
    "PartMask",
    "PolygonRaster",
    "decode_base64_png",
    "decode_label_png",
    "decode_mask_cell",
    "png_size",
    "polygons",
    "rasterise_polygons",
    "rle_geometry",
    "rle_to_mask",
]

DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MAX_BYTES = 16 * 1024 * 1024

# COCO RLE counts are unsigned 32-bit, so no mask may have more pixels than that.
_RLE_MAX_PIXELS = 2**32 - 1


@dataclass(frozen=True)
class PartMask:
    """The pixels of one label in one mask."""

    category: str
    rle: dict[str, Any]  # COCO RLE {"size": [h, w], "counts": compressed str}
    bbox: tuple[float, float, float, float]  # x, y, w, h in pixels
    area: int  # pixel count


@dataclass(frozen=True)
class MaskResult:
    """A decoded label mask."""

    width: int
    height: int
    parts: tuple[PartMask, ...]  # labels with area > 0, in the mapping's order
    background_pixels: int  # includes tolerated_pixels
    tolerated_pixels: int  # unknown-colour pixels absorbed by the tolerance rule


# ---------------------------------------------------------------------------------------------
# base64 text


_WHITESPACE = str.maketrans("", "", " \t\r\n\f\v")
_DATA_URL = re.compile(r"data:([^,;]*)((?:;[^,;]*)*),", re.IGNORECASE)
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")


def decode_base64_png(text: str, *, max_bytes: int) -> bytes:
    """The bytes of a base64 mask cell (see the module's rules); not yet checked as PNG."""
    if not isinstance(text, str):
        raise MaskError(f"mask must be base64 text, not {type(text).__name__}")
    # Bound the work before copying: the text can only shrink from here, and base64 plus
    # generous wrapping and a data: prefix is well under twice the decoded size.
    if len(text) > 2 * max_bytes + 1024:
        raise MaskError(f"mask text is {len(text):,} characters, too long for a PNG of at most "
                        f"{_size(max_bytes)}")
    s = text.translate(_WHITESPACE)
    if s[:5].lower() == "data:":
        s = _strip_data_url(s)
    if not s:
        raise MaskError("mask is empty")
    bad = _NOT_BASE64.search(s)
    if bad is not None:
        raise MaskError(f"mask is not valid base64: character {bad.group()!r} at position "
                        f"{bad.start():,} (not counting whitespace)")
    if len(s) % 4:
        raise MaskError(f"mask base64 has incorrect padding: {len(s):,} characters (not counting "
                        "whitespace) is not a multiple of 4; the text may be cut short")
    decoded = len(s) // 4 * 3 - (len(s) - len(s.rstrip("=")))
    if decoded > max_bytes:
        raise MaskError(f"mask PNG is {_size(decoded)}, more than the limit of {_size(max_bytes)}")
    try:
        return base64.b64decode(s, validate=True)
    except binascii.Error as exc:
        raise MaskError(f"mask is not valid base64: {exc}") from None


def _strip_data_url(s: str) -> str:
    m = _DATA_URL.match(s)
    if m is None:
        raise MaskError("mask starts with 'data:' but has no ',' ending a data URL header")
    media, params = m.group(1).lower(), m.group(2).lower().split(";")
    if media != "image/png":
        raise MaskError(f"mask is a data URL of type {media or 'text/plain'!r}, not 'image/png'")
    if "base64" not in params:
        raise MaskError("mask is a data URL without ';base64'; only base64 PNG data is accepted")
    return s[m.end():]


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n:,} bytes"


# ---------------------------------------------------------------------------------------------
# PNG structure


_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BIT_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_OTHER_FORMATS = (
    (b"GIF87a", "a GIF image"), (b"GIF89a", "a GIF image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"BM", "a BMP image"), (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
    (b"%PDF", "a PDF document"), (b"\x00\x00\x01\x00", "an ICO image"),
)


@dataclass(frozen=True)
class _Header:
    width: int
    height: int
    bit_depth: int
    colour_type: int
    trns: bytes | None


def png_size(png: bytes) -> tuple[int, int]:
    """``(width, height)`` read from the IHDR chunk, without decoding the image."""
    _check_signature(png)
    header = _read_ihdr(png)
    return header.width, header.height


def _check_signature(png: bytes) -> None:
    if png[:8] == _SIGNATURE:
        return
    if 0 < len(png) < 8 and _SIGNATURE.startswith(png):
        raise MaskError(f"mask PNG is truncated: {len(png)} bytes, too short for its header")
    if png[:4] == _SIGNATURE[:4]:
        raise MaskError("mask is a damaged PNG: its signature was altered (line endings "
                        "converted by a text-mode transfer?)")
    raise MaskError(f"mask is not a PNG: it looks like {_describe(png)}")


def _describe(data: bytes) -> str:
    if not data:
        return "nothing (0 bytes)"
    for magic, name in _OTHER_FORMATS:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "a WebP image"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "an SVG image"
    if head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if head.startswith(b"<"):
        return "XML or HTML text"
    return f"unknown data starting with {data[:8].hex(' ')}"


def _read_ihdr(png: bytes) -> _Header:
    if len(png) < 33:
        raise MaskError(f"mask PNG is truncated: {len(png)} bytes, too short for its header")
    length, kind = struct.unpack_from(">I4s", png, 8)
    if kind != b"IHDR" or length != 13:
        raise MaskError("mask PNG is corrupt: it does not start with a 13-byte IHDR chunk")
    width, height, depth, ctype, compression, filtering, interlace = struct.unpack_from(
        ">IIBBBBB", png, 16)
    if zlib.crc32(memoryview(png)[12:29]) != struct.unpack_from(">I", png, 29)[0]:
        raise MaskError("mask PNG is corrupt: the IHDR chunk fails its CRC check")
    if not (0 < width < 2**31 and 0 < height < 2**31):
        raise MaskError(f"mask PNG declares an invalid size {width}x{height}")
    if depth not in _BIT_DEPTHS.get(ctype, ()):
        raise MaskError(f"mask PNG declares an invalid colour type {ctype} with bit depth {depth}")
    if compression or filtering or interlace > 1:
        raise MaskError("mask PNG declares an unknown compression, filter or interlace method")
    return _Header(width, height, depth, ctype, None)


def _read_structure(png: bytes) -> _Header:
    """IHDR plus the tRNS payload, after checking the whole chunk layout."""
    _check_signature(png)
    header = _read_ihdr(png)
    view = memoryview(png)
    size = len(png)
    pos, plte = 33, False
    trns: bytes | None = None
    idat = "before"  # then "in", then "after"
    while True:
        if pos + 12 > size:
            raise MaskError(f"mask PNG is truncated at byte {size:,}: it ends "
                            f"{'inside a chunk header' if pos < size else 'before its IEND chunk'}")
        length, kind = struct.unpack_from(">I4s", png, pos)
        name = kind.decode("latin-1")
        if length >= 2**31 or not kind.isalpha():
            raise MaskError(f"mask PNG is corrupt at byte {pos:,}: not a valid chunk header")
        end = pos + 12 + length
        if end > size:
            raise MaskError(f"mask PNG is truncated: chunk {name} at byte {pos:,} declares "
                            f"{length:,} bytes of data but the file ends at byte {size:,}")
        if zlib.crc32(view[pos + 4:end - 4]) != struct.unpack_from(">I", png, end - 4)[0]:
            raise MaskError(f"mask PNG is corrupt: chunk {name} at byte {pos:,} fails its CRC "
                            "check")
        if kind == b"IDAT":
            if idat == "after":
                raise MaskError(f"mask PNG is corrupt: IDAT chunks are not consecutive "
                                f"(another one at byte {pos:,})")
            idat = "in"
        elif idat == "in":
            idat = "after"
        if kind == b"PLTE":
            plte = True
        elif kind == b"tRNS":
            trns = bytes(view[pos + 8:end - 4])
        elif kind == b"IHDR":
            raise MaskError(f"mask PNG is corrupt: a second IHDR chunk at byte {pos:,}")
        elif kind == b"IEND":
            break
        pos = end
    if end != size:
        raise MaskError(f"mask PNG has {size - end:,} unexpected bytes after its IEND chunk")
    if idat == "before":
        raise MaskError("mask PNG has no image data (no IDAT chunk)")
    if header.colour_type == 3 and not plte:
        raise MaskError("mask PNG is a palette image without a PLTE chunk")
    return _Header(header.width, header.height, header.bit_depth, header.colour_type, trns)


def _check_header(header: _Header, expected_size: tuple[int, int] | None,
                  max_pixels: int) -> None:
    w, h = header.width, header.height
    if header.bit_depth == 16:
        raise MaskError("mask PNG has 16 bits per sample; label masks must be 8-bit "
                        "(flat colours, one byte per channel)")
    if expected_size is not None and (w, h) != tuple(expected_size):
        ew, eh = expected_size
        raise MaskError(f"mask is {w}x{h} pixels but the image it labels is {ew}x{eh} "
                        "(width x height)")
    limit = min(max_pixels, _RLE_MAX_PIXELS)
    if w * h > limit:
        raise MaskError(f"mask PNG declares {w}x{h} = {w * h:,} pixels, more than the limit of "
                        f"{limit:,}; refused before decoding")


# ---------------------------------------------------------------------------------------------
# Colours and keys
#
# A pixel is handled as one uint32 whose bytes are B, G, R, A in memory order: that is what
# OpenCV decodes to, so a whole image is compared without reordering channels. Keys are made
# from the same byte order, so the code does not depend on the machine's endianness.

_HEX = re.compile(r"#[0-9a-fA-F]{6}\Z")
_TRANSPARENT = 0  # the key every alpha-0 pixel is folded into in the default background mode


def _key(r: int, g: int, b: int, a: int = 255) -> int:
    return int(np.array([b, g, r, a], np.uint8).view(np.uint32)[0])


def _hex_key(value: object) -> int | None:
    if not isinstance(value, str) or _HEX.match(value) is None:
        return None
    return _key(int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))


def _colour_name(key: int) -> str:
    b, g, r, a = np.array([key], np.uint32).view(np.uint8).tolist()
    return f"#{r:02x}{g:02x}{b:02x}" + ("" if a == 255 else f"{a:02x}")


def _label_keys(colours: Mapping[str, str], background: int | None) -> list[tuple[str, int]]:
    keys: list[tuple[str, int]] = []
    owner: dict[int, str] = {}
    for category, colour in colours.items():
        key = _hex_key(colour)
        if key is None:
            raise MaskError(f"label {category!r} has colour {colour!r}, which is not #rrggbb")
        if key == background:
            raise MaskError(f"label {category!r} has the background colour {colour}")
        if key in owner:
            raise MaskError(f"labels {owner[key]!r} and {category!r} have the same colour "
                            f"{_colour_name(key)}")
        owner[key] = category
        keys.append((category, key))
    return keys


# ---------------------------------------------------------------------------------------------
# Decoding


def _decode_runs(png: bytes, header: _Header) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
    """Runs of equal RGBA in column-major order: (value per run, length per run).

    COCO RLE is column-major, so the image is transposed once (OpenCV's blocked transpose
    is a few ms) and then read as one flat sequence. Label masks have a few thousand runs
    against millions of pixels, so everything after this works on tiny arrays.
    """
    try:
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise MaskError(f"mask PNG could not be decoded: {exc.err or exc}") from None
    if image is None:
        raise MaskError("mask PNG could not be decoded: its image data is incomplete or corrupt")
    if image.dtype != np.uint8 or image.shape[:2] != (header.height, header.width):
        raise MaskError(f"mask PNG decoded to {image.shape} {image.dtype}, not "
                        f"{header.width}x{header.height} 8-bit pixels")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels == 1:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGRA)
    elif channels == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    elif channels != 4:
        raise MaskError(f"mask PNG decoded to {channels} channels")
    flat = cv2.transpose(image).view(np.uint32).reshape(-1)
    del image
    starts = np.flatnonzero(flat[1:] != flat[:-1])
    starts += 1
    starts = np.concatenate((np.zeros(1, starts.dtype), starts))
    values = flat[starts]
    lengths = np.diff(starts, append=flat.size).astype(np.int64, copy=False)
    if header.trns is not None and channels in (1, 3):
        _apply_colour_key(values, header)
    return values, lengths


def _apply_colour_key(values: NDArray[np.uint32], header: _Header) -> None:
    """Make the tRNS colour transparent where the decoder left it opaque."""
    trns = header.trns or b""
    if header.colour_type == 0 and len(trns) == 2:
        grey = struct.unpack(">H", trns)[0]
        if grey >= 2**header.bit_depth:
            return  # matches no pixel
        r = g = b = grey * 255 // (2**header.bit_depth - 1)
    elif header.colour_type == 2 and len(trns) == 6:
        r, g, b = struct.unpack(">HHH", trns)
        if max(r, g, b) > 255:
            return
    else:
        return
    values[values == _key(r, g, b)] = _key(r, g, b, 0)


def decode_label_png(png: bytes, colours: Mapping[str, str], *,
                     expected_size: tuple[int, int] | None = None,
                     background: str | None = None, tolerance: float = 0.0,
                     max_pixels: int = DEFAULT_MAX_PIXELS) -> MaskResult:
    """Split a label-colour PNG into one COCO RLE per label (see the module's rules).

    ``colours`` maps label to ``"#rrggbb"``; ``expected_size`` is ``(width, height)``;
    ``background`` is ``None`` for transparent pixels or an opaque ``"#rrggbb"``;
    ``tolerance`` is the share of all pixels (0 to 1) of unknown colour counted as background.
    """
    if not 0.0 <= tolerance <= 1.0:
        raise ConfigError(f"mask tolerance must be between 0 and 1, not {tolerance!r}")
    bg_key = None
    if background is not None:
        bg_key = _hex_key(background)
        if bg_key is None:
            raise ConfigError(f"mask background {background!r} is not an #rrggbb colour")
    labels = _label_keys(colours, bg_key)
    header = _read_structure(png)
    _check_header(header, expected_size, max_pixels)
    values, lengths = _decode_runs(png, header)
    if bg_key is None:
        values[values.view(np.uint8)[3::4] == 0] = _TRANSPARENT
        bg_key = _TRANSPARENT
    h, w = header.height, header.width
    tolerated = _absorb_unknown(values, lengths, [k for _, k in labels], bg_key, tolerance,
                                w * h)
    parts = []
    for category, key in labels:
        is_label = values == key
        if is_label.any():
            parts.append(_part(category, is_label, lengths, h, w))
    return MaskResult(width=w, height=h, parts=tuple(parts),
                      background_pixels=w * h - sum(p.area for p in parts),
                      tolerated_pixels=tolerated)


def _absorb_unknown(values: NDArray[np.uint32], lengths: NDArray[np.int64], keys: list[int],
                    bg_key: int, tolerance: float, total: int) -> int:
    """Fold unknown runs into the background if the tolerance allows, else refuse the mask."""
    unknown = ~np.isin(values, np.array(keys + [bg_key], np.uint32))
    if not unknown.any():
        return 0
    colours, inverse = np.unique(values[unknown], return_inverse=True)
    counts = np.bincount(inverse, weights=lengths[unknown]).astype(np.int64)
    n_unknown = int(counts.sum())
    if n_unknown <= tolerance * total:
        values[unknown] = bg_key
        return n_unknown
    order = np.argsort(-counts, kind="stable")
    shown = ", ".join(f"{_colour_name(int(colours[i]))} ({int(counts[i]):,} px)"
                      for i in order[:10])
    if len(order) > 10:
        rest = order[10:]
        shown += f", and {len(rest):,} more colours ({int(counts[rest].sum()):,} px)"
    noun = "colour is" if len(colours) == 1 else "colours are"
    raise MaskError(
        f"mask has {len(colours):,} {noun} neither background nor a label: {shown}; "
        f"{n_unknown:,} of {total:,} px ({100 * n_unknown / total:.3g}%), above the tolerance "
        f"of {100 * tolerance:.3g}%",
        hint="Add the colours to the label mapping, configure the background colour, or set "
             "mask_tolerance if they are anti-aliasing.")


def _part(category: str, is_label: NDArray[np.bool_], lengths: NDArray[np.int64],
          h: int, w: int) -> PartMask:
    # Adjacent runs on the same side of "is this label" merge into one COCO count, which
    # starts with the (possibly empty) run of pixels that are not the label.
    edges = np.flatnonzero(is_label[1:] != is_label[:-1])
    edges += 1
    counts = np.add.reduceat(lengths, np.concatenate((np.zeros(1, edges.dtype), edges)))
    if is_label[0]:
        counts = np.concatenate((np.zeros(1, counts.dtype), counts))
    rle = _coco.frPyObjects({"size": [h, w], "counts": counts.astype(np.uint32)}, h, w)
    x, y, bw, bh = (float(v) for v in _coco.toBbox(rle))
    area = int(counts[1::2].sum())
    return PartMask(category=category,
                    rle={"size": [h, w], "counts": rle["counts"].decode("ascii")},
                    bbox=(x, y, bw, bh), area=area)


def decode_mask_cell(text: str, colours: Mapping[str, str], *,
                     expected_size: tuple[int, int] | None = None,
                     background: str | None = None, tolerance: float = 0.0,
                     max_pixels: int = DEFAULT_MAX_PIXELS,
                     max_bytes: int = DEFAULT_MAX_BYTES) -> MaskResult:
    """:func:`decode_base64_png` then :func:`decode_label_png`: one answer cell to parts."""
    png = decode_base64_png(text, max_bytes=max_bytes)
    return decode_label_png(png, colours, expected_size=expected_size, background=background,
                            tolerance=tolerance, max_pixels=max_pixels)


# ---------------------------------------------------------------------------------------------
# RLE helpers


def rle_to_mask(rle: Mapping[str, Any], *,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> NDArray[np.uint8]:
    """The ``(h, w)`` uint8 0/1 mask of a COCO RLE (compressed or list counts).

    The RLE is checked first (counts cover exactly ``h × w`` pixels, at most ``max_pixels``):
    an RLE read from a file is outside data, and COCO's C decoder writes past its buffer when
    the counts add up to more than the size.
    """
    h, w, counts = _rle_counts(rle)
    if h * w > max_pixels:
        raise MaskError(f"RLE size {h}x{w} = {h * w:,} pixels is more than the limit of "
                        f"{max_pixels:,}")
    values = np.zeros(len(counts), np.uint8)
    values[1::2] = 1
    flat = np.repeat(values, counts)
    return np.ascontiguousarray(flat.reshape(w, h).T)


def _rle_counts(rle: Mapping[str, Any]) -> tuple[int, int, NDArray[np.int64]]:
    try:
        size, raw = rle["size"], rle["counts"]
        h, w = (int(v) for v in size)
    except (KeyError, TypeError, ValueError):
        raise MaskError("RLE must be a mapping with 'size' [h, w] and 'counts'") from None
    if h < 0 or w < 0:
        raise MaskError(f"RLE size {size!r} is negative")
    if isinstance(raw, str):
        raw = raw.encode("latin-1", "replace")
    if isinstance(raw, bytes):
        counts = _parse_counts(raw)
    else:
        counts = np.asarray(raw)
        if counts.ndim != 1 or not (counts.dtype.kind in "iu" or counts.size == 0):
            raise MaskError("RLE counts must be a string or a list of integers")
        counts = counts.astype(np.int64)
    if len(counts) and counts.min() < 0:
        raise MaskError("RLE counts contain a negative run")
    if int(counts.sum()) != h * w:
        raise MaskError(f"RLE counts cover {int(counts.sum()):,} pixels, not {h}x{w} = {h * w:,}")
    return h, w, counts


def _parse_counts(text: bytes) -> NDArray[np.int64]:
    """COCO's compressed counts: 5-bit groups, 0x20 = more follows, 0x10 on the last group
    = negative; counts from the fourth on are stored as the difference to the one two back."""
    if not text:
        return np.zeros(0, np.int64)
    c = np.frombuffer(text, np.uint8).astype(np.int64) - 48
    if c.min() < 0 or c.max() > 63:
        raise MaskError("RLE counts string has characters outside '0'..'o'")
    last = (c & 0x20) == 0
    if not last[-1]:
        raise MaskError("RLE counts string ends inside a number")
    starts = np.flatnonzero(np.concatenate(([True], last[:-1])))
    digit = np.arange(len(c)) - np.repeat(starts, np.diff(starts, append=len(c)))
    if digit.max() > 7:
        raise MaskError("RLE counts string has a number too long for 32 bits")
    x = np.add.reduceat((c & 0x1F) << (5 * digit), starts)
    negative = (c[last] & 0x10) != 0
    x[negative] -= np.int64(1) << (5 * (digit[last][negative] + 1))
    counts = x.copy()
    counts[1::2] = np.cumsum(x[1::2])
    counts[2::2] = np.cumsum(x[2::2])
    return counts


def polygons(rle: Mapping[str, Any], *, min_points: int = 3,
             max_pixels: int = DEFAULT_MAX_PIXELS) -> list[list[float]]:
    """COCO polygons ``[x1, y1, x2, y2, ...]`` tracing the outer edges of the mask's pixels.

    Coordinates are pixel edges, so a polygon re-rasterised by pycocotools covers the same
    pixels; holes cannot be expressed as COCO polygons and are filled. Polygons with fewer
    than ``min_points`` points (at least 3: pycocotools reads 4 numbers as a box) are dropped.
    """
    if min_points < 3:
        raise ValueError("min_points must be at least 3")
    mask = rle_to_mask(rle, max_pixels=max_pixels)
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return []
    cols = np.flatnonzero(mask.any(axis=0))
    y0, x0 = int(rows[0]), int(cols[0])
    crop = np.ascontiguousarray(mask[y0:rows[-1] + 1, x0:cols[-1] + 1])
    # findContours follows pixel centres, which shrinks a shape by one pixel on its right and
    # bottom. On a 2x nearest upscale the outermost sub-pixels of pixel j are 2j and 2j+1,
    # and ceil(coordinate / 2) turns them into the pixel edges j and j+1.
    up = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(up, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for contour in contours:
        points = (contour.reshape(-1, 2) + 1) // 2
        points = points[np.any(points != np.roll(points, 1, axis=0), axis=1)]
        if len(points) >= min_points:
            points += (x0, y0)
            out.append(points.reshape(-1).astype(float).tolist())
    return out


@dataclass(frozen=True)
class PolygonRaster:
    """A polygon rasterised to its image: COCO RLE, bounding box and pixel area."""

    rle: dict[str, Any]
    bbox: tuple[float, float, float, float]
    area: int


def rasterise_polygons(polys: list[list[float]], width: int, height: int, *,
                       max_pixels: int = DEFAULT_MAX_PIXELS) -> PolygonRaster:
    """COCO polygons ``[x1, y1, x2, y2, …]`` (one shape, maybe in pieces) as pycocotools
    rasterises them for an image of ``width`` × ``height``; vertices outside it are clipped."""
    if not polys or any(len(p) < 6 or len(p) % 2 for p in polys):
        raise ValueError("each polygon needs at least 3 points")
    if width <= 0 or height <= 0 or width * height > min(max_pixels, _RLE_MAX_PIXELS):
        raise MaskError(f"an image of {width}×{height} pixels is larger than the cap of "
                        f"{max_pixels:,} pixels")
    rles = _coco.frPyObjects([list(map(float, p)) for p in polys], height, width)
    rle = _coco.merge(rles)
    x, y, w, h = (float(v) for v in _coco.toBbox(rle))
    counts = rle["counts"]
    return PolygonRaster(
        {"size": [height, width],
         "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts},
        (x, y, w, h), int(_coco.area(rle)))


def rle_geometry(rle: Mapping[str, Any]) -> tuple[tuple[int, int], tuple[float, float, float, float],
                                                   int]:
    """A COCO RLE's size (height, width), bounding box (x, y, w, h) and pixel area, as
    pycocotools computes them."""
    height, width = (int(v) for v in rle["size"])
    counts = rle["counts"]
    obj = {"size": [height, width],
           "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    x, y, w, h = (float(v) for v in _coco.toBbox(obj))
    return (height, width), (x, y, w, h), int(_coco.area(obj))

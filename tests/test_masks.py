"""tracework.formats.masks: label-colour PNG → per-category COCO RLE, bbox and area."""

from __future__ import annotations

import base64
import pickle
import struct
import time
import zlib
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as coco

from tracework.core.errors import ConfigError, MaskError
from tracework.formats import masks
from tracework.formats.masks import (
    decode_base64_png,
    decode_label_png,
    decode_mask_cell,
    png_size,
    polygons,
    rle_to_mask,
)

# pycocotools' decode still calls __array__ without numpy 2's copy keyword.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

COLOURS = {
    "Body": "#1f77b4",
    "Cable": "#2ca02c",
    "Left_Button": "#d62728",
    "Right_Button": "#9467bd",
    "Scroll_Wheel": "#ff7f0e",
}


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def rgba_png(rgba: np.ndarray) -> bytes:
    """An RGBA (or RGB, or grey) array as PNG, encoded by OpenCV."""
    if rgba.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if rgba.shape[2] == 4 else cv2.COLOR_RGB2BGR
        rgba = cv2.cvtColor(rgba, code)
    ok, buf = cv2.imencode(".png", rgba)
    assert ok
    return buf.tobytes()


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_png(samples: np.ndarray, colour_type: int, bit_depth: int = 8, *,
            plte: bytes | None = None, trns: bytes | None = None,
            idat: bytes | None = None, size: tuple[int, int] | None = None) -> bytes:
    """A PNG written by hand, for colour types and depths OpenCV does not write.

    ``samples`` is (h, w) or (h, w, channels) of sample values; rows use filter 0.
    """
    h, w = samples.shape[:2]
    flat = samples.reshape(h, -1).astype(np.uint32)
    if bit_depth == 16:
        rows = flat.astype(">u2").view(np.uint8).reshape(h, -1)
    elif bit_depth == 8:
        rows = flat.astype(np.uint8)
    else:
        shifts = np.arange(bit_depth - 1, -1, -1)
        bits = ((flat[..., None] >> shifts) & 1).astype(np.uint8).reshape(h, -1)
        rows = np.packbits(bits, axis=1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    width, height = size or (w, h)
    out = b"\x89PNG\r\n\x1a\n" + chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))
    if plte is not None:
        out += chunk(b"PLTE", plte)
    if trns is not None:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(raw) if idat is None else idat) + chunk(b"IEND", b"")


def scene(h: int = 40, w: int = 60) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """An RGBA label image on a transparent background, and each label's true mask."""
    yy, xx = np.mgrid[:h, :w]
    truth = {
        "Body": ((xx - 30) / 22.0) ** 2 + ((yy - 20) / 14.0) ** 2 <= 1,
        "Left_Button": (yy >= 3) & (yy < 9) & (xx >= 20) & (xx < 29),
        "Cable": (xx == 59) | (yy == 39),
        "Scroll_Wheel": (yy == 20) & (xx == 30),
    }
    truth["Body"] &= ~truth["Left_Button"] & ~truth["Scroll_Wheel"]
    img = np.zeros((h, w, 4), np.uint8)
    img[..., :3] = np.random.default_rng(0).integers(0, 256, (h, w, 3))  # RGB under alpha 0
    for name, m in truth.items():
        img[m] = (*rgb(COLOURS[name]), 255)
    return img, truth


def check_parts(result: masks.MaskResult, truth: dict[str, np.ndarray]) -> None:
    present = [name for name in COLOURS if name in truth and truth[name].any()]
    assert [p.category for p in result.parts] == present
    for part in result.parts:
        m = truth[part.category]
        assert np.array_equal(rle_to_mask(part.rle), m)
        assert np.array_equal(coco.decode(part.rle), m)
        ref = coco.encode(np.asfortranarray(m.astype(np.uint8)))
        assert part.rle == {"size": list(m.shape), "counts": ref["counts"].decode("ascii")}
        assert part.area == int(m.sum())
        ys, xs = np.nonzero(m)
        assert part.bbox == (xs.min(), ys.min(), xs.max() - xs.min() + 1,
                             ys.max() - ys.min() + 1)
    area = sum(p.area for p in result.parts)
    assert result.background_pixels == result.width * result.height - area


def message(exc: pytest.ExceptionInfo[BaseException]) -> str:
    return str(exc.value)


# --- round trips by colour type ----------------------------------------------------------------


def test_rgba_round_trip_known_parts() -> None:
    img, truth = scene()
    result = decode_label_png(rgba_png(img), COLOURS, expected_size=(60, 40))
    assert (result.width, result.height, result.tolerated_pixels) == (60, 40, 0)
    check_parts(result, truth)
    assert all(isinstance(v, float) for p in result.parts for v in p.bbox)
    assert isinstance(result.parts[0].rle["counts"], str)


def test_mapping_colours_compare_case_insensitively_and_keep_mapping_order() -> None:
    img, truth = scene()
    upper = {name: colour.upper() for name, colour in reversed(COLOURS.items())}
    result = decode_label_png(rgba_png(img), upper)
    assert [p.category for p in result.parts] == [n for n in upper if n in truth]


def test_palette_png_with_transparent_entry() -> None:
    img, truth = scene()
    entries = [(0, 0, 0)] + [rgb(c) for c in COLOURS.values()]
    index = np.zeros(img.shape[:2], np.uint8)
    for i, name in enumerate(COLOURS, 1):
        if name in truth:
            index[truth[name]] = i
    png = raw_png(index, 3, plte=b"".join(bytes(e) for e in entries), trns=b"\x00")
    check_parts(decode_label_png(png, COLOURS), truth)


def test_palette_png_at_two_bits_per_pixel_with_opaque_background() -> None:
    index = np.array([[0, 1, 2], [2, 1, 0]])
    plte = bytes((255, 255, 255, *rgb(COLOURS["Body"]), *rgb(COLOURS["Cable"])))
    result = decode_label_png(raw_png(index, 3, 2, plte=plte), COLOURS, background="#FFFFFF")
    check_parts(result, {"Body": index == 1, "Cable": index == 2})


def test_rgb_png_with_configured_opaque_background() -> None:
    img, truth = scene()
    opaque = img[..., :3].copy()
    opaque[img[..., 3] == 0] = (255, 255, 255)
    result = decode_label_png(rgba_png(opaque), COLOURS, background="#ffffff")
    check_parts(result, truth)


def test_rgb_png_without_background_colour_configured_is_refused() -> None:
    img = np.full((4, 5, 3), 255, np.uint8)
    with pytest.raises(MaskError) as exc:
        decode_label_png(rgba_png(img), COLOURS)
    assert "#ffffff (20 px)" in message(exc)


def test_grey_png() -> None:
    grey = np.array([[0, 128, 255], [255, 0, 0]], np.uint8)
    labels = {"Mid": "#808080", "Light": "#FFFFFF"}
    result = decode_label_png(rgba_png(grey), labels, background="#000000")
    assert [p.category for p in result.parts] == ["Mid", "Light"]
    assert np.array_equal(rle_to_mask(result.parts[1].rle), grey == 255)
    assert result.background_pixels == 3


def test_grey_png_one_bit_is_scaled_to_white() -> None:
    bits = np.array([[0, 1, 1, 0, 1]])
    result = decode_label_png(raw_png(bits, 0, 1), {"Fg": "#ffffff"}, background="#000000")
    assert np.array_equal(rle_to_mask(result.parts[0].rle), bits == 1)


def test_grey_png_with_transparent_grey_level() -> None:
    grey = np.array([[0, 200, 0], [200, 200, 0]])
    png = raw_png(grey, 0, trns=struct.pack(">H", 0))
    result = decode_label_png(png, {"Part": "#c8c8c8"})
    assert result.background_pixels == 3
    assert np.array_equal(rle_to_mask(result.parts[0].rle), grey == 200)


def test_grey_alpha_png() -> None:
    ga = np.array([[[0, 0], [90, 255]], [[90, 255], [7, 0]]])
    result = decode_label_png(raw_png(ga, 4), {"Part": "#5a5a5a"})
    assert result.parts[0].area == 2 and result.background_pixels == 2


def test_rgb_png_with_transparent_colour_key() -> None:
    px = np.array([[[1, 2, 3], [*rgb(COLOURS["Body"])]]])
    result = decode_label_png(raw_png(px, 2, trns=struct.pack(">HHH", 1, 2, 3)), COLOURS)
    assert result.background_pixels == 1 and result.parts[0].area == 1


def test_empty_mask_is_valid() -> None:
    result = decode_label_png(rgba_png(np.zeros((3, 4, 4), np.uint8)), COLOURS)
    assert result.parts == () and result.background_pixels == 12


def test_one_pixel_mask() -> None:
    result = decode_label_png(rgba_png(np.array([[[*rgb(COLOURS["Cable"]), 255]]], np.uint8)),
                              COLOURS)
    assert result.parts[0].category == "Cable" and result.parts[0].bbox == (0, 0, 1, 1)


# --- unknown colours and the tolerance rule ----------------------------------------------------


def with_strays() -> np.ndarray:
    img, _ = scene()
    img[0, 0:5] = (255, 0, 0, 255)  # 5 px of an unknown opaque colour
    img[1, 0:2] = (*rgb(COLOURS["Body"]), 128)  # 2 px of a label colour, half transparent
    return img


def test_unknown_colours_are_listed_with_counts_most_frequent_first() -> None:
    with pytest.raises(MaskError) as exc:
        decode_label_png(rgba_png(with_strays()), COLOURS)
    text = message(exc)
    assert "2 colours are neither background nor a label" in text
    assert "#ff0000 (5 px), #1f77b480 (2 px)" in text
    assert "7 of 2,400 px" in text


def test_unknown_colour_list_stops_at_ten() -> None:
    img = np.zeros((1, 12, 4), np.uint8)
    img[0, :, :3] = np.arange(12)[:, None]
    img[0, :, 3] = 255
    img[0, 0] = (11, 11, 11, 255)
    with pytest.raises(MaskError) as exc:
        decode_label_png(rgba_png(img), COLOURS)
    text = message(exc)
    assert text.count(" px)") == 11  # ten colours and the "more" summary
    assert text.startswith("mask has 11 colours") and "#0b0b0b (2 px)" in text
    assert "and 1 more colours (1 px)" in text


def test_tolerance_absorbs_unknown_pixels_into_background() -> None:
    _, truth = scene()
    result = decode_label_png(rgba_png(with_strays()), COLOURS, tolerance=7 / 2400)
    assert result.tolerated_pixels == 7
    check_parts(result, truth)  # the half-transparent Body pixels stay out of Body
    labelled = np.logical_or.reduce(list(truth.values()))
    assert result.background_pixels == int((~labelled).sum())  # strays included


def test_tolerance_too_small_still_refuses() -> None:
    with pytest.raises(MaskError) as exc:
        decode_label_png(rgba_png(with_strays()), COLOURS, tolerance=6 / 2400)
    assert "above the tolerance of 0.25%" in message(exc)


def test_transparent_pixels_are_unknown_when_background_is_opaque() -> None:
    img = np.full((2, 2, 4), 255, np.uint8)
    img[0, 0] = (0, 0, 0, 0)
    with pytest.raises(MaskError) as exc:
        decode_label_png(rgba_png(img), COLOURS, background="#ffffff")
    assert "#00000000 (1 px)" in message(exc)


@pytest.mark.parametrize(("mapping", "expected"), [
    ({"Body": "1f77b4"}, "label 'Body' has colour '1f77b4', which is not #rrggbb"),
    ({"Body": "#1f77b"}, "not #rrggbb"),
    ({"Body": "#gggggg"}, "not #rrggbb"),
    ({"Body": None}, "not #rrggbb"),
    ({"A": "#1F77B4", "B": "#1f77b4"}, "labels 'A' and 'B' have the same colour #1f77b4"),
])
def test_bad_label_mapping(mapping: dict[str, Any], expected: str) -> None:
    with pytest.raises(MaskError) as exc:
        decode_label_png(rgba_png(np.zeros((1, 1, 4), np.uint8)), mapping)
    assert expected in message(exc)


def test_label_with_the_background_colour() -> None:
    with pytest.raises(MaskError, match="label 'Sky' has the background colour #FFFFFF"):
        decode_label_png(rgba_png(np.zeros((1, 1, 4), np.uint8)), {"Sky": "#FFFFFF"},
                         background="#ffffff")


def test_bad_settings_are_configuration_errors() -> None:
    png = rgba_png(np.zeros((1, 1, 4), np.uint8))
    with pytest.raises(ConfigError, match="background 'white' is not"):
        decode_label_png(png, COLOURS, background="white")
    with pytest.raises(ConfigError, match="between 0 and 1"):
        decode_label_png(png, COLOURS, tolerance=1.5)


# --- size checks and decompression bombs -------------------------------------------------------


def test_size_mismatch_names_both_sizes() -> None:
    png = rgba_png(np.zeros((40, 60, 4), np.uint8))
    assert png_size(png) == (60, 40)
    with pytest.raises(MaskError) as exc:
        decode_label_png(png, COLOURS, expected_size=(60, 41))
    assert message(exc) == ("mask is 60x40 pixels but the image it labels is 60x41 "
                            "(width x height)")


def test_decompression_bomb_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded a bomb")

    monkeypatch.setattr(masks.cv2, "imdecode", no_decoding)
    bomb = raw_png(np.zeros((1, 1, 4)), 6, idat=zlib.compress(b"\x00" * 1000),
                   size=(20000, 20000))
    assert len(bomb) < 100 and png_size(bomb) == (20000, 20000)
    start = time.perf_counter()
    with pytest.raises(MaskError) as exc:
        decode_mask_cell(base64.b64encode(bomb).decode(), COLOURS)
    assert time.perf_counter() - start < 0.5
    assert message(exc) == ("mask PNG declares 20000x20000 = 400,000,000 pixels, more than the "
                            "limit of 50,000,000; refused before decoding")


def test_pixel_limit_is_configurable() -> None:
    png = rgba_png(np.zeros((100, 100, 4), np.uint8))
    with pytest.raises(MaskError, match="10,000 pixels, more than the limit of 9,999"):
        decode_label_png(png, COLOURS, max_pixels=9_999)
    assert decode_label_png(png, COLOURS, max_pixels=10_000).background_pixels == 10_000


def test_sixteen_bit_png_refused() -> None:
    png = raw_png(np.zeros((2, 2, 4)), 6, 16)
    with pytest.raises(MaskError, match="16 bits per sample; label masks must be 8-bit"):
        decode_label_png(png, COLOURS)


# --- base64 text -------------------------------------------------------------------------------


def small_png() -> bytes:
    img, _ = scene(6, 9)
    return rgba_png(img)


def test_data_prefix_and_csv_wrapping_accepted() -> None:
    png = small_png()
    text = base64.b64encode(png).decode()
    wrapped = "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))
    cell = f"  DATA:image/PNG;base64,{wrapped} \n"
    assert decode_base64_png(cell, max_bytes=10_000) == png
    assert decode_mask_cell(cell, COLOURS) == decode_label_png(png, COLOURS)


def test_invalid_base64_character_is_named() -> None:
    text = base64.b64encode(small_png()).decode()
    with pytest.raises(MaskError) as exc:
        decode_base64_png(text[:10] + "!" + text[11:], max_bytes=10_000)
    assert message(exc) == ("mask is not valid base64: character '!' at position 10 (not "
                            "counting whitespace)")
    with pytest.raises(MaskError, match="character '-'"):
        decode_base64_png("ab-_" * 4, max_bytes=10_000)
    with pytest.raises(MaskError, match="character 'é'"):
        decode_base64_png("abcé" * 4, max_bytes=10_000)


def test_bad_padding() -> None:
    text = base64.b64encode(small_png()).decode()
    with pytest.raises(MaskError, match="incorrect padding: .* not a multiple of 4"):
        decode_base64_png(text[:-1], max_bytes=10_000)
    with pytest.raises(MaskError, match="not valid base64"):
        decode_base64_png("ab=c" + text[4:], max_bytes=10_000)


@pytest.mark.parametrize(("text", "expected"), [
    ("", "mask is empty"),
    (" \r\n", "mask is empty"),
    ("data:image/png;base64,", "mask is empty"),
    ("data:image/jpeg;base64,AAAA", "data URL of type 'image/jpeg', not 'image/png'"),
    ("data:image/png,AAAA", "without ';base64'"),
    ("data:AAAA", "no ',' ending a data URL header"),
])
def test_bad_text(text: str, expected: str) -> None:
    with pytest.raises(MaskError, match=expected):
        decode_base64_png(text, max_bytes=10_000)


def test_non_text_cell() -> None:
    with pytest.raises(MaskError, match="mask must be base64 text, not int"):
        decode_mask_cell(123, COLOURS)  # type: ignore[arg-type]


def test_oversized_text_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(masks.base64, "b64decode", None)
    with pytest.raises(MaskError, match="mask text is 10,000,000 characters, too long"):
        decode_base64_png("A" * 10_000_000, max_bytes=1_000_000)
    with pytest.raises(MaskError, match="mask PNG is 1,002 bytes, more than the limit of "
                                        "1,000 bytes"):
        decode_base64_png("AAAA" * 334, max_bytes=1_000)


# --- not a PNG, truncated, corrupt -------------------------------------------------------------


@pytest.mark.parametrize(("data", "looks_like"), [
    (b"GIF89a\x01\x00\x01\x00", "a GIF image"),
    (cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes(), "a JPEG image"),
    (b"<!DOCTYPE html><html><body>login</body></html>", "an HTML page"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "an SVG image"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "a WebP image"),
    (b"", "nothing (0 bytes)"),
    (b"hello world", "unknown data starting with 68 65 6c 6c 6f 20 77 6f"),
])
def test_not_a_png(data: bytes, looks_like: str) -> None:
    with pytest.raises(MaskError) as exc:
        decode_label_png(data, COLOURS)
    assert message(exc) == f"mask is not a PNG: it looks like {looks_like}"
    if data:
        with pytest.raises(MaskError, match=f"it looks like {looks_like}"):
            decode_mask_cell(base64.b64encode(data).decode(), COLOURS)


def test_signature_damaged_by_line_ending_conversion() -> None:
    png = small_png().replace(b"\r\n", b"\n", 1)
    with pytest.raises(MaskError, match="signature was altered"):
        decode_label_png(png, COLOURS)


def idat_offset(png: bytes) -> int:
    return png.index(b"IDAT") - 4


@pytest.mark.parametrize("where", [
    "signature", "ihdr", "before idat", "idat header", "inside idat", "before iend",
    "inside iend",
])
def test_truncated_png(where: str) -> None:
    png = small_png()
    cut = {
        "signature": 5, "ihdr": 20, "before idat": idat_offset(png),
        "idat header": idat_offset(png) + 6, "inside idat": idat_offset(png) + 30,
        "before iend": len(png) - 12, "inside iend": len(png) - 3,
    }[where]
    with pytest.raises(MaskError, match="truncated"):
        decode_label_png(png[:cut], COLOURS)


def test_truncated_message_gives_chunk_and_offset() -> None:
    png = small_png()
    start = idat_offset(png)
    length = struct.unpack_from(">I", png, start)[0]
    with pytest.raises(MaskError) as exc:
        decode_label_png(png[:start + 30], COLOURS)
    assert message(exc) == (f"mask PNG is truncated: chunk IDAT at byte {start:,} declares "
                            f"{length:,} bytes of data but the file ends at byte {start + 30:,}")


def test_truncated_image_data_inside_well_formed_chunks() -> None:
    img, _ = scene()
    raw = b"".join(b"\x00" + row.tobytes() for row in img)
    png = raw_png(img, 6, idat=zlib.compress(raw)[:-40])
    with pytest.raises(MaskError, match="could not be decoded: its image data is incomplete"):
        decode_label_png(png, COLOURS)


def test_corrupt_chunk_crc() -> None:
    png = bytearray(small_png())
    png[idat_offset(png) + 10] ^= 0xFF
    with pytest.raises(MaskError, match="chunk IDAT at byte 33 fails its CRC check"):
        decode_label_png(bytes(png), COLOURS)


def test_bytes_after_iend() -> None:
    with pytest.raises(MaskError, match="3 unexpected bytes after its IEND chunk"):
        decode_label_png(small_png() + b"abc", COLOURS)


def test_missing_idat_and_missing_palette() -> None:
    png = small_png()
    start = idat_offset(png)
    length = struct.unpack_from(">I", png, start)[0]
    with pytest.raises(MaskError, match="no image data"):
        decode_label_png(png[:start] + png[start + 12 + length:], COLOURS)
    with pytest.raises(MaskError, match="palette image without a PLTE chunk"):
        decode_label_png(raw_png(np.zeros((2, 2)), 3), COLOURS)


# --- RLE helpers -------------------------------------------------------------------------------


def test_rle_to_mask_accepts_list_counts_and_checks_them() -> None:
    rle = {"size": [2, 3], "counts": [1, 2, 3]}
    assert rle_to_mask(rle).tolist() == [[0, 1, 0], [1, 0, 0]]
    with pytest.raises(MaskError, match="cover 7 pixels, not 2x3 = 6"):
        rle_to_mask({"size": [2, 3], "counts": [1, 2, 4]})
    with pytest.raises(MaskError, match="negative run"):
        rle_to_mask({"size": [2, 3], "counts": [7, -1]})
    with pytest.raises(MaskError, match="'size'"):
        rle_to_mask({"counts": "0"})
    with pytest.raises(MaskError, match="a string or a list of integers"):
        rle_to_mask({"size": [2, 3], "counts": [1.5, 4.5]})


def test_rle_to_mask_refuses_a_string_that_overruns_the_size() -> None:
    big = coco.encode(np.asfortranarray(np.ones((50, 50), np.uint8)))["counts"].decode()
    with pytest.raises(MaskError, match="cover 2,500 pixels, not 5x5 = 25"):
        rle_to_mask({"size": [5, 5], "counts": big})
    with pytest.raises(MaskError, match="outside '0'..'o'"):
        rle_to_mask({"size": [5, 5], "counts": "0~"})
    with pytest.raises(MaskError, match="ends inside a number"):
        rle_to_mask({"size": [5, 5], "counts": "0P"})


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def rasterise(polys: list[list[float]], h: int, w: int) -> np.ndarray:
    return coco.decode(coco.merge(coco.frPyObjects(polys, h, w))).astype(bool)


@pytest.mark.parametrize("shape", ["rectangle", "ellipse", "two blobs", "pixel"])
def test_polygons_re_rasterise_to_the_mask(shape: str) -> None:
    m = np.zeros((60, 90), np.uint8)
    if shape == "rectangle":
        m[10:30, 20:60] = 1
    elif shape == "ellipse":
        cv2.ellipse(m, (45, 30), (30, 14), 25, 0, 360, 1, -1)
    elif shape == "two blobs":
        cv2.circle(m, (15, 15), 8, 1, -1)
        m[40:50, 60:85] = 1
    else:
        m[59, 89] = 1
    rle = coco.encode(np.asfortranarray(m))
    polys = polygons(rle)
    assert len(polys) == (2 if shape == "two blobs" else 1)
    assert all(len(p) >= 6 and len(p) % 2 == 0 for p in polys)
    assert iou(rasterise(polys, 60, 90), m.astype(bool)) > 0.95
    if shape == "rectangle":
        assert polys == [[20.0, 10.0, 20.0, 30.0, 60.0, 30.0, 60.0, 10.0]]


def test_polygons_fill_holes_and_drop_small_ones() -> None:
    m = np.zeros((20, 20), np.uint8)
    m[2:18, 2:18] = 1
    m[8:12, 8:12] = 0
    rle = coco.encode(np.asfortranarray(m))
    filled = rasterise(polygons(rle), 20, 20)
    assert filled.sum() == 256 and filled[10, 10]
    assert polygons(rle, min_points=5) == []
    assert polygons(coco.encode(np.zeros((4, 4), np.uint8, order="F"))) == []
    with pytest.raises(ValueError):
        polygons(rle, min_points=2)


# --- worker processes --------------------------------------------------------------------------


def test_results_and_errors_cross_process_boundaries() -> None:
    img, _ = scene()
    result = decode_mask_cell(base64.b64encode(rgba_png(img)).decode(), COLOURS)
    assert pickle.loads(pickle.dumps(result)) == result
    assert pickle.loads(pickle.dumps(decode_mask_cell)) is decode_mask_cell
    try:
        decode_mask_cell("!!!!", COLOURS)
    except MaskError as exc:
        back = pickle.loads(pickle.dumps(exc))
        assert isinstance(back, MaskError) and str(back) == str(exc)


# --- properties --------------------------------------------------------------------------------

LABEL_LIST = list(COLOURS)


@st.composite
def label_images(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    h = draw(st.integers(1, 24))
    w = draw(st.integers(1, 24))
    runs = draw(st.lists(st.tuples(st.integers(-1, len(LABEL_LIST) - 1), st.integers(1, 40)),
                         min_size=1, max_size=30))
    labels = np.repeat([v for v, _ in runs], [n for _, n in runs])
    labels = np.resize(labels, h * w).reshape(h, w)
    if draw(st.booleans()):
        labels = labels.T.copy().reshape(h, w)
    noise = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    img = np.zeros((h, w, 4), np.uint8)
    img[..., :3] = noise.integers(0, 256, (h, w, 3))  # whatever RGB under alpha 0
    for i, name in enumerate(LABEL_LIST):
        img[labels == i] = (*rgb(COLOURS[name]), 255)
    return img, labels


@settings(max_examples=150, deadline=None)
@given(label_images())
def test_random_label_images_round_trip_exactly(case: tuple[np.ndarray, np.ndarray]) -> None:
    img, labels = case
    truth = {name: labels == i for i, name in enumerate(LABEL_LIST)}
    result = decode_label_png(rgba_png(img), COLOURS)
    check_parts(result, truth)
    for part in result.parts:
        bbox = tuple(float(v) for v in coco.toBbox(coco.encode(
            np.asfortranarray(truth[part.category].astype(np.uint8)))))
        assert part.bbox == bbox
    assert result.background_pixels == int((labels == -1).sum())


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.integers(1, 300), st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_compressed_counts_are_read_like_pycocotools(h: int, w: int, p: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = (rng.random((h, w)) < p).astype(np.uint8)
    if rng.random() < 0.5:  # long runs, so that counts need several digits and negative deltas
        m = np.sort(m, axis=int(rng.integers(0, 2)))
    rle = coco.encode(np.asfortranarray(m))
    assert np.array_equal(rle_to_mask(rle), m)
    assert np.array_equal(rle_to_mask({**rle, "counts": rle["counts"].decode()}), m)

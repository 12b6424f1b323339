"""Colours as people read them: WCAG 2 relative luminance and contrast, and the ink (black or
white) that reads best on a background such as a category's or a concern's colour.

WCAG AA asks for a contrast of at least 4.5 between text and its background. Black or white,
whichever contrasts more, always reaches it: the two contrasts are equal (about 4.58) at a
luminance of 0.179, and one of them only grows from there.
"""

from __future__ import annotations

__all__ = ["AA", "BLACK", "WHITE", "contrast", "luminance", "readable_ink", "rgb"]

AA = 4.5
BLACK, WHITE = "#000000", "#ffffff"


def rgb(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` or ``#rgb`` as (red, green, blue), 0-255."""
    value = colour.strip().lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    if len(value) != 6:
        raise ValueError(f"{colour!r} is not a colour like #1f77b4")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _linear(channel: int) -> float:
    v = channel / 255
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def luminance(colour: str | tuple[int, int, int]) -> float:
    """WCAG 2 relative luminance of an sRGB colour (``#rrggbb`` or an (r, g, b) triple)."""
    r, g, b = rgb(colour) if isinstance(colour, str) else colour
    return 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)


def contrast(a: str | tuple[int, int, int], b: str | tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio of two colours, 1 to 21."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def readable_ink(background: str | tuple[int, int, int]) -> str:
    """Black or white, whichever contrasts more with ``background`` (at least 4.5)."""
    return BLACK if contrast(background, BLACK) >= contrast(background, WHITE) else WHITE

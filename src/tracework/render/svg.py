"""Small charts as inline SVG for the static report: no script, no external file, no style
attribute (colours are presentation attributes, which a strict content security policy
allows). Every text that goes into a chart is escaped here; callers pass plain strings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["Bar", "bars", "histogram", "stacked", "strip", "swatch", "text_box"]

INK = "#1d2430"
MUTED = "#5b6575"
GRID = "#d7dce3"
FONT = 'font-family="system-ui, sans-serif"'


class Bar:
    """One bar: a label, a value, a colour and an optional note shown after the value."""

    __slots__ = ("label", "value", "colour", "note")

    def __init__(self, label: str, value: float | None, colour: str = "#3b6ea5",
                 note: str = "") -> None:
        self.label, self.value, self.colour, self.note = label, value, colour, note


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _colour(value: str) -> str:
    """Only #rrggbb colours reach an attribute (they come from tracework.toml)."""
    text = str(value)
    if len(text) == 7 and text[0] == "#" and all(c in "0123456789abcdefABCDEF" for c in text[1:]):
        return text
    return "#888888"


def _svg(width: int, height: int, title: str, body: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{body}</svg>")


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 13,
          colour: str = INK, weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{colour}" font-weight="{weight}" {FONT}>{escape(text)}</text>')


def bars(items: Sequence[Bar], *, title: str, unit: str = "", max_value: float | None = None,
         reference: tuple[float, str] | None = None, width: int = 720,
         label_width: int = 220) -> Markup:
    """Horizontal bars, one row each, value written after the bar; ``reference`` draws a
    dashed line (e.g. the wage floor). A missing value is written, not drawn."""
    row, top = 26, 8
    values = [b.value for b in items if b.value is not None]
    scale_max = max([*values, reference[0] if reference else 0.0, max_value or 0.0, 1e-9])
    # Room for the longest label on the left and the longest value and note after a full bar,
    # so no text runs past the chart's edge.
    label_width = min(round(width * 0.4),
                      round(max(label_width, *(_text_width(b.label) + 16 for b in items))))
    after = max([60, *(_text_width(_value_label(b, unit)) + 12 for b in items)])
    plot = max(width * 0.25, width - label_width - after)
    height = top + row * max(1, len(items)) + (22 if reference else 8)
    parts = []
    for i, b in enumerate(items):
        y = top + i * row
        parts.append(_text(label_width - 8, y + 17, b.label, anchor="end"))
        if b.value is None:
            parts.append(_text(label_width, y + 17, f"not measured{b.note and ' · ' + b.note}",
                               colour=MUTED))
            continue
        w = max(0.0, b.value) / scale_max * plot
        parts.append(f'<rect x="{label_width}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
                     f'fill="{_colour(b.colour)}"/>')
        parts.append(_text(label_width + w + 6, y + 17, _value_label(b, unit), colour=MUTED))
    if reference:
        x = label_width + reference[0] / scale_max * plot
        bottom = top + row * max(1, len(items))
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="{INK}" '
                     f'stroke-dasharray="5 4" stroke-width="1.5"/>')
        parts.append(_text(x, bottom + 16, reference[1], anchor="middle", size=12))
    return _svg(width, height, title, "".join(parts))


def _text_width(text: str, size: int = 13) -> float:
    """A generous estimate of the width of ``text`` in a sans-serif face at ``size`` pixels:
    the page has no script to measure it, and the charts must leave room for it."""
    wide = sum(1 for ch in text if ord(ch) >= 0x1100)
    return (0.62 * (len(text) - wide) + 1.05 * wide) * size


def _value_label(b: Bar, unit: str) -> str:
    if b.value is None:
        return f"not measured{b.note and ' · ' + b.note}"
    return f"{_num(b.value)}{unit}" + (f" · {b.note}" if b.note else "")


def _lanes(xs: Sequence[float], spacing: float = 10.0) -> list[int]:
    """A lane offset (0, 1, -1, 2, -2, …) for each dot so that dots closer than ``spacing``
    in x are stacked instead of hiding one another."""
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    lanes = [0] * len(xs)
    last: dict[int, float] = {}
    for i in order:
        k = 0
        while k in last and xs[i] - last[k] < spacing:
            k = -k if k > 0 else 1 - k
        lanes[i] = k
        last[k] = xs[i]
    return lanes


def stacked(items: Sequence[Bar], *, title: str, width: int = 720) -> Markup:
    """One bar split into parts in proportion, with a legend of counts below."""
    total = sum(max(0.0, b.value or 0.0) for b in items)
    parts = []
    x = 0.0
    for b in items:
        w = (max(0.0, b.value or 0.0) / total * width) if total else 0.0
        if w > 0:
            parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="28" '
                         f'fill="{_colour(b.colour)}"><title>{escape(b.label)}: '
                         f'{_num(b.value or 0)}</title></rect>')
        x += w
    lx, ly = 0.0, 50
    for b in items:
        label = f"{b.label}: {_num(b.value or 0)}"
        step = 26 + 7.5 * len(label)
        if lx + step > width:
            lx, ly = 0.0, ly + 22
        parts.append(f'<rect x="{lx:.1f}" y="{ly - 11}" width="14" height="14" '
                     f'fill="{_colour(b.colour)}"/>')
        parts.append(_text(lx + 20, ly, label))
        lx += step
    return _svg(width, ly + 10, title, "".join(parts))


def strip(rows: Sequence[tuple[str, Sequence[float], float | None]], *, title: str,
          unit: str = "", reference: tuple[float, str] | None = None, width: int = 720,
          label_width: int = 190, colour: str = "#3b6ea5") -> Markup:
    """One row of dots per series (e.g. each worker's hourly pay), its median as a bar and a
    dashed reference line (the floor)."""
    row, top, gutter = 56, 10, 14
    everything = [v for _, vs, _ in rows for v in vs]
    scale_max = max([*everything, reference[0] if reference else 0.0, 1e-9]) * 1.05
    origin = label_width + gutter
    plot = width - origin - 20
    height = top + row * max(1, len(rows)) + 36
    parts = []
    for tick in _ticks(scale_max):
        x = origin + tick / scale_max * plot
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 30}" '
                     f'stroke="{GRID}"/>')
        parts.append(_text(x, height - 14, f"{_num(tick)}{unit}", anchor="middle", size=11,
                           colour=MUTED))
    for i, (label, values, median) in enumerate(rows):
        y = top + i * row + row / 2
        parts.append(_text(label_width - 8, y + 4, label, anchor="end"))
        xs = [origin + max(0.0, v) / scale_max * plot for v in values]
        for x, lane in zip(xs, _lanes(xs), strict=True):
            cy = y + max(-2, min(2, lane)) * 8
            parts.append(f'<circle cx="{x:.1f}" cy="{cy:.1f}" r="4.5" fill="{_colour(colour)}" '
                         f'fill-opacity="0.7"/>')
        if median is not None:
            x = origin + max(0.0, median) / scale_max * plot
            parts.append(f'<line x1="{x:.1f}" y1="{y - 20:.1f}" x2="{x:.1f}" y2="{y + 20:.1f}" '
                         f'stroke="{INK}" stroke-width="3"/>')
            parts.append(_beside(x, y - 12, f"median {_num(median)}{unit}", width, size=11))
    if reference:
        x = origin + reference[0] / scale_max * plot
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 30}" '
                     f'stroke="#c0392b" stroke-dasharray="6 4" stroke-width="2"/>')
        parts.append(_beside(x, top + 12, reference[1], width, size=11, colour="#c0392b"))
    return _svg(width, height, title, "".join(parts))


def _beside(x: float, y: float, text: str, width: int, *, size: int = 11,
            colour: str = INK) -> str:
    """A label just right of the line at ``x``, or just left of it when it would run past the
    chart's right edge, kept inside the chart either way."""
    wide = _text_width(text, size)
    if x + 5 + wide <= width:
        return _text(x + 5, y, text, size=size, colour=colour)
    return _text(max(wide, x - 5), y, text, anchor="end", size=size, colour=colour)


def text_box(x: float, y: float, text: str, *, anchor: str = "start",
             size: int = 13) -> tuple[float, float, float, float]:
    """The box (left, top, right, bottom) a chart text takes at most, from its attributes:
    the width estimate the charts leave room for, the font's ascent above the baseline and
    its descent below."""
    wide = _text_width(text, size)
    left = {"start": x, "middle": x - wide / 2, "end": x - wide}[anchor]
    return left, y - size, left + wide, y + 0.3 * size


def histogram(series: Sequence[tuple[str, Sequence[float], str]], *, title: str, bins: int = 12,
              unit: str = "", width: int = 720, height: int = 200) -> Markup:
    """Counts of values in equal bins, one stacked colour per series, with a legend."""
    everything = [v for _, vs, _ in series for v in vs if v is not None and math.isfinite(v)]
    if not everything:
        return _svg(width, 40, title, _text(0, 24, "no values recorded", colour=MUTED))
    low, high = min(everything), max(everything)
    span = (high - low) or 1.0
    counts = [[0] * bins for _ in series]
    for s, (_, values, _) in enumerate(series):
        for v in values:
            if v is not None and math.isfinite(v):
                counts[s][min(bins - 1, int((v - low) / span * bins))] += 1
    peak = max(sum(c[b] for c in counts) for b in range(bins)) or 1
    plot_h, left, bottom = height - 60, 40, height - 40
    bw = (width - left - 10) / bins
    parts = [_text(left - 6, bottom - plot_h + 4, str(peak), anchor="end", size=11,
                   colour=MUTED), _text(left - 6, bottom, "0", anchor="end", size=11,
                                        colour=MUTED)]
    for b in range(bins):
        y = float(bottom)
        for s, (_, _, colour) in enumerate(series):
            h = counts[s][b] / peak * plot_h
            if h:
                parts.append(f'<rect x="{left + b * bw + 1:.1f}" y="{y - h:.1f}" '
                             f'width="{bw - 2:.1f}" height="{h:.1f}" fill="{_colour(colour)}"/>')
            y -= h
    for edge, anchor in ((0, "middle"), (bins // 2, "middle"), (bins, "end")):
        parts.append(_text(left + edge * bw, bottom + 16, f"{_num(low + span * edge / bins)}"
                           f"{unit}", anchor=anchor, size=11, colour=MUTED))
    lx = float(left)
    for label, values, colour in series:
        parts.append(f'<rect x="{lx:.1f}" y="{height - 13}" width="12" height="12" '
                     f'fill="{_colour(colour)}"/>')
        text = f"{label} ({len(values)})"
        parts.append(_text(lx + 17, height - 3, text, size=12))
        lx += 30 + 7 * len(text)
    return _svg(width, height, title, "".join(parts))


def swatch(colour: str, size: int = 14) -> Markup:
    """A small square of a colour (taxonomy categories, concern types)."""
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
                  f'viewBox="0 0 {size} {size}" aria-hidden="true"><rect width="{size}" '
                  f'height="{size}" rx="2" fill="{_colour(colour)}"/></svg>')


def _ticks(top: float, count: int = 5) -> list[float]:
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(int(top / step) + 1)]

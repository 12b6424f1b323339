"""A deterministic example labelling project, as a requester has it after the batch.

:func:`generate` writes what a Mechanical Turk semantic-segmentation batch with a linked
Qualtrics survey leaves on a requester's disk, for a made-up video of a computer mouse rotating
on itself (the project of the study tracework grew from):

- ``images/mouse_0001.jpeg`` …, the frames, drawn with OpenCV;
- ``Batch_5012345_batch_results.csv``, the Requester UI's results file, one row per assignment,
  each worker's label PNG in base64 in the flattened ``Answer.annotatedResult.*`` columns;
- ``survey_export.csv``, the Qualtrics "choice text" export with its three header rows;
- ``truth.json``, what was planted: who was careful, who consented, the true label areas, and
  one group difference for the audits to find (workers answering "Master's degree" draw the
  cable thicker; no other answer changes how anyone labels).

One seed gives byte-identical files whatever the number of processes: every random choice is
drawn up front in the parent from one ``numpy`` PCG64 stream, frames take their own streams
keyed by ``(seed, frame)``, and dates come from the seed, never from the clock.

Pixel amounts (edge noise, loose dilation, the planted cable thickening) are given for the
study's 2880-pixel-wide frames and scale with ``size``, so small test frames keep their shapes.
"""

from __future__ import annotations

import base64
import csv
import json
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from tracework.core.processes import process_pool

__all__ = [
    "BATCH_ID",
    "CATEGORIES",
    "SURVEY_CODE",
    "SURVEY_QUESTIONS",
    "SurveyQuestion",
    "DemoFiles",
    "generate",
]

CATEGORIES: dict[str, str] = {
    "Body": "#1f77b4",
    "Left_Button": "#d62728",
    "Right_Button": "#9467bd",
    "Scroll_Wheel": "#ff7f0e",
    "Cable": "#2ca02c",
}
BATCH_ID = 5012345
SURVEY_CODE = "END2025"


class SurveyQuestion(NamedTuple):
    """A question of the linked survey; ``choices`` is empty for free text."""

    id: str
    text: str
    choices: tuple[str, ...] = ()
    multiple: bool = False


# The study's survey, Q1-Q10, then consent and credit. The study offered an optional exact
# age next to the age range; it is left out here: only ranges are analysed, and an exact age
# beside a city narrows a person down.
SURVEY_QUESTIONS: tuple[SurveyQuestion, ...] = (
    SurveyQuestion("Q1", "What's your age?",
                   ("18–24", "25–34", "35–44", "45–54", "55–64", "65 or older")),
    SurveyQuestion("Q2", "What is your gender?", ("Male", "Female", "Non binary")),
    SurveyQuestion("Q3", "What is your educational level?",
                   ("No formal education", "Primary education", "Secondary / High school",
                    "Undergraduate (currently studying a Bachelor's degree)",
                    "Bachelor's degree (completed)", "Master's degree", "Doctoral degree")),
    SurveyQuestion("Q4", "From which city are you performing this task?"),
    SurveyQuestion("Q5", "How much time on average do you spend searching for quality tasks?",
                   ("1–5 min", "5–10 min", "15–25 min", "More than 30 minutes")),
    SurveyQuestion("Q6", "Approximately how many tasks have you completed that weren't paid by "
                   "the requester?", ("None", "1–10", "11–50", "51–100", "More than 100")),
    SurveyQuestion("Q7", "How long did the longest image labelling task you worked on take?",
                   ("Less than 10 minutes", "10–30 minutes", "30–60 minutes", "1h–2 hours",
                    "In between 2 and 8 hours", "More than 8 hours")),
    SurveyQuestion("Q8", "How many times has your work been rejected without compensation in "
                   "the last month?", ("0–5", "5–10", "10–15", "15–30", "More than 30 times")),
    SurveyQuestion("Q9", "Do you suffer from any work-related health issues?",
                   ("Neck pain", "Lower back pain", "Eye strain", "Headaches",
                    "Wrist or hand pain", "Anxiety", "Depression", "None", "Other"),
                   multiple=True),
    SurveyQuestion("Q10", "How much did your work set cost? (tools or devices used for labelling)"),
    SurveyQuestion("Q11", "May we link your answers to your labelling work and publish them "
                   "with the dataset?", ("Yes", "No")),
    SurveyQuestion("Q12", "Would you like to be credited by name? If so, write the name to use"),
)
_QUESTION = {q.id: q for q in SURVEY_QUESTIONS}

_NAMES = tuple(CATEGORIES)
_ID = {name: i + 1 for i, name in enumerate(_NAMES)}
BODY, LEFT, RIGHT, WHEEL, CABLE = (_ID[n] for n in _NAMES)
# A worker paints the body first and the small parts over it, as in the labelling tool.
_PAINT_ORDER = (BODY, CABLE, LEFT, RIGHT, WHEEL)

# --- the scene, in millimetres --------------------------------------------------------------

_HALF_LENGTH = 58.0
_HALF_WIDTH = 31.0
_HEIGHT = 36.0
_PEAK_X = -0.3 * _HALF_LENGTH
_BUTTON_X = 0.1 * _HALF_LENGTH
_GROOVE = 0.12
_WHEEL_X = 0.42 * _HALF_LENGTH
_WHEEL_RADIUS = 8.5
_WHEEL_HALF_WIDTH = 2.4
_CABLE_RADIUS = 2.4
_ELEVATION = math.radians(25.0)
_DISTANCE = 620.0
_TARGET = np.array([0.0, 0.0, 12.0])
_FOCAL_AT_2880 = 5000.0
_LIGHT = np.array([-0.45, -0.55, 0.75]) / np.linalg.norm([-0.45, -0.55, 0.75])
# A button or the wheel showing less than this share of its best view is an edge-on sliver that
# no careful labeller would colour: the truth calls it hidden and counts it as body.
_HIDDEN_BELOW = 0.06
_STUDY_WIDTH = 2880


def _surface(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Points of the shell; ``s`` runs from -1 (right edge) to 1 (left edge) across the width."""
    half = (_HALF_WIDTH * np.clip(1 - np.abs(x / _HALF_LENGTH) ** 2.6, 0, 1) ** (1 / 2.6)
            * (1 - 0.12 * x / _HALF_LENGTH))
    span = np.where(x >= _PEAK_X, _HALF_LENGTH - _PEAK_X, _HALF_LENGTH + _PEAK_X)
    t = (x - _PEAK_X) / span
    z = (_HEIGHT * np.clip(1 - np.abs(t) ** 2.2, 0, 1) ** (1 / 2.2)
         * np.clip(1 - np.abs(s) ** 3, 0, 1) ** (1 / 3))
    return np.stack([x, s * half, z], axis=-1)


@lru_cache(maxsize=1)
def _shell() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quads of the shell (n, 4, 3), their label and whether they lie in the wheel's groove."""
    # Grid lines fall on the buttons' back edge and the groove, so part borders are straight.
    xs = np.concatenate([np.linspace(-_HALF_LENGTH, _BUTTON_X, 36, endpoint=False),
                         np.linspace(_BUTTON_X, _HALF_LENGTH, 30)])
    ss = np.concatenate([np.linspace(-1, -_GROOVE, 18, endpoint=False),
                         np.linspace(-_GROOVE, _GROOVE, 4, endpoint=False),
                         np.linspace(_GROOVE, 1, 18)])
    gx, gs = np.meshgrid(xs, ss, indexing="ij")
    pts = _surface(gx, gs)
    quads = np.stack([pts[:-1, :-1], pts[1:, :-1], pts[1:, 1:], pts[:-1, 1:]], axis=2)
    cx = (gx[:-1, :-1] + gx[1:, 1:]) / 2
    cs = (gs[:-1, :-1] + gs[1:, 1:]) / 2
    label = np.full(cx.shape, BODY, dtype=np.uint8)
    front = cx > _BUTTON_X
    label[front & (cs > _GROOVE)] = LEFT
    label[front & (cs < -_GROOVE)] = RIGHT
    groove = front & (np.abs(cs) < _GROOVE)
    return quads.reshape(-1, 4, 3), label.ravel(), groove.ravel()


def _wheel_points() -> np.ndarray:
    phi = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    top = float(_surface(np.array(_WHEEL_X), np.array(0.0))[2])
    cz = top + 3.2 - _WHEEL_RADIUS
    ring = np.stack([_WHEEL_X + _WHEEL_RADIUS * np.cos(phi), cz + _WHEEL_RADIUS * np.sin(phi)], -1)
    ring = ring[ring[:, 1] > top - 1.5]
    return np.concatenate([np.stack([ring[:, 0], np.full(len(ring), y), ring[:, 1]], -1)
                           for y in (-_WHEEL_HALF_WIDTH, _WHEEL_HALF_WIDTH)])


def _cable_points() -> np.ndarray:
    t = np.linspace(0, 1, 64)
    x = _HALF_LENGTH - 4 + 205 * t
    y = 30 * np.sin(1.6 * np.pi * t) * t + 70 * t ** 2
    return np.stack([x, y, np.full_like(t, _CABLE_RADIUS)], -1)


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


class _Camera:
    """A pinhole camera on a tripod in front of the turntable, looking slightly down."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        back = np.array([0.0, -math.cos(_ELEVATION), math.sin(_ELEVATION)])
        self.pos = _TARGET + _DISTANCE * back
        fwd = (_TARGET - self.pos) / np.linalg.norm(_TARGET - self.pos)
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        self.axes = np.stack([right, np.cross(right, fwd), fwd])
        self.focal = _FOCAL_AT_2880 * width / _STUDY_WIDTH
        self.centre = np.array([width / 2, height / 2])

    def project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        local = (pts - self.pos) @ self.axes.T
        depth = local[..., 2]
        flat = np.stack([local[..., 0], -local[..., 1]], -1) / depth[..., None]
        return self.centre + self.focal * flat, depth


class _Piece(NamedTuple):
    depth: float
    label: int
    points: np.ndarray  # fixed-point pixel coordinates, _SHIFT fractional bits
    colour: tuple[float, float, float]
    thickness: int  # 0: a filled polygon; else a line this many pixels thick


_SHIFT = 4
_BASE_BGR = {BODY: (60.0, 58.0, 56.0), LEFT: (70.0, 68.0, 66.0), RIGHT: (70.0, 68.0, 66.0)}


def _fixed(uv: np.ndarray) -> np.ndarray:
    fixed: np.ndarray = np.round(uv * (1 << _SHIFT)).astype(np.int32)
    return fixed


def _shade(normal: np.ndarray, view: np.ndarray, base: np.ndarray, gloss: float) -> np.ndarray:
    diffuse = np.clip(normal @ _LIGHT, 0, None)
    half = view + _LIGHT
    half /= np.linalg.norm(half, axis=-1, keepdims=True)
    spec = np.clip(np.sum(normal * half, axis=-1), 0, None) ** 40
    colours: np.ndarray = base * (0.35 + 0.9 * diffuse)[:, None] + (gloss * 255 * spec)[:, None]
    return colours


def _shell_pieces(cam: _Camera, rot: np.ndarray) -> list[_Piece]:
    quads, labels, groove = _shell()
    world = quads @ rot.T
    normal = np.cross(world[:, 2] - world[:, 0], world[:, 3] - world[:, 1])
    length = np.linalg.norm(normal, axis=-1)
    centre = world.mean(axis=1)
    view = cam.pos - centre
    facing = (np.sum(normal * view, axis=-1) > 0) & (length > 1e-9)
    normal = normal[facing] / length[facing, None]
    view = view[facing] / np.linalg.norm(view[facing], axis=-1, keepdims=True)
    base = np.array([_BASE_BGR[int(k)] for k in labels[facing]])
    base[groove[facing]] = (28.0, 28.0, 28.0)
    colours = _shade(normal, view, base, 0.45)
    uv, depth = cam.project(world[facing])
    points = _fixed(uv)
    return [_Piece(float(d), int(k), p, tuple(c), 0)
            for d, k, p, c in zip(depth.mean(axis=1), labels[facing], points, colours,
                                  strict=True)]


def _wheel_piece(cam: _Camera, rot: np.ndarray) -> _Piece:
    world = _wheel_points() @ rot.T
    uv, depth = cam.project(world)
    hull = cv2.convexHull(_fixed(uv))
    return _Piece(float(depth.mean()), WHEEL, hull.reshape(-1, 2), (24.0, 24.0, 26.0), 0)


def _cable_pieces(cam: _Camera, rot: np.ndarray) -> list[_Piece]:
    world = _cable_points() @ rot.T
    uv, depth = cam.project(world)
    pieces = []
    for i in range(len(world) - 1):
        d = float(depth[i:i + 2].mean())
        thick = max(1, round(2 * _CABLE_RADIUS * cam.focal / d))
        pieces.append(_Piece(d, CABLE, _fixed(uv[i:i + 2]), (34.0, 34.0, 36.0), thick))
    return pieces


def _scene_pieces(cam: _Camera, angle: float) -> list[_Piece]:
    rot = _rotation(angle)
    pieces = _shell_pieces(cam, rot) + [_wheel_piece(cam, rot)] + _cable_pieces(cam, rot)
    # The shell is convex, so its facing quads never overlap: depth order only matters
    # between the shell, the wheel and the cable.
    return sorted(pieces, key=lambda p: -p.depth)


def _draw(pieces: Sequence[_Piece], photo: np.ndarray, labels: np.ndarray) -> None:
    for p in pieces:
        if p.thickness:
            a, b = (tuple(int(v) for v in q) for q in p.points)
            cv2.line(photo, a, b, p.colour, p.thickness, cv2.LINE_AA, _SHIFT)
            cv2.line(labels, a, b, p.label, p.thickness, cv2.LINE_8, _SHIFT)
            glint = (p.points - [p.thickness * 3, p.thickness * 4]).tolist()
            cv2.line(photo, tuple(glint[0]), tuple(glint[1]), (80.0, 80.0, 84.0),
                     max(1, p.thickness // 4), cv2.LINE_AA, _SHIFT)
        else:
            cv2.fillConvexPoly(photo, p.points, p.colour, cv2.LINE_8, _SHIFT)
            cv2.fillConvexPoly(labels, p.points, p.label, cv2.LINE_8, _SHIFT)


def _projected_areas(cam: _Camera, angle: float) -> dict[int, float]:
    """Areas in pixels the buttons and the wheel would cover at ``angle``, occlusion aside."""
    rot = _rotation(angle)
    quads, labels, _ = _shell()
    world = quads @ rot.T
    normal = np.cross(world[:, 2] - world[:, 0], world[:, 3] - world[:, 1])
    facing = np.sum(normal * (cam.pos - world.mean(axis=1)), axis=-1) > 0
    uv, _ = cam.project(world)
    x, y = uv[..., 0], uv[..., 1]
    shoelace = 0.5 * np.abs(np.sum(x * np.roll(y, -1, 1) - np.roll(x, -1, 1) * y, axis=1))
    wheel = _wheel_piece(cam, rot).points.astype(np.float64) / (1 << _SHIFT)
    return {LEFT: float(shoelace[facing & (labels == LEFT)].sum()),
            RIGHT: float(shoelace[facing & (labels == RIGHT)].sum()),
            WHEEL: float(cv2.contourArea(wheel.astype(np.float32)))}


@lru_cache(maxsize=4)
def _best_views(width: int, height: int) -> dict[int, float]:
    cam = _Camera(width, height)
    views = [_projected_areas(cam, a) for a in np.linspace(0, 2 * np.pi, 72, endpoint=False)]
    return {k: max(v[k] for v in views) for k in (LEFT, RIGHT, WHEEL)}


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64([seed, *key]))


@lru_cache(maxsize=2)
def _backdrop(width: int, height: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The empty set (oak table, wall) and sensor noise (added, taken), the same every frame."""
    rng = _stream(seed, 2)
    cam = _Camera(width, height)
    _, up, fwd = cam.axes
    across = ((np.arange(width) - cam.centre[0]) / cam.focal).astype(np.float32)[None, :]
    rise = (-(np.arange(height) - cam.centre[1]) / cam.focal)[:, None]
    down = rise * up[2] + fwd[2]
    # Rows at or above the horizon get a far, finite distance: the wall covers them anyway.
    t = -cam.pos[2] / np.minimum(down, -1e-3)
    ty = (cam.pos[1] + t * (rise * up[1] + fwd[1])).astype(np.float32)
    tx = t.astype(np.float32) * across
    p1, p2, p3 = (float(v) for v in rng.uniform(0, 2 * np.pi, 3))
    plank = np.floor(ty / 140)
    warp = (9 * np.sin(tx / 70 + p1 + plank) + 4 * np.sin(tx / 23 + ty / 31 + p2)
            + 2 * np.sin(tx / 7 + 3 * plank))
    rings = np.sin(np.float32(2 * np.pi / 17) * (ty + warp)) ** 2
    streaks = np.sin(np.float32(2 * np.pi / 2.3) * (ty + 0.5 * warp) + 4 * np.sin(tx / 41 + p3))
    tint = 0.93 + 0.07 * np.sin(plank * 2.3 + p3)
    seam = np.abs(ty - 140 * np.round(ty / 140)) < 0.9
    light = 0.8 + 0.3 * np.exp(-((tx + 150) ** 2 + (ty - 80) ** 2) / np.float32(420 ** 2))
    shade = np.where(seam, np.float32(0.55), tint * (0.96 - 0.06 * rings + 0.015 * streaks)) * light
    wall = 0.85 + 0.15 * np.linspace(1, 0, height, dtype=np.float32)[:, None]
    on_table = (down < 0) & (ty < 430)
    vignette = 1 - 0.09 * (np.linspace(-1, 1, width, dtype=np.float32)[None, :] ** 2
                           + np.linspace(-1, 1, height, dtype=np.float32)[:, None] ** 2)
    img = np.empty((height, width, 3), np.float32)
    for c, (oak, paint) in enumerate(zip((96, 146, 190), (196, 202, 206), strict=True)):
        img[..., c] = np.where(on_table, oak * shade, paint * wall) * vignette
    grain = rng.integers(-3, 4, size=(height + 32, width + 32, 1), dtype=np.int8)
    grain = np.repeat(grain, 3, axis=2)
    added = np.clip(grain, 0, None).astype(np.uint8)
    taken = np.clip(-grain, 0, None).astype(np.uint8)
    return np.clip(img, 0, 255).astype(np.uint8), added, taken


def _shadow(photo: np.ndarray, cam: _Camera, angle: float) -> None:
    rot = _rotation(angle)
    quads, _, _ = _shell()
    pts = np.concatenate([quads.reshape(-1, 3), _cable_points()]) @ rot.T
    flat = pts - _LIGHT * (pts[:, 2:3] / _LIGHT[2])
    uv, _ = cam.project(flat)
    small = np.zeros((photo.shape[0] // 4 + 1, photo.shape[1] // 4 + 1), np.float32)
    hull = cv2.convexHull(np.round(uv[: len(quads) * 4] / 4).astype(np.int32))
    cv2.fillConvexPoly(small, hull, 1.0)
    cable = np.round(uv[len(quads) * 4:] / 4).astype(np.int32)
    cv2.polylines(small, [cable], False, 0.6, max(1, round(cam.focal / 900)))
    small = cv2.GaussianBlur(small, (0, 0), cam.focal / 400)
    x, y, w, h = cv2.boundingRect((small > 0.004).astype(np.uint8))
    # Only the shadow's box is scaled up and applied: the frame is large, the shadow is not.
    x0, y0 = x * 4, y * 4
    x1, y1 = min(photo.shape[1], (x + w) * 4), min(photo.shape[0], (y + h) * 4)
    if x1 <= x0 or y1 <= y0:
        return
    box = cv2.resize(small[y:y + h, x:x + w], (w * 4, h * 4), interpolation=cv2.INTER_LINEAR)
    dim = 1 - 0.45 * box[: y1 - y0, : x1 - x0, None]
    photo[y0:y1, x0:x1] = (photo[y0:y1, x0:x1] * dim).astype(np.uint8)


def _smooth_shell(photo: np.ndarray, labels: np.ndarray) -> None:
    """Blend the shell's flat-shaded quads into smooth plastic, keeping its outline sharp."""
    shell = ((labels > 0) & (labels != CABLE)).astype(np.uint8)
    x, y, w, h = cv2.boundingRect(shell)
    if w == 0:
        return
    scale = photo.shape[1] / _STUDY_WIDTH
    inner = cv2.erode(shell[y:y + h, x:x + w], np.ones((3, 3), np.uint8),
                      iterations=max(1, round(8 * scale)))
    roi = photo[y:y + h, x:x + w]
    soft = cv2.GaussianBlur(roi, (0, 0), 4 * scale + 0.3)
    roi[inner > 0] = soft[inner > 0]


def _render(width: int, height: int, seed: int, frame: int, frames: int
            ) -> tuple[bytes, np.ndarray, float]:
    """One frame: its JPEG bytes, its true label map and the turntable angle in degrees."""
    degrees = 360.0 * frame / frames
    angle = math.radians(degrees)
    cam = _Camera(width, height)
    backdrop, added, taken = _backdrop(width, height, seed)
    photo = backdrop.copy()
    _shadow(photo, cam, angle)
    labels = np.zeros((height, width), np.uint8)
    _draw(_scene_pieces(cam, angle), photo, labels)
    _smooth_shell(photo, labels)
    best = _best_views(width, height)
    counts = np.bincount(labels.ravel(), minlength=len(_NAMES) + 1)
    for part in (LEFT, RIGHT, WHEEL):
        if 0 < counts[part] < _HIDDEN_BELOW * best[part]:
            labels[labels == part] = BODY
    photo = cv2.GaussianBlur(photo, (0, 0), 0.6 * width / _STUDY_WIDTH + 0.3)
    rng = _stream(seed, 1, frame)
    oy, ox = rng.integers(0, 32, 2)
    photo = cv2.add(photo, added[oy:oy + height, ox:ox + width])
    photo = cv2.subtract(photo, taken[oy:oy + height, ox:ox + width])
    ok, jpeg = cv2.imencode(".jpeg", photo, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG frame")
    return jpeg.tobytes(), labels, degrees


# --- what a worker draws ----------------------------------------------------------------------


@dataclass(frozen=True)
class _MaskPlan:
    """How one worker colours one frame, drawn in the parent so any process draws the same."""

    parts: tuple[int, ...]  # in the order the worker would get to them
    limit: int  # how many of the visible ``parts`` they colour before submitting
    whole_body: bool  # "Body" painted over the whole shell, buttons and wheel included
    grow: tuple[int, ...]  # pixels added (or, negative, removed) per label id - 1
    shift: tuple[int, int]
    rough: float  # polygon tolerance in pixels: coarse clicks make straight, cut-off edges


# Label id -> the pixel OpenCV writes (it orders channels BGRA); 0 is transparent background.
_BGRA = np.array([(0, 0, 0, 0)] + [(int(c[5:7], 16), int(c[3:5], 16), int(c[1:3], 16), 255)
                                   for c in CATEGORIES.values()], np.uint8)


def _grow(region: np.ndarray, pixels: int) -> np.ndarray:
    if pixels == 0 or not region.any():
        return region
    if pixels > 0:
        outside = np.where(region, 0, 255).astype(np.uint8)
        return cv2.distanceTransform(outside, cv2.DIST_L2, 5) <= pixels
    inside = np.where(region, 255, 0).astype(np.uint8)
    return cv2.distanceTransform(inside, cv2.DIST_L2, 5) > -pixels


def _shifted(region: np.ndarray, dx: int, dy: int) -> np.ndarray:
    out = np.zeros_like(region)
    h, w = region.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        region[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def _polygonal(region: np.ndarray, tolerance: float) -> np.ndarray:
    if tolerance < 0.5 or not region.any():
        return region
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    out = np.zeros(region.shape, np.uint8)
    polygons = [cv2.approxPolyDP(c, tolerance, True) for c in contours]
    cv2.fillPoly(out, polygons, 1, cv2.LINE_8)
    return out > 0


def _worker_labels(truth: np.ndarray, present: set[int], plan: _MaskPlan) -> np.ndarray:
    chosen = [p for p in plan.parts if p in present][:plan.limit] or [BODY]
    drawn = np.zeros_like(truth)
    for part in _PAINT_ORDER:
        if part not in chosen:
            continue
        if part == BODY and plan.whole_body:
            region = (truth > 0) & (truth != CABLE)
        else:
            region = truth == part
        region = _grow(region, plan.grow[part - 1])
        region = _shifted(region, *plan.shift)
        drawn[_polygonal(region, plan.rough)] = part
    return drawn


def _mask_png(truth: np.ndarray, box: tuple[int, int, int, int], plan: _MaskPlan
              ) -> tuple[str, dict[str, int]]:
    """The worker's PNG at full frame size, base64, and the pixel area of each part drawn."""
    x0, y0, x1, y1 = box
    # Only the mouse's neighbourhood is worked on; the rest of the frame stays transparent.
    near = truth[y0:y1, x0:x1]
    present = {_ID[name] for name in _NAMES if (near == _ID[name]).any()}
    drawn = _worker_labels(near, present, plan)
    rgba = np.zeros((*truth.shape, 4), np.uint8)
    rgba[y0:y1, x0:x1] = _BGRA[drawn]
    ok, png = cv2.imencode(".png", rgba)
    if not ok:
        raise RuntimeError("OpenCV could not encode a PNG mask")
    counts = np.bincount(drawn.ravel(), minlength=len(_NAMES) + 1)
    areas = {name: int(counts[_ID[name]]) for name in _NAMES if counts[_ID[name]]}
    return base64.b64encode(png.tobytes()).decode("ascii"), areas


class _FrameJob(NamedTuple):
    seed: int
    frame: int
    frames: int
    width: int
    height: int
    plans: tuple[_MaskPlan, ...]
    margin: int


class _FrameResult(NamedTuple):
    jpeg: bytes
    degrees: float
    visible: dict[str, int]
    masks: list[tuple[str, dict[str, int]]]


def _frame_job(job: _FrameJob) -> _FrameResult:
    jpeg, truth, degrees = _render(job.width, job.height, job.seed, job.frame, job.frames)
    counts = np.bincount(truth.ravel(), minlength=len(_NAMES) + 1)
    visible = {name: int(counts[_ID[name]]) for name in _NAMES if counts[_ID[name]]}
    x, y, w, h = cv2.boundingRect(truth)
    box = (max(0, x - job.margin), max(0, y - job.margin),
           min(job.width, x + w + job.margin), min(job.height, y + h + job.margin))
    masks = [_mask_png(truth, box, plan) for plan in job.plans]
    return _FrameResult(jpeg, degrees, visible, masks)


def _quiet_worker() -> None:
    # Two processes on two cores: OpenCV's own threads would only fight over them.
    cv2.setNumThreads(1)


# --- the people -------------------------------------------------------------------------------

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PROFILES = ("careful", "partial", "loose")
_PROFILE_SHARE = (0.6, 0.2, 0.2)
_MEDIAN_WORK_S = {"careful": 390.0, "partial": 170.0, "loose": 280.0}
_TIME_ALLOTTED_S = 600


@dataclass
class _Worker:
    raw_id: str
    profile: str
    pace: float
    labelled: bool = True
    survey: dict[str, Any] | None = None
    cable_extra: int = 0


@dataclass(frozen=True)
class _Submission:
    frame: int
    worker: int
    hit_id: str
    assignment_id: str
    accept: int  # Unix seconds
    work: int


class _Ids:
    """Platform-style identifiers, never repeated within one project."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def make(self, prefix: str, length: int, alphabet: str = _ALNUM) -> str:
        while True:
            picks = self.rng.integers(0, len(alphabet), length - len(prefix))
            token = prefix + "".join(alphabet[int(i)] for i in picks)
            if token not in self.seen:
                self.seen.add(token)
                return token

    def worker(self) -> str:
        return self.make("A" + "123"[int(self.rng.integers(0, 3))], int(self.rng.integers(13, 15)))


def _draw_workers(rng: np.random.Generator, ids: _Ids, n: int) -> list[_Worker]:
    profiles = list(rng.choice(_PROFILES, size=n, p=_PROFILE_SHARE))
    if n >= 3:  # every kind of worker shows up, however small the project
        slots = rng.choice(n, size=2, replace=False)
        for kind, slot in zip(("partial", "loose"), slots, strict=True):
            if kind not in profiles:
                profiles[int(slot)] = kind
    return [_Worker(ids.worker(), str(p), float(rng.lognormal(0.0, 0.2))) for p in profiles]


def _draw_loads(rng: np.random.Generator, n: int, total: int, frames: int) -> np.ndarray:
    """HITs per worker: at least one each, many for a few regulars, never more than the HITs."""
    weights = rng.lognormal(0.0, 0.9, n)
    loads = 1 + rng.multinomial(total - n, weights / weights.sum())
    while loads.max() > frames:
        top, low = int(loads.argmax()), int(loads.argmin())
        loads[top] -= 1
        loads[low] += 1
    return loads


def _assign(rng: np.random.Generator, loads: np.ndarray, frames: int) -> list[list[int]]:
    """Distinct workers per frame: slot i goes to frame i mod frames, and no load exceeds frames."""
    order = rng.permutation(len(loads))
    slots = np.concatenate([np.full(loads[w], w) for w in order])
    per_frame: list[list[int]] = [[] for _ in range(frames)]
    for i, w in enumerate(slots):
        per_frame[i % frames].append(int(w))
    return per_frame


# --- time, as the platforms write it ----------------------------------------------------------

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _sunday(year: int, month: int, nth: int) -> datetime:
    first = datetime(year, month, 1, tzinfo=UTC)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (nth - 1))


def _pacific(ts: int) -> tuple[datetime, str]:
    """Wall time and zone abbreviation in US Pacific time.

    The US rule (since 2007) is written out rather than read from the tz database, which not
    every machine has, so the files cannot differ between machines.
    """
    t = datetime.fromtimestamp(ts, UTC)
    dst_from = _sunday(t.year, 3, 2) + timedelta(hours=10)  # 02:00 PST
    dst_until = _sunday(t.year, 11, 1) + timedelta(hours=9)  # 02:00 PDT
    if dst_from <= t < dst_until:
        return (t - timedelta(hours=7)).replace(tzinfo=None), "PDT"
    return (t - timedelta(hours=8)).replace(tzinfo=None), "PST"


def _mturk_time(ts: int) -> str:
    local, zone = _pacific(ts)
    return (f"{_DAYS[local.weekday()]} {_MONTHS[local.month - 1]} {local.day:02d} "
            f"{local:%H:%M:%S} {zone} {local.year}")


def _qualtrics_time(ts: int) -> str:
    return f"{_pacific(ts)[0]:%Y-%m-%d %H:%M:%S}"


def _launch(rng: np.random.Generator) -> int:
    """A weekday morning in 2025, Pacific time, when the batch was published."""
    day = datetime(2025, 1, 13, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 320)))
    day -= timedelta(days=max(0, day.weekday() - 4))
    local = day + timedelta(hours=int(rng.integers(8, 11)), minutes=int(rng.integers(0, 60)),
                            seconds=int(rng.integers(0, 60)))
    guess = int((local + timedelta(hours=7)).timestamp())
    return guess if _pacific(guess)[1] == "PDT" else guess + 3600


def _schedule(rng: np.random.Generator, ids: _Ids, workers: Sequence[_Worker],
              per_frame: Sequence[Sequence[int]], launch: int) -> list[_Submission]:
    """Each worker arrives during the batch's first two hours and works through their HITs."""
    hits = [ids.make("3", 30) for _ in per_frame]
    todo: dict[int, list[int]] = {}
    for frame, crew in enumerate(per_frame):
        for w in crew:
            todo.setdefault(w, []).append(frame)
    subs = []
    for w in sorted(todo):
        worker = workers[w]
        clock = launch + 20 + int(6000 * rng.beta(1.3, 2.6))
        for frame in rng.permutation(todo[w]):
            spread = rng.lognormal(0.0, 0.3)
            work = int(_MEDIAN_WORK_S[worker.profile] * worker.pace * spread)
            work = max(35, min(work, _TIME_ALLOTTED_S - 1 - int(rng.integers(0, 12))))
            subs.append(_Submission(int(frame), w, hits[frame], ids.make("3", 30), clock, work))
            clock += work + int(rng.integers(4, 45))
    return sorted(subs, key=lambda s: (s.frame, s.accept))


def _px(value: float | np.integer, width: int) -> int:
    return round(float(value) * width / _STUDY_WIDTH)


def _plan(rng: np.random.Generator, worker: _Worker, width: int) -> _MaskPlan:
    if worker.profile == "loose":
        grow = [_px(rng.integers(6, 26), width) for _ in _NAMES]
        shift = tuple(_px(v, width) for v in rng.integers(-8, 9, 2))
        rough = float(rng.uniform(6, 14)) * width / _STUDY_WIDTH
    else:
        grow = [_px(rng.integers(-2, 3), width) for _ in _NAMES]
        shift, rough = (0, 0), width / _STUDY_WIDTH
    grow[CABLE - 1] += worker.cable_extra
    if worker.profile == "partial":
        rest = [int(p) for p in rng.permutation([LEFT, RIGHT, WHEEL, CABLE])]
        parts = [BODY, *rest] if rng.random() < 0.7 else [*rest, BODY]
        return _MaskPlan(tuple(parts), int(rng.integers(1, 3)), True, tuple(grow), (0, 0),
                         2 * rough)
    return _MaskPlan(_PAINT_ORDER, len(_NAMES), False, tuple(grow),
                     (int(shift[0]), int(shift[1])), rough)


# --- the survey -------------------------------------------------------------------------------

_MASTERS = "Master's degree"
_TZ = "America/Los_Angeles"
_WEIGHTS = {
    "Q1": (0.16, 0.38, 0.24, 0.12, 0.07, 0.03),
    "Q2": (0.55, 0.43, 0.02),
    "Q3": (0.01, 0.02, 0.14, 0.13, 0.36, 0.27, 0.07),
    "Q5": (0.25, 0.35, 0.25, 0.15),
    "Q6": (0.15, 0.35, 0.25, 0.10, 0.15),
    "Q7": (0.30, 0.35, 0.15, 0.10, 0.07, 0.03),
    "Q8": (0.55, 0.20, 0.10, 0.08, 0.07),
}
# The study's own mess comes first so that every project of some size shows all of it.
_CITIES_SEEN = ("USA", "america", "CHICAGO", "illinois", "none", "good", "القاهرة", "上海")
_CITIES = ("Chicago", "Houston, TX", "new york", "Los Angeles", "miami", "Mumbai", "chennai",
           "Bangalore", "Kolkata, India", "Hyderabad", "Manila", "Cebu City", "Nairobi", "Lagos",
           "Caracas", "Maracaibo", "São Paulo", "Bogotá", "London", "Toronto", "Dhaka",
           "Karachi", "Jakarta", "Bucharest", "", "", "")
_COSTS_SEEN = ("Software", "500000", "computer", "mouse", "$1,200 laptop", "none")
_COSTS = ("$800", "laptop 450$", "around 1000 dollars", "0", "my phone",
          "PC and monitor maybe $1500", "40000 INR", "$300 used laptop", "N/A", "1500",
          "desktop 700", "I already had it", "$2000", "monitor + mouse 250", "nothing",
          "25000 rupees", "", "", "")
_CREDIT_NAMES = ("Maria Gonzalez", "J. Okafor", "Priya S.", "dave_from_ohio", "Nguyễn Thị Lan",
                 "A. Rahman", "Carlos M.", "Grace W.", "Tomás Herrera", "李伟")
_OTHER_HEALTH = ("carpal tunnel", "dry eyes", "trouble sleeping", "shoulder pain")


def _health(rng: np.random.Generator) -> tuple[tuple[str, ...], str]:
    choices = _QUESTION["Q9"].choices
    roll = rng.random()
    if roll < 0.03:
        return (), ""
    if roll < 0.33:
        return ("None",), ""
    common = rng.choice(7, size=int(rng.integers(1, 4)), replace=False,
                        p=(0.2, 0.18, 0.24, 0.14, 0.12, 0.07, 0.05))
    picked = tuple(choices[int(i)] for i in sorted(common))
    if rng.random() < 0.1:
        return (*picked, "Other"), _OTHER_HEALTH[int(rng.integers(0, len(_OTHER_HEALTH)))]
    return picked, ""


def _answers(rng: np.random.Generator) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for qid, weights in _WEIGHTS.items():
        choices = _QUESTION[qid].choices
        skipped = rng.random() < 0.03
        out[qid] = "" if skipped else choices[int(rng.choice(len(choices), p=weights))]
    out["Q9"], out["Q9_9_TEXT"] = _health(rng)
    return out


def _free_text(rng: np.random.Generator, answers: Sequence[dict[str, Any]],
               seen: Sequence[str], common: Sequence[str]) -> list[str]:
    draws = [common[int(i)] for i in rng.integers(0, len(common), max(0, len(answers) - len(seen)))]
    pool = (list(seen) + draws)[:len(answers)]
    return [pool[int(i)] for i in rng.permutation(len(pool))]


def _draw_answers(rng: np.random.Generator, people: Sequence[_Worker], outsider: _Worker,
                  width: int) -> None:
    """Who answered, what, who consented; and the one planted group difference."""
    picked = rng.choice(len(people), size=round(0.85 * len(people)), replace=False)
    respondents = [people[int(i)] for i in sorted(picked)] + [outsider]
    for w in respondents:
        w.survey = _answers(rng)
    yes = set(rng.choice(len(respondents) - 1, size=round(0.7 * (len(respondents) - 1)),
                         replace=False).tolist())
    if rng.random() < 0.7:
        yes.add(len(respondents) - 1)
    surveys = [w.survey for w in respondents if w.survey is not None]
    cities = _free_text(rng, surveys, _CITIES_SEEN, _CITIES)
    costs = _free_text(rng, surveys, _COSTS_SEEN, _COSTS)
    names = iter(rng.permutation(len(_CREDIT_NAMES)).tolist())
    for i, answer in enumerate(surveys):
        answer["Q4"], answer["Q10"] = cities[i], costs[i]
        answer["Q11"] = "Yes" if i in yes else "No"
        credit = answer["Q11"] == "Yes" and rng.random() < 0.25
        answer["Q12"] = _CREDIT_NAMES[next(names, 0)] if credit else ""
    # k-anonymous audits suppress groups under five people: keep the planted group auditable.
    consenting = [a for a in surveys[:-1] if a["Q11"] == "Yes"]
    others = [a for a in consenting if a["Q3"] != _MASTERS]
    short = min(5, len(consenting)) - (len(consenting) - len(others))
    for i in rng.choice(len(others), size=max(0, short), replace=False):
        others[int(i)]["Q3"] = _MASTERS
    for w in people:
        if w.survey is not None and w.survey["Q3"] == _MASTERS:
            w.cable_extra = _px(rng.integers(10, 16), width)


def _import_id(key: str, **extra: str) -> str:
    return json.dumps({"ImportId": key, **extra}, separators=(",", ":"), ensure_ascii=False)


_META_COLUMNS = (
    ("StartDate", "Start Date", _import_id("startDate", timeZone=_TZ)),
    ("EndDate", "End Date", _import_id("endDate", timeZone=_TZ)),
    ("Status", "Response Type", _import_id("status")),
    ("IPAddress", "IP Address", _import_id("ipAddress")),
    ("Progress", "Progress", _import_id("progress")),
    ("Duration (in seconds)", "Duration (in seconds)", _import_id("duration")),
    ("Finished", "Finished", _import_id("finished")),
    ("RecordedDate", "Recorded Date", _import_id("recordedDate", timeZone=_TZ)),
    ("ResponseId", "Response ID", _import_id("_recordId")),
    ("RecipientLastName", "Recipient Last Name", _import_id("recipientLastName")),
    ("RecipientFirstName", "Recipient First Name", _import_id("recipientFirstName")),
    ("RecipientEmail", "Recipient Email", _import_id("recipientEmail")),
    ("ExternalReference", "External Data Reference", _import_id("externalDataReference")),
    ("LocationLatitude", "Location Latitude", _import_id("locationLatitude")),
    ("LocationLongitude", "Location Longitude", _import_id("locationLongitude")),
    ("DistributionChannel", "Distribution Channel", _import_id("distributionChannel")),
    ("UserLanguage", "User Language", _import_id("userLanguage")),
)


def _survey_columns() -> list[tuple[str, str, str]]:
    """(column, row-2 label, row-3 ImportId) for every column, as Qualtrics orders them."""
    columns = list(_META_COLUMNS)
    for q in SURVEY_QUESTIONS:
        number = q.id[1:]
        if not q.choices:
            columns.append((q.id, q.text, _import_id(f"QID{number}_TEXT")))
        elif not q.multiple:
            columns.append((q.id, q.text, _import_id(f"QID{number}")))
        else:
            for i, choice in enumerate(q.choices, start=1):
                columns.append((f"{q.id}_{i}", f"{q.text} - Selected Choice - {choice}",
                                _import_id(f"QID{number}", choiceId=str(i))))
            other = len(q.choices)
            columns.append((f"{q.id}_{other}_TEXT", f"{q.text} - Other - Text",
                            _import_id(f"QID{number}_{other}_TEXT")))
    columns += [("workerId", "workerId", _import_id("workerId")),
                ("assignmentId", "assignmentId", _import_id("assignmentId"))]
    return columns


def _answer_cells(answers: dict[str, Any]) -> dict[str, str]:
    cells = {q.id: answers[q.id] for q in SURVEY_QUESTIONS if not q.multiple}
    health = _QUESTION["Q9"]
    for i, choice in enumerate(health.choices, start=1):
        cells[f"Q9_{i}"] = choice if choice in answers["Q9"] else ""
    cells[f"Q9_{len(health.choices)}_TEXT"] = answers["Q9_9_TEXT"]
    return cells


def _response(rng: np.random.Generator, ids: _Ids, answers: dict[str, Any], start: int,
              seconds: int, worker_id: str, assignment_id: str) -> dict[str, str]:
    preview = not worker_id
    # Documentation address ranges (RFC 5737): no real person's address.
    network = ("203.0.113", "198.51.100")[int(rng.integers(0, 2))]
    ip = "" if preview else f"{network}.{int(rng.integers(1, 255))}"
    lat = "" if preview else f"{rng.uniform(-34.0, 56.0):.12g}"
    lon = "" if preview else f"{rng.uniform(-123.0, 122.0):.12g}"
    return {
        "StartDate": _qualtrics_time(start), "EndDate": _qualtrics_time(start + seconds),
        "Status": "Survey Preview" if preview else "IP Address", "IPAddress": ip,
        "Progress": "100", "Duration (in seconds)": str(seconds), "Finished": "True",
        "RecordedDate": _qualtrics_time(start + seconds),
        "ResponseId": ids.make("R_", 17, _BASE62),
        "RecipientLastName": "", "RecipientFirstName": "", "RecipientEmail": "",
        "ExternalReference": "", "LocationLatitude": lat, "LocationLongitude": lon,
        "DistributionChannel": "preview" if preview else "anonymous", "UserLanguage": "EN",
        **_answer_cells(answers), "workerId": worker_id, "assignmentId": assignment_id,
    }


def _survey_rows(rng: np.random.Generator, ids: _Ids, people: Sequence[_Worker],
                 outsider: _Worker, subs: Sequence[_Submission], launch: int
                 ) -> list[tuple[int, dict[str, str]]]:
    """(recorded time, cells) per response: each worker answers during their first HIT."""
    first: dict[int, _Submission] = {}
    for s in sorted(subs, key=lambda s: s.accept):
        first.setdefault(s.worker, s)
    rows = []
    for w, sub in sorted(first.items()):
        if people[w].survey is None:
            continue
        start = sub.accept + int(rng.integers(8, max(9, sub.work // 3)))
        seconds = int(min(rng.lognormal(math.log(130), 0.4), sub.accept + sub.work - start - 4))
        seconds = max(seconds, 25)
        rows.append((start + seconds, _response(rng, ids, people[w].survey or {}, start, seconds,
                                                people[w].raw_id, sub.assignment_id)))
    # Someone who took the survey, then returned the HIT: their answers link to no work.
    start = launch + int(rng.integers(300, 5400))
    seconds = int(rng.integers(60, 400))
    rows.append((start + seconds, _response(rng, ids, outsider.survey or {}, start, seconds,
                                            outsider.raw_id, ids.make("3", 30))))
    # The requester's own test run the day before launch.
    trial = _answers(rng) | {"Q4": "test", "Q10": "test", "Q11": "Yes", "Q12": ""}
    start = launch - int(rng.integers(3 * 3600, 20 * 3600))
    rows.append((start + 95, _response(rng, ids, trial, start, 95, "", "")))
    return sorted(rows, key=lambda r: r[0])


def _write_survey(path: Path, rows: Sequence[tuple[int, dict[str, str]]]) -> None:
    columns = _survey_columns()
    # Qualtrics writes its CSV exports with a byte-order mark; importers must expect one.
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        for header in zip(*columns, strict=True):
            out.writerow(header)
        for _, cells in rows:
            out.writerow([cells[c[0]] for c in columns])


# --- the platform's files ---------------------------------------------------------------------

_TEMPLATE_ID = 928390
_IMAGE_BASE_URL = "https://example-bucket.s3.amazonaws.com/mouse/"
_FIXED_COLUMNS = (
    "HITId", "HITTypeId", "Title", "Description", "Keywords", "Reward", "CreationTime",
    "MaxAssignments", "RequesterAnnotation", "AssignmentDurationInSeconds",
    "AutoApprovalDelayInSeconds", "Expiration", "NumberOfSimilarHITs", "LifetimeInSeconds",
    "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime", "SubmitTime",
    "AutoApprovalTime", "ApprovalTime", "RejectionTime", "RequesterFeedback",
    "WorkTimeInSeconds", "LifetimeApprovalRate", "Last30DaysApprovalRate", "Last7DaysApprovalRate",
)
_AUTO_APPROVAL_S = 259200
_HIT_LIFETIME_S = 7 * 86400
_RESULT = "Answer.annotatedResult"


def _frame_name(frame: int) -> str:
    return f"mouse_{frame + 1:04d}.jpeg"


def _batch_rows(subs: Sequence[_Submission], people: Sequence[_Worker],
                masks: Sequence[tuple[str, dict[str, int]]], launch: int, hit_type: str,
                size: tuple[int, int], per_hit: int) -> list[dict[str, str]]:
    rows = []
    for sub, (png, areas) in zip(subs, masks, strict=True):
        submit = sub.accept + sub.work
        row = {
            "HITId": sub.hit_id, "HITTypeId": hit_type,
            "Title": "Label the parts of a computer mouse",
            "Description": ("Colour the body, both buttons, the scroll wheel and the cable of a "
                            "computer mouse in one video frame, then answer a short survey."),
            "Keywords": "image, segmentation, labeling, mouse, survey", "Reward": "$0.15",
            "CreationTime": _mturk_time(launch), "MaxAssignments": str(per_hit),
            "RequesterAnnotation": f"BatchId:{BATCH_ID};OriginalHitTemplateId:{_TEMPLATE_ID};",
            "AssignmentDurationInSeconds": str(_TIME_ALLOTTED_S),
            "AutoApprovalDelayInSeconds": str(_AUTO_APPROVAL_S),
            "Expiration": _mturk_time(launch + _HIT_LIFETIME_S),
            "NumberOfSimilarHITs": "", "LifetimeInSeconds": "",
            "AssignmentId": sub.assignment_id, "WorkerId": people[sub.worker].raw_id,
            "AssignmentStatus": "Submitted", "AcceptTime": _mturk_time(sub.accept),
            "SubmitTime": _mturk_time(submit),
            "AutoApprovalTime": _mturk_time(submit + _AUTO_APPROVAL_S),
            "ApprovalTime": "", "RejectionTime": "", "RequesterFeedback": "",
            "WorkTimeInSeconds": str(sub.work),
            # Rates are per requester: a new requester has approved nobody yet.
            "LifetimeApprovalRate": "0% (0/0)", "Last30DaysApprovalRate": "0% (0/0)",
            "Last7DaysApprovalRate": "0% (0/0)",
            "Input.image_url": _IMAGE_BASE_URL + _frame_name(sub.frame),
            f"{_RESULT}.inputImageProperties.height": str(size[1]),
            f"{_RESULT}.inputImageProperties.width": str(size[0]),
            f"{_RESULT}.labeledImage.pngImageData": png,
            "Answer.surveycode": SURVEY_CODE, "Approve": "", "Reject": "",
        }
        row.update({f"{_RESULT}.labelMappings.{name}.color": CATEGORIES[name] for name in areas})
        rows.append(row)
    return rows


def _write_batch(path: Path, rows: Sequence[dict[str, str]]) -> None:
    answers = sorted({c for r in rows for c in r if c.startswith("Answer.")})
    columns = [*_FIXED_COLUMNS, "Input.image_url", *answers, "Approve", "Reject"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, quoting=csv.QUOTE_ALL)
        out.writerow(columns)
        for row in rows:
            out.writerow([row.get(c, "") for c in columns])


# --- the record of what was planted, and the entry point -------------------------------------


def _worker_truth(worker: _Worker, count: int) -> dict[str, Any]:
    answers = worker.survey or {}
    return {
        "raw_id": worker.raw_id,
        "care_profile": worker.profile if worker.labelled else None,
        "labelled": worker.labelled,
        "submissions": count,
        "survey_answered": worker.survey is not None,
        "consent": None if worker.survey is None else answers["Q11"] == "Yes",
        "credit_name": answers.get("Q12") or None,
        "education": answers.get("Q3") or None,
    }


def _truth(seed: int, size: tuple[int, int], per_hit: int, launch: int, hit_type: str,
           people: Sequence[_Worker], outsider: _Worker, subs: Sequence[_Submission],
           results: Sequence[_FrameResult], survey: Sequence[tuple[int, dict[str, str]]]
           ) -> dict[str, Any]:
    masks = [m for r in results for m in r.masks]
    counts = [sum(1 for s in subs if s.worker == w) for w in range(len(people))]
    linked = [w for w in people if w.survey is not None]
    masters = [w for w in people if w.cable_extra]
    hits = {s.frame: s.hit_id for s in subs}
    return {
        "generator": {"seed": seed, "frames": len(results), "workers": len(people),
                      "assignments_per_frame": per_hit, "size": list(size)},
        "batch": {"batch_id": BATCH_ID, "hit_type_id": hit_type, "created": _mturk_time(launch),
                  "survey_code": SURVEY_CODE},
        "categories": CATEGORIES,
        "frames": [{"file": _frame_name(i), "hit_id": hits[i], "angle_degrees": r.degrees,
                    "visible_parts": r.visible} for i, r in enumerate(results)],
        "workers": [_worker_truth(w, n) for w, n in zip(people, counts, strict=True)]
                   + [_worker_truth(outsider, 0)],
        "submissions": [{"assignment_id": s.assignment_id, "hit_id": s.hit_id,
                         "frame_file": _frame_name(s.frame),
                         "worker_raw_id": people[s.worker].raw_id,
                         "parts": areas, "work_time_s": s.work}
                        for s, (_, areas) in zip(subs, masks, strict=True)],
        "counts": {
            "frames": len(results), "workers_labelled": len(people), "submissions": len(subs),
            "survey_rows": len(survey),
            "survey_responses": sum(1 for _, r in survey if r["Status"] != "Survey Preview"),
            "survey_previews": sum(1 for _, r in survey if r["Status"] == "Survey Preview"),
            "survey_unlinked": 1, "survey_linked": len(linked),
            "consenting_linked": sum(1 for w in linked if (w.survey or {})["Q11"] == "Yes"),
        },
        "planted_difference": {
            "question": "Q3", "answer": _MASTERS, "category": "Cable",
            "effect": "cable drawn thicker: dilated by extra pixels beyond the worker's own care",
            "extra_dilation_px_at_2880_wide": [10, 15],
            "extra_dilation_px": {w.raw_id: w.cable_extra for w in masters},
            "consenting_workers": sum(1 for w in masters if (w.survey or {})["Q11"] == "Yes"),
            "other_group_effects": "none: care and pace are drawn independently of every answer",
        },
    }


@dataclass(frozen=True)
class DemoFiles:
    """Where :func:`generate` put the example project, and how big it is."""

    root: Path
    images_dir: Path
    batch_csv: Path
    survey_csv: Path
    truth_json: Path
    frames: int
    workers: int
    submissions: int


def _check(frames: int, workers: int, per_hit: int, size: tuple[int, int]) -> None:
    if frames < 1 or per_hit < 1:
        raise ValueError("frames and assignments_per_frame must be at least 1")
    if not per_hit <= workers <= frames * per_hit:
        raise ValueError(f"workers must be between assignments_per_frame ({per_hit}) and "
                         f"frames × assignments_per_frame ({frames * per_hit}): every HIT needs "
                         "distinct workers and every worker labels at least one frame")
    if min(size) < 64:
        raise ValueError(f"size {size} is too small to draw a mouse; use at least (64, 64)")


def _frame_results(jobs: Sequence[_FrameJob], processes: int) -> Iterator[_FrameResult]:
    if processes <= 1 or len(jobs) == 1:
        yield from map(_frame_job, jobs)
        return
    # spawn, not fork: forking a process that may hold threads (OpenCV's, a web server's) can
    # deadlock, and Python 3.12 warns about it.
    context = multiprocessing.get_context("spawn")
    with process_pool(processes, mp_context=context, initializer=_quiet_worker) as pool:
        yield from pool.map(_frame_job, jobs)


def generate(root: Path | str, *, seed: int = 7, frames: int = 30, workers: int = 40,
             assignments_per_frame: int = 3, size: tuple[int, int] = (2880, 1920),
             progress: Callable[[int, int], None] | None = None,
             jobs: int | None = None) -> DemoFiles:
    """Write an example Mechanical Turk segmentation batch with its linked survey into ``root``.

    ``size`` is (width, height) of the frames. ``workers`` is how many people labelled; one
    more answered the survey without labelling. ``progress(done, total)`` is called as each
    submission's mask is made. ``jobs`` processes draw the frames (default: up to two); the
    files are the same whatever it is. Files of an earlier run in ``root`` are replaced.
    """
    width, height = size
    _check(frames, workers, assignments_per_frame, size)
    root = Path(root)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = _stream(seed, 0)
    ids = _Ids(rng)
    people = _draw_workers(rng, ids, workers)
    outsider = _Worker(ids.worker(), "careful", 1.0, labelled=False)
    launch = _launch(rng)
    hit_type = ids.make("3", 30)
    loads = _draw_loads(rng, workers, frames * assignments_per_frame, frames)
    subs = _schedule(rng, ids, people, _assign(rng, loads, frames), launch)
    _draw_answers(rng, people, outsider, width)
    survey = _survey_rows(rng, ids, people, outsider, subs, launch)
    plans = [_plan(rng, people[s.worker], width) for s in subs]
    margin = _px(60, width) + 2
    per_frame = [tuple(p for s, p in zip(subs, plans, strict=True) if s.frame == f)
                 for f in range(frames)]
    frame_jobs = [_FrameJob(seed, f, frames, width, height, per_frame[f], margin)
                  for f in range(frames)]
    for stale in images.glob("mouse_*.jpeg"):
        stale.unlink()
    results: list[_FrameResult] = []
    processes = min(2, os.cpu_count() or 1) if jobs is None else jobs
    for result in _frame_results(frame_jobs, processes):
        (images / _frame_name(len(results))).write_bytes(result.jpeg)
        results.append(result)
        if progress is not None:
            done = sum(len(r.masks) for r in results)
            for step in range(done - len(result.masks) + 1, done + 1):
                progress(step, len(subs))
    masks = [m for r in results for m in r.masks]
    files = DemoFiles(root, images, root / f"Batch_{BATCH_ID}_batch_results.csv",
                      root / "survey_export.csv", root / "truth.json", frames, workers, len(subs))
    rows = _batch_rows(subs, people, masks, launch, hit_type, size, assignments_per_frame)
    _write_batch(files.batch_csv, rows)
    _write_survey(files.survey_csv, survey)
    truth = _truth(seed, size, assignments_per_frame, launch, hit_type, people, outsider, subs,
                   results, survey)
    files.truth_json.write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n",
                                encoding="utf-8")
    return files

"""The answers of a Mechanical Turk batch row: the answer object, and the crowd elements in it.

Part of the batch reader (:mod:`tracework.formats.mturk`): it builds each row's answer from the
``Answer.*`` columns in one of the three layouts and finds the known crowd-element outputs in
it (masks, boxes, polygons, classifier choices); outputs of elements tracework does not convert
(keypoints, entities) become :class:`Unconverted`, everything else :class:`FormField`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, TypeGuard

from tracework.core.errors import InputError
from tracework.formats.csvio import loads_json, quote_cell

__all__ = [
    "ANSWER_PREFIX", "DEFAULT_MAX_PIXELS", "TASK_ANSWERS", "UNCONVERTED_KEYS", "Answers",
    "BoundingBoxes", "Box", "Choice", "Element", "FormField", "Layout", "MultiChoice",
    "Polygon", "Polygons", "RowCells", "Segmentation", "Unconverted", "element_tag",
    "plan_answers",
]

ANSWER_PREFIX = "Answer."
TASK_ANSWERS = "Answer.taskAnswers"
Layout: TypeAlias = Literal["taskAnswers", "dotted", "plain"]

UNCONVERTED_KEYS: dict[str, str] = {
    "keypoints": "crowd-keypoint",
    "entities": "crowd-entity-annotation",
}
_LIST_LEAVES = frozenset({"boundingBoxes", "labels", "polygons", *UNCONVERTED_KEYS})
#: Largest image an answer may declare, in pixels, unless the caller says otherwise.
DEFAULT_MAX_PIXELS = 50_000_000
#: Largest coordinate or length accepted in an answer, in pixels.
_MAX_COORD = 2.0**31
# Python list literals are parsed into a syntax tree, far bigger than the text: keep them small.
_LITERAL_MAX_CHARS = 1 << 20
_INT = re.compile(r"\d{1,18}")
_COLOUR = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


class RowCells(Protocol):
    """What the answer builder needs of a row: its cells, and errors naming it."""

    def text(self, column: str) -> str: ...

    def fail(self, field_name: str | None, message: str,
             hint: str | None = None) -> InputError: ...


# -- records -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Segmentation:
    """crowd-semantic-segmentation output: a label-colour PNG and the colour of each label."""

    name: str
    png_base64: str = field(repr=False)
    colours: dict[str, str]
    width: int | None
    height: int | None


@dataclass(frozen=True)
class Box:
    """One crowd-bounding-box box, in pixels of the original image (top-left corner)."""

    label: str
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class BoundingBoxes:
    name: str
    boxes: tuple[Box, ...]
    width: int | None
    height: int | None


@dataclass(frozen=True)
class Polygon:
    """One crowd-polygon polygon: its label and vertices ``(x, y)`` in image pixels."""

    label: str
    vertices: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Polygons:
    """crowd-polygon output: ``{"polygons": [{label, vertices: [{x, y}…]}…]}``."""

    name: str
    polygons: tuple[Polygon, ...]
    width: int | None
    height: int | None


@dataclass(frozen=True)
class Unconverted:
    """A crowd element tracework recognises but does not turn into annotations, kept raw."""

    name: str
    tag: str
    value: object


@dataclass(frozen=True)
class Choice:
    """crowd-classifier / crowd-image-classifier: ``{"label": ...}``."""

    name: str
    label: str


@dataclass(frozen=True)
class MultiChoice:
    """Multi-select classifiers: ``{"labels": [...]}``."""

    name: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class FormField:
    """Anything else the form sent (plain fields, checkbox dicts, workerComment…), raw."""

    name: str
    value: object


Element: TypeAlias = (Segmentation | BoundingBoxes | Polygons | Choice | MultiChoice
                      | Unconverted | FormField)

# -- answers -----------------------------------------------------------------------------------

_LABEL_MAPPING = re.compile(r"(?:(.*?)\.)?labelMappings\.(.+?)(\.color)?")


def _answer_path(column: str) -> tuple[str, ...]:
    """Key path of a flattened answer column; a label in ``labelMappings`` may contain dots."""
    rest = column[len(ANSWER_PREFIX):]
    match = _LABEL_MAPPING.fullmatch(rest)
    if match is None:
        return tuple(rest.split("."))
    prefix, label, color = match.groups()
    head = tuple(prefix.split(".")) if prefix else ()
    return (*head, "labelMappings", label) + (("color",) if color else ())


def plan_answers(file: str, columns: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """Each flattened answer column with its key path; refuses a path that is also a prefix."""
    plan = [(c, _answer_path(c)) for c in columns]
    inner: dict[tuple[str, ...], str] = {}
    for column, path in plan:
        for i in range(1, len(path)):
            inner.setdefault(path[:i], column)
    for column, path in plan:
        if path in inner:
            raise InputError(
                f"answer columns {column!r} and {inner[path]!r} clash: the first is a value, "
                "the second puts keys under it", file=file, field=column)
    return plan


def _list_of_strings_literal(text: str) -> list[str] | None:
    """A Python list literal of strings (``['a', 'b']``), parsed without evaluating anything."""
    if len(text) > _LITERAL_MAX_CHARS:
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    body = tree.body
    if not isinstance(body, (ast.List, ast.Tuple)):
        return None
    items = []
    for node in body.elts:
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            return None
        items.append(node.value)
    return items


class Answers:
    """Builds the answer object of a row and finds the elements in it."""

    def __init__(self, r: RowCells, layout: Layout, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.r, self.layout, self.max_pixels = r, layout, max_pixels

    def fail(self, path: tuple[str, ...], message: str, hint: str | None = None) -> InputError:
        if self.layout == "taskAnswers":
            # Paths under the JSON cell are named inside the message, the column as the field.
            where = ".".join(path)
            return self.r.fail(TASK_ANSWERS, f"{where}: {message}" if where else message,
                               hint)
        return self.r.fail(ANSWER_PREFIX + ".".join(path), message, hint)

    def build(self, plan: list[tuple[str, tuple[str, ...]]]) -> dict[str, Any]:
        answer: dict[str, Any] = {}
        if self.layout == "taskAnswers":
            answer = self._task_answers()
        for column, path in plan:
            cell = self.r.text(column)
            if cell == "":
                continue
            value = self._leaf(column, path, cell)
            node = answer
            for key in path[:-1]:
                node = node.setdefault(key, {})
                if not isinstance(node, dict):
                    raise self.r.fail(column, "clashes with a value of Answer.taskAnswers")
            if path[-1] in node:
                raise self.r.fail(column, "clashes with a key of Answer.taskAnswers")
            node[path[-1]] = value
        return answer

    def _task_answers(self) -> dict[str, Any]:
        cell = self.r.text(TASK_ANSWERS)
        if not cell.strip():
            return {}
        try:
            parsed = loads_json(cell)
        except ValueError as exc:
            raise self.r.fail(TASK_ANSWERS, str(exc)) from None
        if not (isinstance(parsed, list) and len(parsed) == 1 and isinstance(parsed[0], dict)):
            raise self.r.fail(TASK_ANSWERS, "must be a JSON array holding one object, "
                                             "like [{\"name\": …}]")
        return parsed[0]

    def _leaf(self, column: str, path: tuple[str, ...], cell: str) -> object:
        if len(path) < 2:
            return cell
        if path[-1] in _LIST_LEAVES:
            try:
                parsed = loads_json(cell)
            except ValueError as exc:
                items = _list_of_strings_literal(cell) if path[-1] == "labels" else None
                if items is None:
                    raise self.r.fail(column, f"expected a JSON list: {exc}") from None
                parsed = items
            if not isinstance(parsed, list):
                raise self.r.fail(column, "expected a JSON list")
            return parsed
        if cell == "true":
            return True
        if cell == "false":
            return False
        return cell

    # -- elements ------------------------------------------------------------------------------

    def elements(self, answer: Mapping[str, Any]) -> tuple[Element, ...]:
        found: list[Element] = []
        for key, value in answer.items():
            found.extend(self._element((key,), value, depth=0))
        return tuple(found)

    def _element(self, path: tuple[str, ...], value: object, depth: int) -> list[Element]:
        name = ".".join(path)
        if not isinstance(value, dict):
            return [FormField(name, value)]
        image = value.get("labeledImage")
        if isinstance(image, dict) and image.get("pngImageData") not in (None, ""):
            return [self._segmentation(path, value), *self._rest(path, value, {
                "labeledImage", "labelMappings", "instances", "inputImageProperties"})]
        if isinstance(image, dict):
            return [Unconverted(name, "crowd-semantic-segmentation (no image data)", value)]
        if "polygons" in value:
            return [self._polygons(path, value),
                    *self._rest(path, value, {"polygons", "inputImageProperties"})]
        for key, tag in UNCONVERTED_KEYS.items():
            if key in value:
                self._size(path, value)
                return [Unconverted(name, tag, value)]
        if "boundingBoxes" in value:
            return [self._boxes(path, value),
                    *self._rest(path, value, {"boundingBoxes", "inputImageProperties"})]
        if isinstance(value.get("label"), str):
            return [Choice(name, value["label"]), *self._rest(path, value, {"label"})]
        if isinstance(value.get("labels"), list):
            labels = value["labels"]
            if not all(isinstance(x, str) for x in labels):
                raise self.fail((*path, "labels"), "every label must be a string")
            return [MultiChoice(name, tuple(labels)), *self._rest(path, value, {"labels"})]
        if depth < 3 and any(isinstance(v, dict) and _looks_like_element(v)
                             for v in value.values()):
            found: list[Element] = []
            for key, child in value.items():
                found.extend(self._element((*path, key), child, depth + 1))
            return found
        return [FormField(name, value)]

    def _rest(self, path: tuple[str, ...], value: dict[str, Any],
              used: set[str]) -> list[Element]:
        name = ".".join(path)
        return [FormField(f"{name}.{k}", v) for k, v in value.items() if k not in used]

    def _size(self, path: tuple[str, ...], value: dict[str, Any]) -> tuple[int | None, int | None]:
        props = value.get("inputImageProperties")
        if props is None:
            return None, None
        if not isinstance(props, dict):
            raise self.fail((*path, "inputImageProperties"), "must be an object")
        width = self._dimension((*path, "inputImageProperties", "width"), props.get("width"))
        height = self._dimension((*path, "inputImageProperties", "height"), props.get("height"))
        if width and height and width * height > self.max_pixels:
            raise self.fail((*path, "inputImageProperties"),
                            f"declares an image of {width}×{height} = {width * height:,} pixels,"
                            f" more than the cap of {self.max_pixels:,}",
                            hint="If images this large are real, raise the setting max_pixels.")
        return width, height

    def _dimension(self, path: tuple[str, ...], raw: object) -> int | None:
        if raw is None or raw == "":
            return None
        number: float | None = None
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            number = raw
        elif isinstance(raw, str) and _INT.fullmatch(raw.strip()):
            number = int(raw.strip())
        if number is None or not 0 < number <= _MAX_COORD or number != int(number):
            raise self.fail(path, "an image size must be a positive whole number of pixels")
        return int(number)

    def _segmentation(self, path: tuple[str, ...], value: dict[str, Any]) -> Segmentation:
        png = value["labeledImage"]["pngImageData"]
        if not isinstance(png, str):
            raise self.fail((*path, "labeledImage", "pngImageData"),
                            "must be base64 text of a PNG")
        colours: dict[str, str] = {}
        mappings = value.get("labelMappings")
        if mappings is not None:
            if not isinstance(mappings, dict):
                raise self.fail((*path, "labelMappings"), "must be an object of labels")
            for label, spec in mappings.items():
                where = (*path, "labelMappings", label, "color")
                raw = spec.get("color") if isinstance(spec, dict) else spec
                colours[label] = self._colour(where, raw)
        instances = value.get("instances")
        if instances is not None:
            self._instances((*path, "instances"), instances, colours)
        owners: dict[str, str] = {}
        for label, colour in colours.items():
            if colour in owners:
                raise self.fail((*path, "labelMappings"), f"labels {owners[colour]!r} and "
                                f"{label!r} share the colour {colour}; the mask is ambiguous")
            owners[colour] = label
        width, height = self._size(path, value)
        return Segmentation(".".join(path), png, colours, width, height)

    def _instances(self, path: tuple[str, ...], instances: object,
                   colours: dict[str, str]) -> None:
        """crowd-instance-segmentation's ``[{color, label}]``, when each label is used once."""
        if not isinstance(instances, list):
            raise self.fail(path, "must be a list of {color, label} objects")
        for i, item in enumerate(instances):
            if not (isinstance(item, dict) and isinstance(item.get("label"), str)):
                raise self.fail(path, f"item {i + 1} must be an object with a string label")
            label = item["label"]
            colour = self._colour(path, item.get("color"))
            if colours.get(label, colour) != colour:
                raise self.fail(path, f"label {label!r} has several colours (several "
                                      "instances); instance masks are not supported")
            colours[label] = colour

    def _colour(self, path: tuple[str, ...], raw: object) -> str:
        match = _COLOUR.fullmatch(raw) if isinstance(raw, str) else None
        if match is None:
            shown = quote_cell(raw) if isinstance(raw, str) else type(raw).__name__
            raise self.fail(path, f"colour {shown} is not of the form #rrggbb")
        digits = match.group(1).lower()
        if len(digits) == 3:
            digits = "".join(ch * 2 for ch in digits)
        return "#" + digits

    def _boxes(self, path: tuple[str, ...], value: dict[str, Any]) -> BoundingBoxes:
        where = (*path, "boundingBoxes")
        raw = value["boundingBoxes"]
        if not isinstance(raw, list):
            raise self.fail(where, "must be a list of boxes")
        boxes = []
        for i, item in enumerate(raw, start=1):
            if not isinstance(item, dict):
                raise self.fail(where, f"box {i} is not an object")
            numbers = []
            for key in ("left", "top", "width", "height"):
                n = item.get(key)
                if not _is_coordinate(n):
                    raise self.fail(where, f"box {i}: {key} must be a number of pixels "
                                           f"below {_MAX_COORD:,.0f}")
                if key in ("width", "height") and n < 0:
                    raise self.fail(where, f"box {i}: {key} is negative")
                numbers.append(float(n))
            label = item.get("label")
            if not isinstance(label, str):
                raise self.fail(where, f"box {i}: label must be a string")
            boxes.append(Box(label, *numbers))
        width, height = self._size(path, value)
        return BoundingBoxes(".".join(path), tuple(boxes), width, height)

    def _polygons(self, path: tuple[str, ...], value: dict[str, Any]) -> Polygons:
        where = (*path, "polygons")
        raw = value["polygons"]
        if not isinstance(raw, list):
            raise self.fail(where, "must be a list of polygons")
        found = []
        for i, item in enumerate(raw, start=1):
            if not isinstance(item, dict) or not isinstance(item.get("label"), str):
                raise self.fail(where, f"polygon {i} must be an object with a string label")
            vertices = item.get("vertices")
            if not isinstance(vertices, list) or len(vertices) < 3:
                raise self.fail(where, f"polygon {i}: vertices must be a list of at least 3 "
                                       "{x, y} points")
            points = []
            for k, v in enumerate(vertices, start=1):
                x, y = (v.get("x"), v.get("y")) if isinstance(v, dict) else (None, None)
                if not (_is_coordinate(x) and _is_coordinate(y)):
                    raise self.fail(where, f"polygon {i}, vertex {k}: x and y must be numbers "
                                           "of pixels")
                points.append((float(x), float(y)))
            found.append(Polygon(item["label"], tuple(points)))
        width, height = self._size(path, value)
        return Polygons(".".join(path), tuple(found), width, height)


def _is_coordinate(n: object) -> TypeGuard[float]:
    return (isinstance(n, (int, float)) and not isinstance(n, bool)
            and -_MAX_COORD <= n <= _MAX_COORD)


def element_tag(element: Element) -> str:
    """The crowd element an element came from, as the report names it."""
    tags: dict[type, str] = {
        Segmentation: "crowd-semantic-segmentation", BoundingBoxes: "crowd-bounding-box",
        Polygons: "crowd-polygon", Choice: "crowd-classifier",
        MultiChoice: "crowd-classifier-multi-select", FormField: "form field"}
    return element.tag if isinstance(element, Unconverted) else tags[type(element)]


def _looks_like_element(value: dict[str, Any]) -> bool:
    return ("boundingBoxes" in value or isinstance(value.get("labeledImage"), dict)
            or "polygons" in value or any(k in value for k in UNCONVERTED_KEYS)
            or isinstance(value.get("label"), str) or isinstance(value.get("labels"), list))


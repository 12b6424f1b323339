"""Fonts for whatever script a worker typed in: a stack of Noto faces with per-character fallback.

FreeType draws one face at a time and draws a box for a character the face lacks, so text is
cut into runs, each run in the first face of the stack that has all of its characters. The
stack is, in order: folders named in ``[render] font_dirs`` of tracework.toml or in
``TRACEWORK_FONT_DIRS``, the Noto faces shipped with tracework (Latin, Greek, Cyrillic, Arabic,
Devanagari; SIL Open Font License, see ``assets/fonts/OFL.txt``), then the system's font
folders, where CJK comes from (Debian: ``fonts-noto-cjk``; every other Noto script:
``fonts-noto-core``). A character no face has is an error that names it and the package to
install, unless the caller asked for boxes instead.

Shaping (Arabic joining, right-to-left runs, Devanagari conjuncts) needs Pillow's libraqm
layout, which Pillow's wheels ship; without it the text would be drawn unshaped, so that is an
error too.
"""

from __future__ import annotations

import os
import sys
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from PIL import ImageFont, features

from tracework.core.errors import ConfigError

__all__ = [
    "ASSET_FONTS",
    "FontFace",
    "FontStack",
    "Weight",
    "font_stack",
    "require_shaping",
]

Weight = Literal["regular", "bold"]

ASSET_FONTS = Path(__file__).parent / "assets" / "fonts"

# Preferred faces, by file name, in fallback order; a (name, face-name) pair picks one face of
# a collection (the CJK .ttc holds Japanese, Korean, Simplified and Traditional Chinese faces).
_PREFERRED: dict[Weight, tuple[tuple[str, str | None], ...]] = {
    "regular": (
        ("NotoSans-Regular.ttf", None),
        ("NotoSansArabic-Regular.ttf", None),
        ("NotoNaskhArabic-Regular.ttf", None),
        ("NotoSansDevanagari-Regular.ttf", None),
        ("NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
        ("NotoSansCJKsc-Regular.otf", None),
        ("NotoSansSC-Regular.otf", None),
        ("NotoSansSC-Regular.ttf", None),
        ("NotoSansHebrew-Regular.ttf", None),
        ("NotoSansThai-Regular.ttf", None),
        ("NotoSansBengali-Regular.ttf", None),
        ("NotoSansSymbols-Regular.ttf", None),
        ("NotoSansSymbols2-Regular.ttf", None),
        ("DejaVuSans.ttf", None),
    ),
    "bold": (
        ("NotoSans-Bold.ttf", None),
        ("NotoSansArabic-Bold.ttf", None),
        ("NotoNaskhArabic-Bold.ttf", None),
        ("NotoSansDevanagari-Bold.ttf", None),
        ("NotoSansCJK-Bold.ttc", "Noto Sans CJK SC"),
        ("NotoSansCJKsc-Bold.otf", None),
        ("NotoSansSC-Bold.otf", None),
        ("NotoSansSC-Bold.ttf", None),
        ("DejaVuSans-Bold.ttf", None),
    ),
}

_SYSTEM_DIRS = (
    "/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts",
    "/Library/Fonts", "/System/Library/Fonts", "~/Library/Fonts",
)

_INSTALL_HINT = ("Install Noto fonts (Debian/Ubuntu: apt-get install fonts-noto-core "
                 "fonts-noto-cjk), or put a font that has it in a folder named in tracework.toml "
                 "[render] font_dirs or TRACEWORK_FONT_DIRS.")

# Characters that shaping consumes without a glyph of their own: never a reason to switch face.
_FORMAT = {"Cf", "Cc", "Zl", "Zp"}


@dataclass(frozen=True)
class FontFace:
    """One face of a font file and the code points it has glyphs for."""

    path: Path
    index: int
    name: str
    cmap: frozenset[int]

    def covers(self, ch: str) -> bool:
        return ord(ch) in self.cmap


def require_shaping() -> None:
    """Fail unless Pillow can shape text (libraqm): unshaped Arabic or Devanagari is wrong text."""
    if not features.check("raqm"):
        raise ConfigError(
            "this Pillow cannot shape text (no libraqm): Arabic, Devanagari and right-to-left "
            "text would be drawn wrong",
            hint="Install Pillow from its wheels (pip install --force-reinstall pillow), or "
                 "install libraqm0 (Debian) before building Pillow.")


def _font_dirs(extra: Sequence[Path | str]) -> list[Path]:
    dirs = [Path(d).expanduser() for d in extra]
    env = os.environ.get("TRACEWORK_FONT_DIRS", "")
    dirs += [Path(d).expanduser() for d in env.split(os.pathsep) if d]
    dirs.append(ASSET_FONTS)
    dirs += [Path(d).expanduser() for d in _SYSTEM_DIRS]
    if sys.platform == "win32":
        dirs.append(Path(os.environ.get("WINDIR", "C:/Windows")) / "Fonts")
    return dirs


@lru_cache(maxsize=8)
def _index_files(dirs: tuple[Path, ...]) -> dict[str, Path]:
    """File name -> first path with that name, searching the folders in order."""
    found: dict[str, Path] = {}
    for root in dirs:
        if not root.is_dir():
            continue
        for folder, _subdirs, files in sorted(os.walk(root)):
            for name in sorted(files):
                if name.lower().endswith((".ttf", ".otf", ".ttc")):
                    found.setdefault(name, Path(folder) / name)
    return found


@lru_cache(maxsize=64)
def _load_face(path: Path, face_name: str | None) -> FontFace | None:
    from fontTools.ttLib import TTCollection, TTFont, TTLibError

    try:
        if path.suffix.lower() == ".ttc":
            collection = TTCollection(str(path), lazy=True)
            fonts = list(collection.fonts)
        else:
            collection = None
            fonts = [TTFont(str(path), lazy=True)]
        try:
            for index, font in enumerate(fonts):
                names = font["name"]
                full = names.getDebugName(4) or path.stem
                # A collection's bold faces are named "… Bold"; their family is the plain name.
                family = names.getDebugName(16) or names.getDebugName(1)
                if face_name is None or face_name in (full, family):
                    cmap = font.getBestCmap() or {}
                    return FontFace(path, index, full, frozenset(cmap))
        finally:
            for font in fonts:
                font.close()
            if collection is not None:
                collection.close()
    except (OSError, TTLibError, KeyError, AssertionError):
        return None
    return None


class FontStack:
    """Faces in fallback order, with Pillow fonts cached by size."""

    def __init__(self, faces: Sequence[FontFace], spare: Sequence[Path] = ()) -> None:
        if not faces:
            raise ConfigError("no usable font found (not even the ones shipped with tracework)",
                              hint=_INSTALL_HINT)
        self.faces = list(faces)
        self._spare = list(spare)      # further Noto files, opened only when a glyph is missing
        self._fonts: dict[tuple[FontFace, int], ImageFont.FreeTypeFont] = {}
        self._lock = threading.Lock()

    def face_for(self, ch: str) -> FontFace | None:
        """The first face that has a glyph for ``ch``, widening to spare faces if needed."""
        code = ord(ch)
        for face in self.faces:
            if code in face.cmap:
                return face
        with self._lock:
            while self._spare:
                loaded = _load_face(self._spare.pop(0), None)
                if loaded is not None:
                    self.faces.append(loaded)
                    if code in loaded.cmap:
                        return loaded
        return None

    def font(self, face: FontFace, size: int) -> ImageFont.FreeTypeFont:
        key = (face, size)
        font = self._fonts.get(key)
        if font is None:
            font = ImageFont.truetype(str(face.path), size, index=face.index,
                                      layout_engine=ImageFont.Layout.RAQM)
            self._fonts[key] = font
        return font

    def missing(self, text: str) -> list[str]:
        """Characters of ``text`` that no face can draw (format characters excepted)."""
        out: list[str] = []
        for ch in dict.fromkeys(text):
            if unicodedata.category(ch) in _FORMAT or ch.isspace():
                continue
            if self.face_for(ch) is None:
                out.append(ch)
        return out

    def check(self, text: str, where: str) -> None:
        """Raise a clear error if ``text`` (found in ``where``) has characters no face draws."""
        missing = self.missing(text)
        if missing:
            shown = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed')}"
                              for c in missing[:3])
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise ConfigError(f"no installed font can draw {shown}{more} (in {where})",
                              hint=_INSTALL_HINT + " Or pass --missing-glyphs box to draw "
                                                   "boxes for them.")

    def runs(self, text: str) -> list[tuple[FontFace, str]]:
        """``text`` cut into runs, each drawable with one face.

        Spaces, punctuation, digits and marks stay in the face of the letters around them
        when it has them, so a word is not split into faces (which would break shaping).
        """
        faces: list[FontFace | None] = []
        strong: list[bool] = []
        for ch in text:
            cat = unicodedata.category(ch)
            is_strong = cat[0] == "L"
            strong.append(is_strong)
            faces.append(self.face_for(ch) if is_strong else None)
        _fill_neutrals(text, faces, strong, self)
        out: list[tuple[FontFace, str]] = []
        for ch, face in zip(text, faces, strict=True):
            assert face is not None
            if out and out[-1][0] == face:
                out[-1] = (face, out[-1][1] + ch)
            else:
                out.append((face, ch))
        return out


def _fill_neutrals(text: str, faces: list[FontFace | None], strong: list[bool],
                   stack: FontStack) -> None:
    """Give each neutral character the face of the letter before it (or after it) if that face
    has it; a letter no face has keeps the first face, which draws its missing-glyph box."""
    first = stack.faces[0]
    prev: FontFace | None = None
    following: list[FontFace | None] = [None] * len(text)
    nxt: FontFace | None = None
    for i in range(len(text) - 1, -1, -1):
        following[i] = nxt
        if strong[i] and faces[i] is not None:
            nxt = faces[i]
    for i, ch in enumerate(text):
        if strong[i]:
            if faces[i] is None:
                faces[i] = first
            prev = faces[i]
            continue
        fmt = unicodedata.category(ch) in _FORMAT
        for candidate in (prev, following[i]):
            if candidate is not None and (fmt or candidate.covers(ch)):
                faces[i] = candidate
                break
        else:
            faces[i] = stack.face_for(ch) or prev or first


def _spare_files(index: dict[str, Path], used: Iterable[Path]) -> list[Path]:
    taken = set(used)
    return [p for name, p in sorted(index.items())
            if name.startswith("Noto") and "Regular" in name and p not in taken
            and "Mono" not in name and "Serif" not in name and "Color" not in name]


@lru_cache(maxsize=16)
def _cached_stack(weight: Weight, dirs: tuple[Path, ...]) -> FontStack:
    index = _index_files(dirs)
    faces = []
    for file_name, face_name in _PREFERRED[weight]:
        path = index.get(file_name)
        if path is None:
            continue
        face = _load_face(path, face_name)
        if face is not None and face not in faces:
            faces.append(face)
    spare = _spare_files(index, (f.path for f in faces)) if weight == "regular" else []
    return FontStack(faces, spare)


def font_stack(weight: Weight = "regular", font_dirs: Sequence[Path | str] = ()) -> FontStack:
    """The fallback stack for ``weight``, looking in ``font_dirs`` first (cached per process)."""
    require_shaping()
    return _cached_stack(weight, tuple(_font_dirs(font_dirs)))

"""Files tracework writes: atomically (a temporary name in the same folder, then a rename, so a
crash never leaves a half-written file under its final name), private ones with mode 0600 from
their first byte, and names built from project data kept to ``[A-Za-z0-9._-]``."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

__all__ = ["copy_atomic", "safe_name", "write_atomic"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, fallback: str = "file") -> str:
    """A file name with only safe characters, never a path, never hidden or empty."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or fallback
    return cleaned[:200]


def write_atomic(path: Path, data: bytes | str, *, mode: int | None = None) -> None:
    """Write a file so that its final name only ever holds the complete content; ``mode`` is
    set before any byte is written (0o600 for what is private to one person)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def copy_atomic(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

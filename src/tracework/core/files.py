"""Files tracework writes: atomically (a temporary name in the same folder, then a rename, so a
crash never leaves a half-written file under its final name), and with the mode their audience
calls for.

Two audiences, two modes:

* **shared** files (COCO, YOLO, copied images, bundles, reports, frames, videos) follow the
  user's umask, as any file their shell would write does: 0644 under umask 022, 0664 under 002,
  so a colleague or a web server can read a published dataset;
* **private** files (the store, the secret, anything naming raw platform ids or holding answers
  a worker did not consent to publish) are 0600 from their first byte, whatever the umask, and a
  folder made only to hold them is 0700.

Names built from project data are kept to ``[A-Za-z0-9._-]``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_MODE",
    "copy_atomic",
    "create_private",
    "current_umask",
    "keep_private",
    "open_atomic",
    "safe_name",
    "shared_mode",
    "write_atomic",
]

PRIVATE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, fallback: str = "file") -> str:
    """A file name with only safe characters, never a path, never hidden or empty."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or fallback
    return cleaned[:200]


def current_umask() -> int:
    """The process's umask, read without changing it where the system tells it (Linux 4.7+);
    elsewhere set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def shared_mode() -> int:
    """The mode of a shared file: what ``open()`` would give it under the current umask."""
    return 0o666 & ~current_umask()


def _make_parent(path: Path, private: bool) -> None:
    parent = path.parent
    if parent.is_dir():
        return
    parent.parent.mkdir(parents=True, exist_ok=True)
    parent.mkdir(mode=PRIVATE_DIR_MODE if private else 0o777, exist_ok=True)
    if private:
        os.chmod(parent, PRIVATE_DIR_MODE)


def write_atomic(path: Path, data: bytes | str, *, mode: int | None = None,
                 sync: bool = True) -> None:
    """Write a file so that its final name only ever holds the complete content.

    Without ``mode`` the file is shared (it follows the umask); with one (``PRIVATE_MODE`` for
    what is private to one person) that mode is set before any byte is written, and a missing
    parent folder of a private file is created 0700. ``sync=False`` skips the fsync before the
    rename: for the many small files of one export (YOLO's label files), where a sync per file
    costs more than the whole write and a crash is answered by exporting again."""
    with open_atomic(path, mode=mode, sync=sync) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)


@contextmanager
def open_atomic(path: Path, *, mode: int | None = None, sync: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through, in pieces: it gets its final name when the
    block ends without an error, and is removed otherwise (``mode`` and ``sync`` as for
    :func:`write_atomic`)."""
    private = mode is not None and not mode & 0o077
    _make_parent(path, private)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, shared_mode() if mode is None else mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def copy_atomic(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` as a shared file (the umask's mode, not the source's)."""
    _make_parent(dest, False)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        os.fchmod(fd, shared_mode())
        os.close(fd)
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_private(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; True when it was created. SQLite
    gives a database's -wal, -shm and -journal files the mode of the database file, so a store
    created this way keeps all of them private."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def keep_private(*paths: Path) -> None:
    """Take group and other permissions off existing private files (a store or secret made
    before tracework created them 0600). A file the user does not own is left as it is."""
    for path in paths:
        try:
            current = stat.S_IMODE(path.stat().st_mode)
            if current & 0o077:
                os.chmod(path, current & 0o700)
        except OSError:
            continue

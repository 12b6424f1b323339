"""The one exception tree of tracework.

Every error a user can cause is a :class:`TraceworkError`; each class carries the exit code
the command line returns and the HTTP status the web app answers with. Programming errors are
not user errors: they are left as ordinary Python exceptions.

::

    TraceworkError                     exit 1   HTTP 500
    ├── ConfigError                    exit 3   HTTP 500   bad tracework.toml, settings, secret
    ├── ProjectNotFound                exit 3   HTTP 404   no project at the given folder
    ├── InputError                     exit 4   HTTP 400   a bad input file (names file, row, field)
    │   └── MaskError                  exit 4   HTTP 400   a bad segmentation mask
    ├── NotFound                       exit 5   HTTP 404   an id that names nothing
    ├── ConflictError                  exit 6   HTTP 409   two writers on one record, a re-decision
    ├── LedgerError                    exit 7   HTTP 500   the change log does not verify
    │   ├── BundleError                exit 7   HTTP 500   a published bundle fails inspection
    │   └── IntegrityError             exit 7   HTTP 500   a table disagrees with the log
    └── StoreError                     exit 8   HTTP 503   the database cannot be used

Messages never contain a raw platform worker id: code that raises with worker data passes the
pseudonym.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "TraceworkError",
    "ConfigError",
    "ProjectNotFound",
    "InputError",
    "MaskError",
    "NotFound",
    "ConflictError",
    "LedgerError",
    "BundleError",
    "IntegrityError",
    "StoreError",
]


class TraceworkError(Exception):
    """Root of every error a user of tracework can cause."""

    exit_code = 1
    http_status = 500
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (masks decode in a pool); keep every attribute,
        # the hint and the location included, not just the constructor's first argument.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[TraceworkError], message: str, state: dict[str, Any]) -> TraceworkError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class ConfigError(TraceworkError):
    """The project's configuration or a setting is invalid."""

    exit_code = 3


class ProjectNotFound(TraceworkError):
    """No tracework project where one was expected."""

    exit_code = 3
    http_status = 404
    hint = "Create one with `tracework init DIR`, or pass `--project DIR`."


class InputError(TraceworkError):
    """An input file is malformed. Names the file, the row (1-based data row) and the field."""

    exit_code = 4
    http_status = 400

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.field = field
        self.detail = message
        where = []
        if file is not None:
            where.append(file)
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message, hint=hint)

    def located(self, *, file: str | None = None, row: int | None = None,
                field: str | None = None) -> InputError:
        """The same error with missing location parts filled in."""
        err = type(self)(
            self.detail,
            file=self.file if self.file is not None else file,
            row=self.row if self.row is not None else row,
            field=self.field if self.field is not None else field,
            hint=self.hint,
        )
        return err


class MaskError(InputError):
    """A segmentation mask cannot be decoded or does not fit the label mapping."""


class NotFound(TraceworkError):
    """An identifier names nothing in this project."""

    exit_code = 5
    http_status = 404


class ConflictError(TraceworkError):
    """A write collides with another one, or would overwrite a decision."""

    exit_code = 6
    http_status = 409


class LedgerError(TraceworkError):
    """The change log fails verification."""

    exit_code = 7


class BundleError(LedgerError):
    """A published bundle does not hold what its own metadata says: a file's SHA-256, the
    published change log's chain or head, or a count its datasheet states."""


class IntegrityError(LedgerError):
    """A data table no longer holds what tracework wrote (a row edited, inserted or deleted
    outside it). Names the table, the row's key and, where known, the columns."""

    def __init__(self, message: str, *, table: str | None = None, key: str | None = None,
                 columns: tuple[str, ...] = (), hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.table = table
        self.key = key
        self.columns = columns


class StoreError(TraceworkError):
    """The database cannot be opened or written."""

    exit_code = 8
    http_status = 503

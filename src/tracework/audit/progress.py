"""How a long audit says how far it got: a callback the caller passes, called with the work
units done and their total (None while it is not known). The CLI draws a bar with it; the
library never prints."""

from collections.abc import Callable

__all__ = ["Progress", "tell"]

Progress = Callable[[int, "int | None"], None]


def tell(progress: Progress | None, done: int, total: int | None) -> None:
    """Call ``progress`` when one was given."""
    if progress is not None:
        progress(done, total)

"""Worker processes that die with the command that started them.

A pool's processes are forked children of the command. Killed with SIGKILL, a parent cannot
clean up, and plain children keep running: they hold the parent's stdout (a pipe that never
closes, so whoever reads it waits forever) and, on PostgreSQL, the parent's connection socket
(so the killed import's transaction and its lock on the ledger head outlive it, and every
later writer waits). Every pool tracework starts comes from :func:`process_pool`, whose
processes are bound to their parent: on Linux the kernel sends them SIGKILL the moment the
parent dies (``PR_SET_PDEATHSIG``); elsewhere a watchdog thread exits once the parent is gone.
They also ignore SIGINT: Ctrl-C reaches the whole process group, and the parent alone decides
what an interrupt means.

:func:`terminate_as_interrupt` makes SIGTERM behave like Ctrl-C in the command itself, so an
import stopped by a service manager rolls back its transaction and shuts its pool down instead
of vanishing mid-write; the command line then stops whatever worker processes remain
(:func:`stop_children`).
"""

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.context import BaseContext
from types import FrameType

__all__ = ["Terminated", "process_pool", "stop_children", "terminate_as_interrupt"]

_PR_SET_PDEATHSIG = 1
_WATCH_SECONDS = 0.5


class Terminated(KeyboardInterrupt):
    """SIGTERM received: handled like an interrupt (roll back, shut the pool down, exit)."""


def _watch(parent: int) -> None:
    while True:
        time.sleep(_WATCH_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


def _bind_to_parent(parent: int, then: Callable[[], object] | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:      # the parent died before the line above took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="tracework-parent-watch",
                     daemon=True).start()
    if then is not None:
        then()


def process_pool(processes: int, *, initializer: Callable[[], object] | None = None,
                 mp_context: BaseContext | None = None) -> ProcessPoolExecutor:
    """A process pool whose workers exit when this process dies, however it dies."""
    return ProcessPoolExecutor(processes, mp_context=mp_context, initializer=_bind_to_parent,
                               initargs=(os.getpid(), initializer))


def stop_children() -> int:
    """Kill this process's worker processes and reap them; how many there were. For the
    interrupt path: a pool interrupted mid-call may never tell its workers to stop, and the
    interpreter would wait for them at exit."""
    children = multiprocessing.active_children()
    for child in children:
        child.kill()
    for child in children:
        child.join(5)
    return len(children)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Inside the block SIGTERM raises :class:`Terminated` in the main thread (only there can
    a handler be installed; elsewhere this does nothing); the previous handler is restored
    after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

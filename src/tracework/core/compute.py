"""Where heavy work runs: in this process, in a local pool, or on a Dask cluster.

Mask decoding at ingest and the group audits' permutation tests are independent calls of
pure functions, so they go through one :class:`concurrent.futures.Executor` and give the same
results wherever they run. With a scheduler address (``--scheduler tcp://HOST:8786``, the
``scheduler`` setting, or ``[compute] scheduler`` in tracework.toml) the executor is a
``dask.distributed`` client's: the cluster's workers must have tracework installed, in the
same version. Without one, ingest uses a pool of local processes that die with the command
(:mod:`tracework.core.processes`) and the audits run in this process.
"""

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Any, TypeVar

from tracework.core.errors import ConfigError
from tracework.core.processes import process_pool
from tracework.core.project import Project

__all__ = ["InProcess", "executor", "map_bounded", "run_all", "scheduler_address"]

T = TypeVar("T")

#: How long to wait for a scheduler to answer before saying it cannot be reached.
CONNECT_SECONDS = 10


class InProcess(Executor):
    """Runs each call at once in this process: for one core, small inputs, and the audits
    without a cluster, where a pool costs more than it saves."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered to the caller through the future
            fut.set_exception(exc)
        return fut


def scheduler_address(project: Project) -> str:
    """The Dask scheduler the project's heavy work goes to, or "" for this machine."""
    address = str(project.settings["scheduler"] or "")
    if not address:
        compute = project.config.get("compute", {})
        if isinstance(compute, dict):
            address = str(compute.get("scheduler", "") or "")
    return address.strip()


@contextmanager
def _dask(address: str) -> Iterator[Executor]:
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(f"a Dask scheduler is set ({address}) but dask.distributed is not "
                          "installed", hint="pip install 'distributed', or unset the "
                          "scheduler to run on this machine.") from None
    try:
        client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"the Dask scheduler {address} cannot be reached ({exc})",
                          hint="Start it (dask scheduler; dask worker ADDRESS), check the "
                          "address, or unset the scheduler setting.") from None
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()


@contextmanager
def executor(project: Project, *, processes: int = 1) -> Iterator[Executor]:
    """The executor heavy calls go to: the project's Dask cluster when one is set, else a
    pool of ``processes`` local processes (more than one), else this process."""
    address = scheduler_address(project)
    if address:
        with _dask(address) as ex:
            yield ex
        return
    if processes > 1:
        pool = process_pool(processes)
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    yield InProcess()


def run_all(ex: Executor, fn: Callable[..., T], calls: Iterable[tuple[Any, ...]]) -> list[T]:
    """``fn(*args)`` for every ``args``, submitted together, results in the given order."""
    futures = [ex.submit(fn, *args) for args in calls]
    return [f.result() for f in futures]


def map_bounded(ex: Executor, fn: Callable[..., T], calls: Iterable[tuple[Any, ...]], *,
                window: int = 4) -> Iterator[T]:
    """``fn(*args)`` for every ``args``, results in the given order, with at most ``window``
    calls submitted and not yet collected: for inputs streamed from the store, so that a
    cluster works on several at once while memory holds only a few."""
    pending: deque[Future[T]] = deque()
    for args in calls:
        pending.append(ex.submit(fn, *args))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()

"""The worker processes of a run on the embedded ``"processes"`` scheduler, started
when the run starts and kept until it ends.

:class:`WorkerPool` starts its workers at once (:meth:`WorkerPool.start`), so they
import interbrain while the run hashes its inputs and builds its graph; Dask's process
scheduler then runs the graph on them (:func:`~interbrain.engine.graph.execute`), and
the statistics and the report run their independent parts on them through
:meth:`WorkerPool.map` while the run's own process does the rest. The workers are
those Dask's scheduler would start: same start method (``spawn`` unless Dask's
``multiprocessing.context`` says otherwise), Dask's worker set-up, and
:func:`~interbrain.orphans.worker_initializer` (workers exit when this process dies).

Jobs and their results travel pickled; fitted mixed models
(:class:`~interbrain.stats.mixed.LmerResult`) keep patsy's evaluation environment of
their formula, which patsy refuses to pickle: the only one they use,
:func:`~interbrain.stats.formula.safe_eval_env`, travels as a call of that function.
A job whose arguments or result still cannot be pickled runs in this process instead.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import dask.multiprocessing
import patsy

from ..errors import WorkerError
from ..orphans import worker_initializer
from ..stats.formula import safe_eval_env

__all__ = ["WorkerPool", "dumps", "died_message"]

logger = logging.getLogger("interbrain")

#: The namespaces of :func:`~interbrain.stats.formula.safe_eval_env`.
_SAFE_NAMESPACES = safe_eval_env()._namespaces
#: What pickling a job or its result may raise for an object it cannot pickle.
_UNPICKLABLE = (pickle.PicklingError, TypeError, AttributeError, NotImplementedError)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj):
        if (type(obj) is patsy.EvalEnvironment and obj.flags == 0
                and obj._namespaces == _SAFE_NAMESPACES):
            return safe_eval_env, ()
        return NotImplemented


def dumps(obj) -> bytes:
    """``obj`` pickled (highest protocol), patsy's evaluation environment of
    :func:`~interbrain.stats.formula.safe_eval_env` as a call of it; ``pickle.loads``
    reads it back.

    Raises
    ------
    pickle.PicklingError, TypeError, AttributeError, NotImplementedError
        For an object that cannot be pickled.
    """
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def _run_job(payload: bytes) -> bytes | None:
    """In a worker: call the pickled ``(function, arguments)``; its result pickled, or
    None when it cannot be (the caller then calls it itself)."""
    fn, args = pickle.loads(payload)
    result = fn(*args)
    try:
        return dumps(result)
    except _UNPICKLABLE:
        return None


def _ready() -> int:
    """A first job for each worker: unpickling it imports interbrain's engine (and so
    everything a task needs) before the first task arrives."""
    return os.getpid()


def died_message(running: list[str]) -> str:
    """The message of a worker's death; ``running``: what was under way, one of which
    the dead worker was running."""
    doing = f" (tasks under way: {'; '.join(running)})" if running else ""
    return ("a worker process died before finishing its task (killed by a signal, e.g. by "
            f"the system's out-of-memory killer){doing}; rerun with fewer --workers, or "
            "with --scheduler threads")


class WorkerPool:
    """Worker processes for one run (a context manager: shut down on exit).

    Parameters
    ----------
    n_workers : int, optional
        Number of processes; default one per core.

    Attributes
    ----------
    executor : concurrent.futures.ProcessPoolExecutor
        The pool, for ``dask.compute(..., scheduler="processes", pool=executor)``.
    n_workers : int
    """

    def __init__(self, n_workers: int | None = None) -> None:
        self.n_workers = n_workers or os.cpu_count() or 1
        # what Dask's process scheduler does when it makes its own pool: workers hash
        # strings alike (they inherit the environment), numpy reseeded in each worker
        if os.environ.get("PYTHONHASHSEED") in (None, "0"):
            os.environ["PYTHONHASHSEED"] = "6640"
        self.executor = ProcessPoolExecutor(
            self.n_workers, mp_context=dask.multiprocessing.get_context(),
            initializer=functools.partial(dask.multiprocessing.initialize_worker_process,
                                          user_initializer=worker_initializer()))

    def start(self) -> WorkerPool:
        """Start every worker now (each imports the engine: seconds), without waiting.

        Returns
        -------
        WorkerPool
            Itself.
        """
        for _ in range(self.n_workers):
            self.executor.submit(_ready)
        return self

    def map(self, fn: Callable, *iterables: Iterable) -> Iterator:
        """``fn`` of each set of arguments, in the workers, as Python's ``map``.

        Every call is submitted now; the iterator returns their results in order, as
        each is needed. ``fn`` must be a module-level function; a call whose arguments
        or result cannot be pickled runs in this process instead.

        Parameters
        ----------
        fn : callable
        *iterables
            Its arguments, as for ``map``.

        Returns
        -------
        iterator

        Raises
        ------
        WorkerError
            (From the iterator) when a worker process dies.
        """
        calls = list(zip(*iterables))
        futures: list[Future | None] = []
        for args in calls:
            try:
                payload = dumps((fn, args))
            except _UNPICKLABLE as exc:
                logger.debug("%s runs in this process: %s", getattr(fn, "__name__", fn), exc)
                futures.append(None)
                continue
            try:
                futures.append(self.executor.submit(_run_job, payload))
            except BrokenProcessPool:
                raise WorkerError(died_message([])) from None
        return self._results(fn, calls, futures)

    @staticmethod
    def _results(fn: Callable, calls: list, futures: list) -> Iterator:
        name = getattr(fn, "__name__", str(fn))
        try:
            for args, future in zip(calls, futures):
                try:
                    data = future.result() if future is not None else None
                except BrokenProcessPool:
                    raise WorkerError(died_message([name])) from None
                if data is None:
                    yield fn(*args)
                else:
                    yield pickle.loads(data)
        finally:   # results no longer wanted (an error, or the caller stopped reading)
            for future in futures:
                if future is not None:
                    future.cancel()

    def shutdown(self) -> None:
        """Cancel the jobs not started, wait for those running, and end the workers."""
        self.executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

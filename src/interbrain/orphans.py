"""Worker processes that do not outlive the process that started them.

A process pool's workers wait for work from their parent; when the parent is killed
(``SIGKILL``, the out-of-memory killer) nothing tells them, and they would wait
forever. :func:`exit_with_parent`, run in each worker as the pool's initializer,
makes a worker exit as soon as its parent is gone: on Linux the kernel sends it
``SIGKILL`` when the parent dies (``prctl(PR_SET_PDEATHSIG)``); everywhere a daemon
thread checks every ``poll_interval`` seconds that the parent is still its parent
(an orphan is adopted by another process, so ``os.getppid()`` changes).

A worker imports this module before anything else (to unpickle its initializer), so
it lives outside :mod:`interbrain.engine` and imports nothing of the package: a parent
that dies while its workers start is noticed within a fraction of a second, not after
they imported the whole engine.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

#: ``prctl`` option: the signal the calling process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux).

    Parameters
    ----------
    sig : int
        The signal.

    Returns
    -------
    bool
        Whether the kernel took the request (False on other systems).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent_pid: int, poll_interval: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(poll_interval)
    os._exit(1)


def exit_with_parent(parent_pid: int, poll_interval: float = 0.5) -> None:
    """Make this (worker) process exit when process ``parent_pid``, its parent, dies.

    Parameters
    ----------
    parent_pid : int
        PID of the parent, as seen by the parent itself (``os.getpid()`` there): if
        this process already has another parent, the parent died while it started,
        and it exits at once.
    poll_interval : float
        Seconds between the checks of the watching thread.
    """
    set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid, poll_interval),
                     name="interbrain-exit-with-parent", daemon=True).start()


def worker_initializer(poll_interval: float = 0.5) -> Callable[[], None]:
    """The initializer for a process pool started by this process: each worker runs
    :func:`exit_with_parent` with this process's PID.

    Parameters
    ----------
    poll_interval : float
        Seconds between the checks of each worker's watching thread.

    Returns
    -------
    callable
        Picklable, taking no argument.
    """
    return functools.partial(exit_with_parent, os.getpid(), poll_interval)

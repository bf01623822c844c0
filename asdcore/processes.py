"""Process identity, liveness and signals, portable through psutil (Linux, macOS, Windows).

A process is identified by its pid and its creation time (`fingerprint`): a pid can be reused
by an unrelated process after the first one ended, the creation time tells the two apart.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import IO

import psutil

# Started children, kept so they can be reaped (no zombies in a long-lived launcher such as
# the Streamlit server).
_children: dict[int, subprocess.Popen] = {}


def start_detached(argv: Sequence[str], output: IO[bytes], env: Mapping[str, str]) -> int:
    """Start ``argv`` in its own session (POSIX) or process group (Windows), so it outlives the
    caller and its helpers can be signalled together; stdin closed, stdout and stderr to
    ``output``. Returns its pid. `OSError` when it cannot be started."""
    if sys.platform == "win32":
        detach = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    else:
        detach = {"start_new_session": True}
    process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=output,
                               stderr=subprocess.STDOUT, env=dict(env), **detach)
    _children[process.pid] = process
    return process.pid


def reap_children() -> None:
    """Collect the exit status of started children that have ended."""
    for pid, process in list(_children.items()):
        if process.poll() is not None:
            del _children[pid]


def fingerprint(pid: int) -> str | None:
    """The creation time of live process ``pid`` (as text), or None when it is gone."""
    try:
        process = psutil.Process(pid)
        if process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return None  # finished, merely not yet reaped
        return repr(process.create_time())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None


def matches(pid: int, recorded: str | None) -> bool:
    """True when ``pid`` is alive and (if a fingerprint was recorded) is the same process."""
    reap_children()
    try:
        current = fingerprint(pid)
    except psutil.AccessDenied:  # another account's process: it exists, its identity is hidden
        return recorded is None
    return current is not None and (recorded is None or current == recorded)


def signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid`` and its helpers (data-loader workers): to its process group when
    it leads one (a `start_detached` process on POSIX), else to it and its descendants."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg") and os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    try:
        process = psutil.Process(pid)
        family = [process, *process.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            member.send_signal(sig)


def wait_until_gone(pid: int, recorded: str | None, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for the process to end; True when it has."""
    deadline = time.monotonic() + timeout_s
    while matches(pid, recorded):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


# The signals that stop a worker: politely, then for sure (Windows has only the one).
STOP_SIGNALS = (signal.SIGTERM, getattr(signal, "SIGKILL", signal.SIGTERM))

"""Worker processes of runs: start one detached, and stop one on request.

`launch` starts a run's worker (``python -m asdcore work RUN`` from the app) and records its
pid and fingerprint in status.json; `cancel` asks it to stop, then signals it. Whether a
recorded worker is still alive is `asdcore.runs.Run.status`'s business (via
`asdcore.processes`), so a dead worker reads as failed wherever a run is shown.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence

from asdcore import processes
from asdcore.errors import ASDError
from asdcore.runs import ACTIVE_STATES, Run, now


def launch(run: Run, argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Start ``argv`` as a detached worker for ``run`` and record its pid; returns the pid.

    The child gets its own session (it survives the caller, e.g. a closed browser tab or a
    restarted Streamlit script), stdin closed, stdout and stderr appended to log.txt, and
    ``ASD_RUN_DIR`` naming the run folder.
    """
    child_env = {**os.environ, **(env or {}), "ASD_RUN_DIR": str(run.path)}
    try:
        with open(run.log_path, "ab") as log:
            pid = processes.start_detached(argv, log, child_env)
    except OSError as err:
        run.set_status("failed", error=f"could not start {argv[0]}: {err}")
        raise ASDError(f"Could not start the worker for run {run.name!r}: {err}.") from err
    fingerprint = processes.fingerprint(pid)

    def record(status: dict) -> None:
        status.update(pid=pid, pid_start=fingerprint, host=socket.gethostname())
        # A fast worker may already have moved on; never step it back to running.
        if status.get("state") == "queued":
            status.update(state="running", started=status.get("started") or now())
    run.update_status(record)
    return pid


def cancel(run: Run, grace_s: float = 10.0) -> dict:
    """Ask a run to stop: write the cancel flag, wait up to ``grace_s`` for the worker to
    notice, then terminate (and finally kill) it with its helpers. Returns the final status."""
    run.request_cancel()
    status = run.raw_status()
    if status.get("state") == "queued" and not status.get("pid"):
        return run.set_status("cancelled", error="cancelled before it started")
    pid, fingerprint = status.get("pid"), status.get("pid_start")
    if status.get("state") in ACTIVE_STATES and pid:
        for sig in (None, *processes.STOP_SIGNALS):
            if sig is not None and processes.matches(pid, fingerprint):
                processes.signal_group(pid, sig)
            if processes.wait_until_gone(pid, fingerprint, grace_s):
                break
    if run.raw_status().get("state") in ACTIVE_STATES and not processes.matches(pid, fingerprint):
        run.set_status("cancelled", error="stopped after a cancel request")
    return run.status()

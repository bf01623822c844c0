"""The run registry: one folder per training/scoring run, written crash-safely.

A run lives in ``workspace_dir()/runs/<name>`` (or any folder given as a path)::

    config.json      the full config, enough to reproduce the run
    status.json      state (queued/running/done/failed/cancelled), pid and its start
                     fingerprint, host, created/started/finished times, error message
    progress.jsonl   append-only events (`asdcore.progress.ProgressEvent` fields, time)
    log.txt          the worker's stdout and stderr
    cancel.request   present once a cancel was asked for; the worker polls it
    metrics.json     official metrics once scored
    weights/ embeddings/ scores/ submission/   artefacts

Protocol: `create_run` makes a queued run; `asdcore.workers.launch` starts a detached worker
process and records its pid; the worker wraps its work in ``with run.working():`` (sets
running, then done, cancelled or failed with the error) and calls ``run.record_progress``
(a progress callback) and ``run.cancel_requested()`` as it goes. `Run.status` never trusts a
stale "running": when the recorded process is gone, or its pid now belongs to another process
(`asdcore.processes`), it reports ``failed`` (``cancelled`` if a cancel had been asked for).

status.json and metrics.json are replaced atomically (`asdcore.atomic`), read-modify-write
under the run's lock (``.lock`` in the run folder, `Run.locked`): the launcher and the worker
both update status.json, and two scorings of one run (two tabs, or a tab and the command line)
both add their backend to metrics.json, without losing each other's fields.
progress.jsonl is appended one whole line per ``write`` call (atomic for such small writes
with O_APPEND); a reader ignores a torn last line left by a crash.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from filelock import FileLock

from asdcore import processes
from asdcore.atomic import write_json
from asdcore.errors import ASDError, Cancelled, disk_full_error, is_disk_full, writing
from asdcore.paths import workspace_dir
from asdcore.progress import ProgressEvent

STATES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE_STATES = ("queued", "running")
MAX_NAME_LENGTH = 100
_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")


def runs_dir() -> Path:
    return workspace_dir() / "runs"


def validate_run_name(name: str) -> str:
    """Return ``name`` if it is a valid run name, else raise `ASDError` saying why."""
    if not name or len(name) > MAX_NAME_LENGTH or not _NAME_PATTERN.fullmatch(name):
        raise ASDError(f"Invalid run name {name!r}: use 1 to {MAX_NAME_LENGTH} letters, digits, "
                       "'.', '_' or '-'.")
    if name.startswith("."):
        raise ASDError(f"Invalid run name {name!r}: it must not start with '.'.")
    return name


def run_path(name_or_path: str | os.PathLike) -> Path:
    """The folder of a run given by name (kept under `runs_dir`) or by a path with a '/'."""
    text = os.fspath(name_or_path)
    if "/" in text or os.sep in text:
        return Path(text).expanduser().absolute()
    path = runs_dir() / validate_run_name(text)
    # A symlink planted in the runs folder must not lead a name elsewhere.
    if path.is_symlink():
        raise ASDError(f"The run folder for {text!r} is a symbolic link; refusing to use it.")
    return path


@dataclasses.dataclass(frozen=True)
class Run:
    """A run folder; every method reads or writes the folder, nothing is cached."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    # --- locations ---
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def progress_path(self) -> Path:
        return self.path / "progress.jsonl"

    @property
    def log_path(self) -> Path:
        return self.path / "log.txt"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def cancel_path(self) -> Path:
        return self.path / "cancel.request"

    @property
    def weights_dir(self) -> Path:
        return self.path / "weights"

    @property
    def embeddings_dir(self) -> Path:
        return self.path / "embeddings"

    @property
    def scores_dir(self) -> Path:
        return self.path / "scores"

    @property
    def submission_dir(self) -> Path:
        return self.path / "submission"

    # --- config and metrics ---
    def config(self) -> dict:
        return _read_json(self.config_path)

    def write_metrics(self, metrics: Mapping) -> None:
        write_json(self.metrics_path, dict(metrics))

    def add_scoring(self, result: Mapping, write_files: Callable[[], None] | None = None
                    ) -> dict:
        """Record a scoring ``result`` (one backend's) in metrics.json: it becomes the latest
        and joins ``by_backend`` beside the other backends' results. Read-modify-write under
        the run's lock, with ``write_files`` (the submission files of that result) written
        under the same lock, so a concurrent scoring of the run with another backend is never
        lost and the submission files match the latest result. Returns metrics.json."""
        with self.locked():
            if write_files is not None:
                write_files()
            previous = self.metrics() or {}
            metrics = {**result, "by_backend": {**previous.get("by_backend", {}),
                                                result["backend"]: dict(result)}}
            self.write_metrics(metrics)
            return metrics

    def metrics(self) -> dict | None:
        return _read_json(self.metrics_path) if self.metrics_path.exists() else None

    # --- status ---
    def raw_status(self) -> dict:
        """status.json as written, without the liveness check of `status`."""
        return _read_json(self.status_path)

    def set_status(self, state: str, **fields) -> dict:
        """Set the state (and any other fields); times are stamped automatically."""
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}")

        def change(status: dict) -> None:
            status.update(fields, state=state)
            if state == "running":
                status.setdefault("started", now())
            if state not in ACTIVE_STATES:
                status["finished"] = now()
        return self.update_status(change)

    def status(self) -> dict:
        """status.json, with a dead or replaced worker process reported as failed/cancelled."""
        status = self.raw_status()
        if status.get("state") not in ACTIVE_STATES or not status.get("pid"):
            return status
        if status.get("host") not in (None, socket.gethostname()):
            return status  # another machine's process: nothing to check it against
        if processes.matches(status["pid"], status.get("pid_start")):
            return status
        # The worker may have finished between the read and the check: read once more.
        status = self.raw_status()
        if status.get("state") not in ACTIVE_STATES:
            return status
        if self.cancel_requested():
            return {**status, "state": "cancelled",
                    "error": status.get("error") or "stopped after a cancel request"}
        where = "see log.txt" if self.log_path.is_file() else "its terminal shows why"
        return {**status, "state": "failed",
                "error": status.get("error") or
                f"the worker process (pid {status['pid']}) ended without reporting a result; "
                f"{where}"}

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the run's lock (between processes and threads) until the block ends; not
        reentrant."""
        with FileLock(self.path / ".lock"):
            yield

    def update_status(self, change: Callable[[dict], None]) -> dict:
        """Apply ``change`` to status.json in place, under the run's lock; returns the result."""
        with self.locked():
            status = self.raw_status() if self.status_path.exists() else {}
            change(status)
            status["updated"] = now()
            write_json(self.status_path, status)
            return status

    @contextlib.contextmanager
    def working(self) -> Iterator[Run]:
        """Wrap a worker's job: running on entry; done, cancelled or failed on exit."""
        def start(status: dict) -> None:
            # A resumed or relaunched run starts afresh: no error or end time of an earlier try.
            if status.get("state") not in ACTIVE_STATES:
                status.pop("started", None)
            for stale in ("error", "finished"):
                status.pop(stale, None)
            status.update(state="running", pid=os.getpid(),
                          pid_start=processes.fingerprint(os.getpid()), host=socket.gethostname())
            status.setdefault("started", now())
        self.update_status(start)
        try:
            yield self
        except Cancelled:
            self._record_end("cancelled", "cancelled on request")
            raise
        except (Exception, KeyboardInterrupt) as err:
            error = disk_full_error(err) if is_disk_full(err) else err
            self._record_end("failed", str(error) or type(err).__name__)
            raise
        self.set_status("done")

    def _record_end(self, state: str, error: str) -> None:
        # Recording may fail too (a full disk): the work's own error is what the caller must
        # see, and `status` reports the dead worker as failed anyway.
        with contextlib.suppress(OSError, ASDError):
            self.set_status(state, error=error)

    # --- progress and log ---
    def record_progress(self, done: int, total: int, message: str = "", **fields) -> None:
        """A progress callback that appends the event, every field, to progress.jsonl."""
        self.append_progress(**ProgressEvent(done, total, message, **fields).as_record())

    def append_progress(self, **event) -> None:
        """Append one event (normally `record_progress`'s); ``time`` is added."""
        line = json.dumps({**event, "time": time.time()}, default=str) + "\n"
        with writing(self.progress_path):
            fd = os.open(self.progress_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)

    def progress(self) -> list[dict]:
        """All progress events, oldest first; a torn last line is skipped."""
        if not self.progress_path.exists():
            return []
        events = []
        for line in self.progress_path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                events.append(json.loads(line))
        return events

    def log_tail(self, max_chars: int = 20_000) -> str:
        """The end of log.txt (empty when there is none)."""
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as fh:
            fh.seek(max(0, self.log_path.stat().st_size - max_chars))
            return fh.read().decode("utf-8", errors="replace")

    # --- cancel ---
    def request_cancel(self) -> None:
        self.cancel_path.touch()

    def cancel_requested(self) -> bool:
        """True once a cancel was asked for; usable directly as a ``cancel`` callback."""
        return self.cancel_path.exists()


def create_run(name_or_path: str | os.PathLike, config, overwrite: bool = False) -> Run:
    """Create a queued run holding ``config`` (a dict or a dataclass).

    An existing run is refused unless ``overwrite``; then it is replaced as a whole (the new
    folder is built beside it and swapped in), and never while its worker is alive.
    """
    path = run_path(name_or_path)
    config_dict = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    if path.exists() and not overwrite:
        raise ASDError(f"The run {path.name!r} already exists; choose another name or "
                       "overwrite it explicitly.")
    if path.exists() and not Run(path).status_path.is_file() \
            and (not path.is_dir() or any(path.iterdir())):
        raise ASDError(f"{path} exists and is not a run folder; refusing to replace it.")
    if path.exists() and has_live_worker(Run(path)):
        raise ASDError(f"The run {path.name!r} is still active; cancel it before overwriting.")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; a run folder is an ordinary folder
        staged = Run(staging)
        write_json(staged.config_path, config_dict)
        write_json(staged.status_path, {"state": "queued", "created": now(),
                                        "updated": now()})
        if path.exists():
            discarded = Path(tempfile.mkdtemp(prefix=f".old-{path.name}-", dir=path.parent))
            os.replace(path, discarded / path.name)
            os.replace(staging, path)
            shutil.rmtree(discarded, ignore_errors=True)
        else:
            os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Run(path)


def has_live_worker(run: Run) -> bool:
    """True while a worker process of ``run`` is alive (or it is queued with a worker pid)."""
    try:
        status = run.status()
    except ASDError:  # no or unreadable status: nothing is running there
        return False
    return status["state"] in ACTIVE_STATES and bool(status.get("pid"))


def reopen(run: Run) -> Run:
    """Queue a finished, failed or cancelled ``run`` again, to work on from where it stopped (a
    joint model resumes from its checkpoint). Refused while its worker lives; the cancel flag
    and the error of the earlier try are dropped, or the new worker would stop at once."""
    if has_live_worker(run):
        raise ASDError(f"The run {run.name!r} is still running (pid "
                       f"{run.raw_status().get('pid')}); wait for it or cancel it first.")
    run.cancel_path.unlink(missing_ok=True)
    _remove_stale_temporaries(run.path)

    def requeue(status: dict) -> None:
        for stale in ("pid", "pid_start", "host", "error", "finished"):
            status.pop(stale, None)
        status["state"] = "queued"
    run.update_status(requeue)
    return run


def _remove_stale_temporaries(folder: Path) -> None:
    """Delete the ``.tmp-*`` files an atomic write killed mid-way left in a run (a checkpoint's
    can be tens of MB). Only called with no live worker, so none of them is being written."""
    for path in folder.rglob(".tmp-*"):
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)


def open_run(name_or_path: str | os.PathLike) -> Run:
    """An existing run by name or path; a clear error when there is none."""
    path = run_path(name_or_path)
    if not (path / "status.json").is_file():
        raise ASDError(f"There is no run {os.fspath(name_or_path)!r} (looked in {path}).")
    return Run(path)


def list_runs() -> list[dict]:
    """Every run under `runs_dir`, newest first, as plain dicts (what ``runs --json`` prints):
    name, path, status, model, official_score (None when unknown), created, started,
    finished, error."""
    folder = runs_dir()
    if not folder.is_dir():
        return []
    rows = []
    for path in folder.iterdir():
        if path.name.startswith(".") or path.is_symlink() or not path.is_dir():
            continue
        if not (path / "status.json").is_file():
            continue
        rows.append(_summary(Run(path)))
    return sorted(rows, key=lambda row: (row["created"] or "", row["name"]), reverse=True)


def _summary(run: Run) -> dict:
    try:
        status = run.status()
        config = run.config()
        metrics = run.metrics() or {}
    except ASDError as err:
        status, config, metrics = {"state": "failed", "error": str(err)}, {}, {}
    return {
        "name": run.name,
        "path": str(run.path),
        "status": status.get("state"),
        "model": config.get("model"),
        "official_score": metrics.get("official_score"),
        "created": status.get("created"),
        "started": status.get("started"),
        "finished": status.get("finished"),
        "error": status.get("error"),
    }


# --- small helpers ---------------------------------------------------------------------------

def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ASDError(f"{path} is missing.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ASDError(f"{path} is unreadable: {err}.") from err

"""Run registry: names, folders, crash-safe status, liveness of worker processes, cancel."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asdcore import atomic, processes, runs, workers
from asdcore.errors import ASDError, Cancelled

# Workers launched by the tests import asdcore from this checkout.
WORKER_ENV = {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}


@pytest.fixture(autouse=True)
def _fresh_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("ASD_WORKSPACE_DIR", str(tmp_path / "workspace"))


@dataclasses.dataclass
class _Config:
    model: str = "ae"
    epochs: int = 3


def test_create_open_list():
    run = runs.create_run("baseline-1", _Config())
    assert run.path == runs.runs_dir() / "baseline-1"
    assert run.config() == {"model": "ae", "epochs": 3}
    assert runs.open_run("baseline-1").raw_status()["state"] == "queued"
    runs.create_run("other.2", {"model": "seresnet18"}).write_metrics({"official_score": 0.61})
    listed = {row["name"]: row for row in runs.list_runs()}
    assert listed["baseline-1"]["status"] == "queued"
    assert listed["baseline-1"]["model"] == "ae"
    assert listed["baseline-1"]["official_score"] is None
    assert listed["other.2"]["official_score"] == 0.61
    json.dumps(runs.list_runs())  # what `runs --json` prints


def test_open_missing_run_is_a_clear_error():
    with pytest.raises(ASDError, match="no run 'nope'"):
        runs.open_run("nope")


@pytest.mark.parametrize("bad", ["", ".", "..", ".hidden", "a b", "x" * 101, "ä", "a\\b", "a:b"])
def test_invalid_names_are_refused(bad):
    with pytest.raises(ASDError, match="Invalid run name"):
        runs.validate_run_name(bad)
    with pytest.raises(ASDError):
        runs.create_run(bad, {})


@pytest.mark.parametrize("escape", ["../x", "/etc/x", "a/../../x"])
def test_names_cannot_escape_the_runs_folder(escape):
    # Anything with a '/' is an explicit path, never a name joined under runs/.
    with pytest.raises(ASDError):
        runs.validate_run_name(escape)
    assert runs.run_path(escape) == runs.run_path(escape).absolute()
    assert runs.runs_dir() not in runs.run_path(escape).parents


def test_symlinked_run_folder_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    runs.runs_dir().mkdir(parents=True)
    (runs.runs_dir() / "sneaky").symlink_to(outside)
    with pytest.raises(ASDError, match="symbolic link"):
        runs.create_run("sneaky", {}, overwrite=True)
    assert not any(outside.iterdir())
    assert runs.list_runs() == []


def test_run_given_as_a_path(tmp_path):
    run = runs.create_run(str(tmp_path / "elsewhere" / "r1"), {"model": "ae"})
    assert runs.open_run(str(run.path)).config()["model"] == "ae"


def test_overwrite_never_replaces_a_folder_that_is_not_a_run(tmp_path):
    precious = tmp_path / "data" / "labels"
    precious.mkdir(parents=True)
    (precious / "labels.csv").write_text("file,label\n")
    with pytest.raises(ASDError, match="not a run folder"):
        runs.create_run(str(precious), {}, overwrite=True)
    assert (precious / "labels.csv").exists()


def test_existing_run_is_refused_unless_overwrite():
    run = runs.create_run("r", {"model": "ae"})
    (run.weights_dir).mkdir()
    (run.weights_dir / "model.pt").write_bytes(b"old")
    with pytest.raises(ASDError, match="already exists"):
        runs.create_run("r", {"model": "seresnet18"})
    replaced = runs.create_run("r", {"model": "seresnet18"}, overwrite=True)
    assert replaced.config()["model"] == "seresnet18"
    assert not replaced.weights_dir.exists()  # the old run is gone as a whole
    assert [p.name for p in runs.runs_dir().iterdir()] == ["r"]  # no staging leftovers


def test_overwrite_refuses_a_live_run():
    run = runs.create_run("live", {})
    run.set_status("running", pid=os.getpid(), pid_start=processes.fingerprint(os.getpid()))
    with pytest.raises(ASDError, match="still active"):
        runs.create_run("live", {}, overwrite=True)


def test_crash_mid_status_write_keeps_the_old_status(monkeypatch):
    run = runs.create_run("crashy", {})
    run.set_status("running", pid=None)

    def crash(*args):
        raise OSError("disk pulled out")
    monkeypatch.setattr(atomic.os, "fsync", crash)
    with pytest.raises(OSError):
        run.set_status("done")
    monkeypatch.undo()
    assert run.raw_status()["state"] == "running"
    assert [p.name for p in run.path.iterdir() if p.name.startswith(".tmp")] == []


def test_status_times_and_fields():
    run = runs.create_run("t", {})
    status = run.set_status("running", pid=None)
    assert status["started"] and "finished" not in status
    done = run.set_status("failed", error="boom")
    assert done["finished"] and done["error"] == "boom" and done["started"] == status["started"]
    with pytest.raises(ValueError):
        run.set_status("exploded")


def test_progress_is_append_only_and_tolerates_a_torn_line():
    run = runs.create_run("p", {})
    run.append_progress(step=1, total=10, loss=0.5)
    run.append_progress(step=2, total=10, message="epoch done")
    with open(run.progress_path, "a") as fh:
        fh.write('{"step": 3, "tot')  # crash mid-line
    events = run.progress()
    assert [e["step"] for e in events] == [1, 2]
    assert all("time" in e for e in events)


def test_killed_worker_is_reported_failed():
    run = runs.create_run("victim", {"model": "ae"})
    pid = workers.launch(run, [sys.executable, "-c", "print('hello', flush=True); "
                                                  "import time; time.sleep(30)"])
    try:
        assert run.status()["state"] == "running"
        assert run.raw_status()["pid"] == pid
        assert os.getpgid(pid) == pid  # its own session, so it outlives the caller
        _wait_for(lambda: "hello" in run.log_tail())  # its output goes to the run's log
    finally:
        os.kill(pid, signal.SIGKILL)
    _wait_for(lambda: run.status()["state"] == "failed")
    assert "ended without reporting" in run.status()["error"]
    assert run.raw_status()["state"] == "running"  # status() reports, it does not rewrite
    assert {r["name"]: r["status"] for r in runs.list_runs()}["victim"] == "failed"


def test_nonexistent_or_reused_pid_is_reported_failed():
    run = runs.create_run("ghost", {})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.set_status("running", pid=dead.pid, pid_start="boot:1")
    assert run.status()["state"] == "failed"
    # A live pid whose start time differs is another process that reused the number.
    run.set_status("running", pid=os.getpid(), pid_start="boot:1")
    assert run.status()["state"] == "failed"
    run.set_status("running", pid=os.getpid(), pid_start=processes.fingerprint(os.getpid()))
    assert run.status()["state"] == "running"


def test_worker_finishing_normally_is_done():
    run = runs.create_run("ok", {})
    code = ("import os; from asdcore import runs; "
            "run = runs.open_run(os.environ['ASD_RUN_DIR']);\n"
            "with run.working(): run.append_progress(step=1, total=1)")
    workers.launch(run, [sys.executable, "-c", code], env=WORKER_ENV)
    _wait_for(lambda: run.raw_status()["state"] == "done")
    assert run.status()["state"] == "done" and run.progress()[0]["step"] == 1


def test_working_records_failure_and_cancel():
    run = runs.create_run("w", {})
    with pytest.raises(RuntimeError):
        with run.working():
            raise RuntimeError("out of memory")
    assert run.status() | {"state": "failed", "error": "out of memory"} == run.status()
    with pytest.raises(Cancelled):
        with run.working():
            raise Cancelled("stop")
    assert run.status()["state"] == "cancelled"


def test_cancel_flag_round_trip_and_cancel_of_a_queued_run():
    run = runs.create_run("c", {})
    assert not run.cancel_requested()
    run.request_cancel()
    assert run.cancel_requested()
    assert workers.cancel(runs.create_run("q", {}), grace_s=0.1)["state"] == "cancelled"


def test_cancel_stops_a_worker_that_ignores_the_flag():
    run = runs.create_run("stubborn", {})
    workers.launch(run, [sys.executable, "-c", "import time; time.sleep(30)"])
    status = workers.cancel(run, grace_s=0.3)
    assert status["state"] == "cancelled"
    assert not processes.matches(status["pid"], status["pid_start"])


def test_cancel_lets_a_polling_worker_stop_itself():
    run = runs.create_run("polite", {})
    code = ("import os, time; from asdcore import runs; from asdcore.errors import Cancelled\n"
            "run = runs.open_run(os.environ['ASD_RUN_DIR'])\n"
            "with run.working():\n"
            "    run.append_progress(message='started')\n"
            "    while not run.cancel_requested(): time.sleep(0.05)\n"
            "    raise Cancelled('stop')\n")
    workers.launch(run, [sys.executable, "-c", code], env=WORKER_ENV)
    _wait_for(lambda: len(run.progress()) == 1)
    status = workers.cancel(run, grace_s=10)
    assert status["state"] == "cancelled" and status["error"] == "cancelled on request"


def _wait_for(condition, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_reopen_requeues_a_stopped_run_and_refuses_a_live_one():
    run = runs.create_run("stopped", _Config())
    run.request_cancel()
    run.set_status("cancelled", error="cancelled on request", pid=123)
    # what an atomic write killed mid-way leaves (a checkpoint's temporary file, say)
    stale = [run.path / ".tmp-checkpoint-x1.pt", run.weights_dir / ".tmp-weights-x2.pt"]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    (run.weights_dir / "weights.pt").write_bytes(b"kept")
    runs.reopen(run)
    assert not any(path.exists() for path in stale)
    assert (run.weights_dir / "weights.pt").read_bytes() == b"kept"
    status = run.raw_status()
    assert status["state"] == "queued" and "pid" not in status and "error" not in status
    assert not run.cancel_requested()  # or the next worker would stop at once
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        run.set_status("running", pid=worker.pid, pid_start=processes.fingerprint(worker.pid))
        with pytest.raises(ASDError, match="still running"):
            runs.reopen(run)
    finally:
        worker.kill()
        worker.wait()


def test_a_dead_worker_without_a_log_points_to_its_terminal():
    worker = subprocess.Popen([sys.executable, "-c", "pass"])
    worker.wait()
    run = runs.create_run("cli-run", _Config())  # a CLI run: no log.txt
    run.set_status("running", pid=worker.pid, pid_start="gone")
    error = run.status()["error"]
    assert "terminal" in error and "log.txt" not in error

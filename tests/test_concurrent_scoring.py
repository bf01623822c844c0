"""Two processes scoring one run with two backends at the same time (two browser tabs, or a tab
and the command line) both keep their results in metrics.json: the update is a read-modify-write
under the run's lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from app_driving import quick_run

from asdcore import pipeline

ROOT = Path(__file__).resolve().parents[1]

# Scores the run with one backend. The metrics update is slowed down where a lost update would
# happen: each process announces it has reached the update and waits for the other to reach it
# too, then, having read metrics.json, gives the other up to 2 s to read it as well before
# writing. Without the lock both read the same old file and the later write drops the other
# backend; with it, the second reader waits for the first writer (the 2 s pass in vain).
SCORER = """
import pathlib, sys, time
from asdcore import pipeline, runs

run_dir, backend, other, meeting = sys.argv[1], sys.argv[2], sys.argv[3], pathlib.Path(sys.argv[4])
read_metrics, add_scoring = runs.Run.metrics, runs.Run.add_scoring

def wait_for(name, timeout_s):
    deadline = time.monotonic() + timeout_s
    while not (meeting / name).exists() and time.monotonic() < deadline:
        time.sleep(0.02)

def arriving(self, *args, **kwargs):
    (meeting / f"arrived-{backend}").touch()
    wait_for(f"arrived-{other}", 120)
    return add_scoring(self, *args, **kwargs)

def slow_read(self):
    metrics = read_metrics(self)
    (meeting / f"read-{backend}").touch()
    wait_for(f"read-{other}", 2)
    return metrics

runs.Run.add_scoring, runs.Run.metrics = arriving, slow_read
pipeline.score_run(runs.open_run(run_dir), backend=backend)
print("scored", backend)
"""


@pytest.mark.slow
def test_two_processes_scoring_one_run_keep_both_backends(tiny_data, tmp_path):
    run = quick_run("shared", tiny_data, machines=("fan",))
    default = run.metrics()["backend"]
    first, second = [b for b in pipeline.backends_for(run.config()["model"]) if b != default][:2]
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    scorers = [subprocess.Popen([sys.executable, "-c", SCORER, str(run.path), mine, theirs,
                                 str(meeting)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
               for mine, theirs in ((first, second), (second, first))]
    for scorer in scorers:
        stdout, stderr = scorer.communicate(timeout=300)
        assert scorer.returncode == 0, stderr[-3000:]
    assert {p.name for p in meeting.iterdir()} == {f"{step}-{b}" for step in ("arrived", "read")
                                                   for b in (first, second)}

    metrics = run.metrics()
    assert set(metrics["by_backend"]) == {default, first, second}
    assert metrics["backend"] in (first, second)  # the later of the two is the latest result
    latest = {k: v for k, v in metrics.items() if k != "by_backend"}
    assert metrics["by_backend"][metrics["backend"]] == latest

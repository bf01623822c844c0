"""The built-in demo's cache folder heals itself: a killed generation's hidden staging folder is
removed by the next generation, a demo whose manifest is missing or damaged, or whose clips are
missing or truncated, is rebuilt by the app; but a folder the generator did not make is never
deleted (the app's cache location included), and the command line keeps refusing foreign
folders."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from asdcore import synth, workspace
from asdcore.errors import ASDError

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")

# Generates a dataset and stops (sleeps ``pause`` s, still holding the lock) once the first
# clips are written: the parent kills it there, or lets it finish.
GENERATOR = """
import sys, time, pathlib
from asdcore import synth, workspace

out, marker, pause = sys.argv[1], pathlib.Path(sys.argv[2]), float(sys.argv[3])

def progress(done, total, message=""):
    if done and not marker.exists():
        marker.write_text("started")
        time.sleep(pause)

if out == "app":
    workspace.ensure_demo(progress=progress)
else:
    synth.generate(out, preset="tiny", seed=0, progress=progress, workers=1)
print("finished")
"""


def start_generator(out: str, tmp_path: Path, pause: float) -> tuple[subprocess.Popen, Path]:
    marker = tmp_path / f"started-{time.monotonic_ns()}"
    proc = subprocess.Popen([sys.executable, "-c", GENERATOR, out, str(marker), str(pause)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the generator never started writing"
        time.sleep(0.05)
    return proc, marker


def killed_generation(out: str, tmp_path: Path) -> None:
    proc, _ = start_generator(out, tmp_path, pause=600)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --- a killed generation ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_generation_leaves_a_staging_folder_that_the_next_one_removes(tmp_path):
    out = tmp_path / "data" / "demo"
    killed_generation(str(out), tmp_path)
    assert not out.exists()
    stale = leftovers(out.parent, "demo")
    assert len(stale) == 1 and stale[0].startswith(".demo.partial-")
    assert any((out.parent / stale[0]).rglob("*.wav"))  # a half-written dataset
    # what a generation killed while retiring an older dataset leaves, and what is not ours
    (out.parent / ".demo.old-abcd1234" / "data").mkdir(parents=True)
    (out.parent / ".demo.partial-notes").mkdir()  # not a name generation makes
    (out.parent / ".other.partial-abcd1234").mkdir()  # another dataset's

    assert synth.generate(out, preset="tiny", seed=0) == out
    assert synth.is_dataset(out, "tiny", 0)
    assert leftovers(out.parent, "demo") == [".demo.partial-notes"]
    assert (out.parent / ".other.partial-abcd1234").is_dir()


@pytest.mark.slow
def test_a_live_generators_staging_folder_is_left_alone(tmp_path):
    """A second generation waits for the lock instead of removing the first one's work."""
    out = tmp_path / "demo"
    proc, _ = start_generator(str(out), tmp_path, pause=2.0)
    assert leftovers(tmp_path, "demo")  # the first generator's staging folder
    assert synth.generate(out, preset="tiny", seed=0) == out  # waits, then finds it done
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "finished" in stdout, stderr[-3000:]
    assert synth.is_dataset(out, "tiny", 0)
    assert leftovers(tmp_path, "demo") == []


@pytest.mark.slow
def test_the_app_cleans_up_after_a_demo_generation_killed_on_first_start(fresh_app):
    demo = workspace.demo_dataset_path()
    killed_generation("app", fresh_app)
    assert not demo.exists() and leftovers(demo.parent, demo.name)
    at = run_app()
    assert next(m.value for m in at.metric if m.label == "Machine types") == "7"
    assert workspace.demo_ready()
    assert leftovers(demo.parent, demo.name) == []


# --- a damaged demo is rebuilt by the app -------------------------------------------------------


def damage_manifest(demo: Path, how: str) -> None:
    manifest = demo / synth.MANIFEST_NAME
    if how == "missing":
        manifest.unlink()
    elif how == "truncated":
        manifest.write_bytes(manifest.read_bytes()[:40])
    elif how == "incomplete":
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "complete": False}))
    else:  # another preset's manifest on this folder
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "preset": "demo"}))


@pytest.mark.parametrize("how", ["missing", "truncated"])
@pytest.mark.slow
def test_the_app_rebuilds_a_demo_whose_manifest_is_missing_or_damaged(fresh_app, how):
    demo = workspace.ensure_demo()
    clip = next((demo / "dev_data" / "raw" / "fan" / "train").glob("*.wav"))
    before = digest(clip)
    damage_manifest(demo, how)
    clip.unlink()  # the rebuilt demo is whole again
    assert not workspace.demo_ready()

    at = run_app()
    assert next(m.value for m in at.metric if m.label == "Machine types") == "7"
    assert any("No problems" in s.value for s in at.success)
    assert workspace.demo_ready()
    assert synth.read_manifest(demo)["preset"] == "tiny"
    assert digest(clip) == before  # the same deterministic dataset
    assert leftovers(demo.parent, demo.name) == []


@pytest.mark.slow
def test_a_demo_whose_manifest_is_incomplete_or_of_another_preset_is_rebuilt(fresh_app):
    demo = workspace.ensure_demo()
    for how in ("incomplete", "other preset"):
        damage_manifest(demo, how)
        assert not workspace.demo_ready()
        assert workspace.ensure_demo() == demo
        assert workspace.demo_ready() and synth.read_manifest(demo)["preset"] == "tiny"


@pytest.mark.slow
def test_a_demo_with_missing_or_truncated_clips_is_rebuilt(fresh_app):
    demo = workspace.ensure_demo()
    raw = demo / "dev_data" / "raw"
    clips = sorted((raw / "valve" / "test").glob("*.wav"))[:3]
    before = {clip: digest(clip) for clip in clips}
    clips[0].write_bytes(clips[0].read_bytes()[:1000])  # truncated
    clips[1].unlink()
    clips[2].write_bytes(b"RIFF garbage")  # replaced by something else
    assert synth.damaged_clips(demo) == [str(c.relative_to(raw)) for c in clips]
    assert not workspace.demo_ready()
    run_app()
    assert {clip: digest(clip) for clip in clips} == before and workspace.demo_ready()
    # the command line's `demo OUT` repairs its own dataset the same way (its manifest is ours)
    copy = fresh_app / "copy"
    shutil.copytree(demo, copy)
    (copy / clips[1].relative_to(demo)).unlink()
    assert synth.generate(copy, preset="tiny", seed=0) == copy
    assert digest(copy / clips[1].relative_to(demo)) == before[clips[1]]


def test_a_whole_demo_is_checked_by_size_only_and_quickly(fresh_app):
    demo = workspace.ensure_demo()
    manifest = synth.read_manifest(demo)
    assert set(manifest["clip_bytes"]) == set(synth.MACHINES)
    assert all(isinstance(size, int) and size > 44 for size in manifest["clip_bytes"].values())
    start = time.perf_counter()
    assert workspace.demo_ready()
    assert time.perf_counter() - start < 0.5


# --- never delete a folder the generator did not make ------------------------------------------


def test_the_app_refuses_to_rebuild_a_folder_with_foreign_files(fresh_app):
    demo = workspace.ensure_demo()
    (demo / synth.MANIFEST_NAME).unlink()
    (demo / "my notes.txt").write_text("precious")
    with pytest.raises(ASDError, match="did not write"):
        workspace.ensure_demo()
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert any("did not write" in e.value for e in at.error)
    assert (demo / "my notes.txt").read_text() == "precious"
    assert any((demo / "dev_data").rglob("*.wav"))


@pytest.mark.parametrize("stray", ["dev_data/raw/lathe/train/x.wav", "dev_data/eval_data.txt"])
@pytest.mark.slow
def test_stray_files_deeper_in_the_tree_also_stop_a_rebuild(fresh_app, stray):
    demo = workspace.ensure_demo()
    (demo / synth.MANIFEST_NAME).write_text("{")
    (demo / stray).parent.mkdir(parents=True, exist_ok=True)
    (demo / stray).write_text("mine")
    with pytest.raises(ASDError, match="did not write"):
        workspace.ensure_demo()
    assert (demo / stray).read_text() == "mine"


def test_the_app_does_not_follow_a_symlink_in_its_demo_location(fresh_app, tiny_data):
    mine = fresh_app / "mine"
    shutil.copytree(tiny_data, mine)
    (mine / synth.MANIFEST_NAME).unlink()
    demo = workspace.demo_dataset_path()
    demo.parent.mkdir(parents=True)
    demo.symlink_to(mine, target_is_directory=True)
    with pytest.raises(ASDError, match="did not write"):
        workspace.ensure_demo()
    assert any(mine.rglob("*.wav")) and demo.is_symlink()


def test_generate_outside_the_app_still_refuses_a_demo_shaped_folder_without_manifest(
        tiny_data, tmp_path):
    """Real DCASE data has the demo's very layout and names: without a manifest, a folder given
    to `synth.generate` or `demo OUT` is never replaced, however much it looks like a demo."""
    for how in ("missing", "truncated"):
        mine = tmp_path / how
        shutil.copytree(tiny_data, mine)
        damage_manifest(mine, how)
        before = sorted(p.relative_to(mine) for p in mine.rglob("*"))
        with pytest.raises(ASDError, match="choose an empty or new folder"):
            synth.generate(mine, preset="tiny", seed=0)
        result = subprocess.run([sys.executable, "-m", "asdcore", "demo", str(mine),
                                 "--preset", "tiny"], cwd=ROOT, capture_output=True, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert sorted(p.relative_to(mine) for p in mine.rglob("*")) == before

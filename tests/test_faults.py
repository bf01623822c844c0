"""Faults end to end, as a user meets them: real processes killed with real signals, real
damaged files, a real hour-long recording, a real "file too large" (EFBIG) from a file-size
limit; a monkeypatched ENOSPC only where no real one can be made. Each test checks what the
user sees (exit status, one-sentence error, run status, page messages) and that no data is
lost. Unit-level versions of some of these live beside their modules (test_runs.py,
test_label_store.py, test_features.py, test_dataset.py, test_audio.py)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pathlib
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from app_driving import click, select_on_pseudo_label_map
from audio_files import PEAK_MEMORY_PRELUDE, write_long
from streamlit.testing.v1 import AppTest

from asdcore import checksum, dataset, pipeline, projection, results, runs
from asdcore import cli as asd_cli
from asdcore.errors import ASDError
from asdcore.labels import LabelStore

ROOT = Path(__file__).resolve().parents[1]
TRAINING_PAGE = str(ROOT / "pages" / "3_Training.py")
PSEUDO_LABELS_PAGE = str(ROOT / "pages" / "2_Pseudo-labels.py")
SPECTRA_PAGE = str(ROOT / "pages" / "1_Spectra.py")
SR = 16000


def cli(*args, limit_bytes: int | None = None, timeout: float = 300):
    """``python -m asdcore ARGS`` in a fresh process (optionally under a file-size limit, so
    a write past it fails with a real EFBIG: Python ignores SIGXFSZ)."""
    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return subprocess.run([sys.executable, "-m", "asdcore", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout, check=False,
                          preexec_fn=limit_file_size if limit_bytes is not None else None)


def listed(name: str) -> dict:
    """The run's row of ``runs --json``, as a user reads it."""
    result = cli("runs", "--json")
    assert result.returncode == 0, result.stderr
    return next(row for row in json.loads(result.stdout) if row["name"] == name)


def one_error_line(result) -> str:
    """The failed command's stderr: no traceback, and its last line the one-sentence error."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and line.endswith("."), result.stderr
    return line


def wait_for(condition, timeout_s: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what} not met in {timeout_s} s"
        time.sleep(0.05)
    return value


def epochs_in(events: list[dict]) -> list[int]:
    return [e["epoch"] for e in events if e.get("epoch") is not None]


def assert_run_files_readable(run: runs.Run) -> None:
    """config.json and status.json parse; every progress line but a torn last one parses."""
    json.loads(run.config_path.read_text())
    json.loads(run.status_path.read_text())
    lines = run.progress_path.read_text().splitlines()
    for line in lines[:-1]:
        json.loads(line)
    assert len(run.progress()) >= len(lines) - 1
    assert isinstance(run.log_tail(), str)


def copy_machines(tiny_data: Path, out: Path, machines=("fan",)) -> Path:
    raw = out / "dev_data" / "raw"
    for machine in machines:
        shutil.copytree(tiny_data / "dev_data" / "raw" / machine, raw / machine)
    return out


def snapshot(folder: Path, skip=()) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")
            and not any(str(p.relative_to(folder)).startswith(s) for s in skip)}


# --- 1. a training process killed with SIGKILL ------------------------------------------------

@pytest.mark.slow
def test_a_sigkilled_training_worker_is_shown_failed_with_readable_files_and_resumes(
        isolated, tiny_data, capsys):
    """The Training page's detached worker (seed model, checkpointed every epoch) is killed
    mid-training; the run reads failed everywhere, its files stay readable, a second worker
    is refused while the first lives, and `train --resume` continues from the checkpoint to
    a finished, scored run."""
    config = pipeline.TrainConfig(data=str(tiny_data), model="seresnet18", device="cpu",
                                  machines=["fan", "valve"], model_config={"epochs": 5, "seed": 0})
    run = pipeline.queue_run("killed-seed", config)
    pid = pipeline.launch_work(run)
    try:
        wait_for(lambda: epochs_in(run.progress()), what="a first training epoch")
        # A second worker on the same run is refused while the first is alive.
        assert asd_cli.main(["train", str(tiny_data), "--run", run.name, "--resume"]) == 2
        assert "still running" in capsys.readouterr().err
        wait_for(lambda: max(epochs_in(run.progress()), default=0) >= 2,
                 what="a second epoch (the first one checkpointed)")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # the worker leads its own process group
    killed_at = len(run.progress())
    wait_for(lambda: run.status()["state"] == "failed", 10, "the run to read failed")

    row = listed(run.name)
    assert row["status"] == "failed"
    assert f"pid {pid}" in row["error"] and "ended without reporting" in row["error"]
    assert_run_files_readable(run)
    assert (run.path / "checkpoint.pt").is_file()
    at = AppTest.from_file(TRAINING_PAGE, default_timeout=60).run()
    assert not at.exception
    assert any(f"{run.name} failed" in e.value and "ended without reporting" in e.value
               for e in at.error)
    assert at.code  # the log (possibly empty) is shown with it

    resumed = cli("train", tiny_data, "--run", run.name, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    after = epochs_in(run.progress()[killed_at:])
    assert after and min(after) >= 2 and max(after) == 5  # continued, not started over
    scored = cli("score", run.name)
    assert scored.returncode == 0, scored.stderr
    row = listed(run.name)
    assert row["status"] == "done" and row["error"] is None
    assert row["official_score"] is not None


@pytest.mark.slow
def test_a_sigkilled_cli_training_is_failed_and_can_be_retrained(tiny_data):
    """``python -m asdcore train`` killed in the middle of an autoencoder's epochs."""
    args = ["train", tiny_data, "--run", "killed-ae", "--model", "ae", "--epochs", "200",
            "--machine", "fan"]
    process = subprocess.Popen([sys.executable, "-m", "asdcore", *map(str, args)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = runs.Run(runs.run_path("killed-ae"))
    try:
        wait_for(lambda: run.progress_path.is_file() and epochs_in(run.progress()),
                 what="a training epoch")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    row = listed("killed-ae")
    assert row["status"] == "failed" and "ended without reporting" in row["error"]
    assert runs.open_run("killed-ae").status()["state"] == "failed"
    assert_run_files_readable(run)

    again = cli("train", tiny_data, "--run", "killed-ae", "--resume")
    assert again.returncode == 0, again.stderr
    assert [p.name for p in run.weights_dir.iterdir()] == ["fan"]
    assert listed("killed-ae")["status"] == "done"


# --- 2. two browser tabs editing the same labels -----------------------------------------------

def test_two_tabs_relabelling_different_clips_both_keep_their_edits(isolated, tiny_data):
    clips = dataset.scan(tiny_data).clips
    train = clips[(clips["machine"] == "ToyTrain") & (clips["split"] == "train")]
    ids, files = train["clip_id"].tolist(), train["file"].tolist()
    store = LabelStore.open(tiny_data, "ToyTrain")
    store.apply({f: "c0" for f in files}, "cluster")
    first, second = (AppTest.from_file(PSEUDO_LABELS_PAGE, default_timeout=120).run()
                     for _ in range(2))

    # Both tabs have an edit pending in the label table before either applies it.
    version = store.state()["version"]
    for at, row in ((first, 6), (second, 7)):
        at.session_state[f"pl_editor_ToyTrain_{version}"] = {
            "edited_rows": {row: {"label": f"row{row}"}}, "added_rows": [], "deleted_rows": []}
        at.run()
    click(first, "Apply table edits")
    click(second, "Apply table edits")  # its page was drawn before the first tab's write

    # Each relabels a selection on the map; the second selects before the first writes, so
    # its map is stale when its click arrives (and a redrawn map loses its selection). (A
    # selection drawn on a map that another tab has recoloured since is dropped by that very
    # rerun, which shows the new map: the first tab is redrawn before its user selects.)
    first.run()
    select_on_pseudo_label_map(first, "ToyTrain", ids[:3])
    select_on_pseudo_label_map(second, "ToyTrain", ids[3:5])
    for at, label in ((first, "fast"), (second, "slow")):
        at.selectbox(key="pl_relabel_to").set_value("a new label...").run()
        at.text_input(key="pl_new_label").input(label).run()
    click(first, "Relabel 3 clip(s)")
    click(second, "Relabel 2 clip(s)")

    labels = store.labels()
    assert [labels[f] for f in files[:5]] == ["fast"] * 3 + ["slow"] * 2
    assert (labels[files[6]], labels[files[7]]) == ("row6", "row7")
    assert all(labels[f] == "c0" for f in files[8:])
    notes = [c["note"] for c in store.history()]
    assert notes[1:] == ["edited in the label table"] * 2 + ["relabelled as fast",
                                                             "relabelled as slow"]
    changed = [sorted(item["file"] for item in c["changes"]) for c in store.history()[1:]]
    assert changed == [[files[6]], [files[7]], sorted(files[:3]), sorted(files[3:5])]


def test_another_tabs_edits_survive_a_clustering_save_and_are_not_undone_unseen(isolated,
                                                                               tiny_data):
    files = dataset.scan(tiny_data).clips.query(
        "machine == 'ToyTrain' and split == 'train'")["file"].tolist()
    store = LabelStore.open(tiny_data, "ToyTrain")
    first = AppTest.from_file(PSEUDO_LABELS_PAGE, default_timeout=120).run()
    click(first, "Run clustering")  # computed, not saved yet
    store.apply({files[0]: "by-ear"}, "manual", note="another tab")
    click(first, "Save these labels")
    assert store.labels()[files[0]] == "by-ear"
    assert len(store.labels()) == len(files)
    assert store.history()[-1]["kept_newer"] == [files[0]]
    assert any("kept their newer labels" in m.value for m in first.success)

    # This tab now shows the clustering as the change Undo reverts; another change arrives.
    store.apply({files[1]: "by-ear"}, "manual", note="another tab")
    click(first, "Undo the last change")
    assert store.labels()[files[1]] == "by-ear"  # nothing was undone unseen...
    assert any("Nothing was undone" in w.value for w in first.warning)
    click(first, "Undo the last change")  # ...the page now shows the new change: undo it
    assert files[1] not in store.labels() or store.labels()[files[1]] != "by-ear"
    assert store.history()[-1]["undoes"] == len(store.history()) - 1


# --- 3. a crash in the middle of a label write -------------------------------------------------

N_LABELLED = 2000
KILLS = 4
WRITER = """
import sys
from asdcore.labels.store import LabelStore
store = LabelStore(sys.argv[1])
files = [f"m/train/clip_{i:05d}.wav" for i in range(int(sys.argv[2]))]
print("ready", flush=True)
while True:
    number = store.state()["version"] + 1
    store.apply({f: f"v{number}" for f in files}, "manual", note=f"writer {number}")
"""


def _replayed(store: LabelStore) -> dict[str, str]:
    labels: dict[str, str] = {}
    history = store.history()
    assert [c["change_set"] for c in history] == list(range(1, len(history) + 1))
    for change_set in history:
        for item in change_set["changes"]:
            if item["new"] is None:
                labels.pop(item["file"], None)
            else:
                labels[item["file"]] = item["new"]
    return labels


@pytest.mark.slow
def test_label_writes_killed_at_random_moments_leave_a_whole_state_and_no_stuck_lock(tmp_path):
    folder = tmp_path / "data" / "m"
    folder.mkdir(parents=True)
    store = LabelStore(folder)
    files = [f"m/train/clip_{i:05d}.wav" for i in range(N_LABELLED)]
    rng = random.Random(7)
    versions = [0]
    for attempt in range(KILLS):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(folder), str(N_LABELLED)],
                                  cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.1, 0.6))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()

        state = store.state()  # parses: never a half-written file
        labels = store.labels()
        assert len(labels) == N_LABELLED and len(set(labels.values())) == 1
        assert labels == _replayed(store)  # labels and committed history agree
        assert state["version"] >= versions[-1]  # the same or a later state, never older
        versions.append(state["version"])

        # The dead writer's lock is not stuck: another writer gets through at once.
        done = threading.Event()

        def probe(attempt=attempt, done=done):
            store.apply({f: f"probe{attempt}" for f in files}, "manual", note="probe")
            done.set()
        threading.Thread(target=probe, daemon=True).start()
        assert done.wait(20), "the label store's lock stayed taken after the writer died"
        assert set(store.labels().values()) == {f"probe{attempt}"}
        versions.append(store.state()["version"])
    assert versions[-1] > 2 * KILLS  # the writers did commit between kills


# --- 4. corrupt cache entries --------------------------------------------------------------------

DAMAGES = {
    "truncated": lambda data: data[:len(data) // 2],
    "bit-flipped": lambda data: data[:100] + bytes([data[100] ^ 0x04]) + data[101:],
    "garbage": lambda data: bytes(random.Random(1).getrandbits(8) for _ in range(len(data))),
    "empty": lambda data: b"",
}


@pytest.mark.parametrize("damage", [*DAMAGES, "wrong-array"])
def test_a_damaged_map_cache_entry_is_detected_and_rebuilt(damage, tmp_path, monkeypatch):
    monkeypatch.setenv("ASD_CACHE_DIR", str(tmp_path / "cache"))  # other tests share the cache
    vectors = np.random.default_rng(0).normal(size=(40, 16)).astype(np.float32)
    points = projection.project(vectors, "pca")
    path = projection.cache_path(vectors, "pca")
    if damage == "wrong-array":  # well sealed, but not this map's size
        path.write_bytes(checksum.seal(np.zeros((3, 5), dtype=np.float32).tobytes()))
    else:
        path.write_bytes(DAMAGES[damage](path.read_bytes()))
    again = projection.project(vectors, "pca")
    np.testing.assert_array_equal(again, points)
    rewritten = checksum.unseal(path.read_bytes())  # the entry was rewritten whole
    np.testing.assert_array_equal(np.frombuffer(rewritten, dtype=np.float32).reshape(-1, 2),
                                  points)


def test_damaged_saved_embeddings_are_reported_then_rebuilt_by_scoring(tiny_data):
    config = pipeline.TrainConfig(data=str(tiny_data), model="logmel-stats", machines=["fan"])
    run = pipeline.queue_run("embedded", config)
    with run.working():
        pipeline.train_run(run)
    first = pipeline.score_run(run, backend="knn")
    path = run.embeddings_dir / "fan.npz"
    good = path.read_bytes()
    clips = dataset.scan(tiny_data).clips
    for name, damage in DAMAGES.items():
        path.write_bytes(damage(good))
        with pytest.raises(ASDError, match="damaged.*score the run again"):
            results.embedding_table(run, "fan", clips)  # what the Embeddings page shows
        again = pipeline.score_run(run, backend="knn")
        assert again["official_score"] == pytest.approx(first["official_score"]), name
        vectors, table = results.embedding_table(run, "fan", clips)
        assert len(vectors) == len(table) == (clips["machine"] == "fan").sum()


@pytest.mark.slow
def test_a_damaged_checkpoint_is_a_clear_error_and_the_run_reads_failed(tiny_data):
    config = pipeline.TrainConfig(data=str(tiny_data), model="seresnet18", device="cpu",
                                  machines=["fan"], model_config={"epochs": 1})
    run = pipeline.queue_run("bad-checkpoint", config)
    (run.path / "checkpoint.pt").write_bytes(b"PK\x03\x04 not really a zip")
    result = cli("train", tiny_data, "--run", run.name, "--resume")
    line = one_error_line(result)
    assert "checkpoint.pt" in line and "delete it" in line
    row = listed(run.name)
    assert row["status"] == "failed" and "checkpoint.pt" in row["error"]


# --- 5. a dataset with broken files ------------------------------------------------------------

@pytest.mark.slow
def test_a_dataset_with_broken_files_lists_them_and_the_rest_trains_scores_and_evaluates(
        tiny_data, tmp_path):
    data = copy_machines(tiny_data, tmp_path / "broken", ("fan", "valve"))
    fan = data / "dev_data" / "raw" / "fan"
    good = sorted((fan / "train").glob("*.wav"))
    y, _ = sf.read(good[0], dtype="float32")
    broken = {
        "train/section_00_source_train_normal_0900_m-n_W_spd_20.wav": b"",
        "train/section_00_source_train_normal_0901_m-n_W_spd_20.wav": good[1].read_bytes()[:3000],
        "train/section_00_source_train_normal_0902_m-n_W_spd_20.wav": b"this is not audio\n" * 20,
    }
    for name, data_bytes in broken.items():
        (fan / name).write_bytes(data_bytes)
    victim = min((fan / "test").glob("*.wav"))  # an existing test clip, cut short
    victim.write_bytes(victim.read_bytes()[:2000])
    broken[f"test/{victim.name}"] = None
    # Stereo and 44.1 kHz clips are usable (channel 0, resampled): not problems.
    sf.write(fan / "train/section_00_source_train_normal_0910_m-n_W_spd_20.wav",
             np.stack([y, 0.5 * y], axis=1), SR)
    sf.write(fan / "train/section_00_source_train_normal_0911_m-n_W_spd_20.wav",
             np.interp(np.arange(int(len(y) * 44100 / SR)) * SR / 44100, np.arange(len(y)), y),
             44100)

    info = cli("info", data, "--json")
    assert info.returncode == 0, info.stderr
    report = json.loads(info.stdout)
    problems = {p["file"]: p["reason"] for p in report["problems"]}
    assert set(problems) == {f"dev_data/raw/fan/{name}" for name in broken}
    empty = "dev_data/raw/fan/train/section_00_source_train_normal_0900_m-n_W_spd_20.wav"
    assert "empty" in problems[empty]
    assert "truncated" in problems[f"dev_data/raw/fan/test/{victim.name}"]
    fan_info = next(m for m in report["machines"] if m["name"] == "fan")
    assert fan_info["n_train"] == len(good) + 2  # the stereo and 44.1 kHz clips count

    trained = cli("train", data, "--run", "broken-data", "--model", "logmel-stats")
    assert trained.returncode == 0, trained.stderr
    assert "skipped 3 unusable file(s)" in trained.stderr
    for name in broken:
        assert (name in trained.stderr) == name.startswith("train/"), name
    scored = cli("score", "broken-data", "--backend", "knn")
    assert scored.returncode == 0, scored.stderr
    # Scoring uses the training clips as references too: every broken file is named.
    assert "skipped 4 unusable file(s)" in scored.stderr
    assert all(Path(name).name in scored.stderr for name in broken)
    official = float(scored.stdout.split("official_score")[-1])
    scores = pipeline.read_scores(runs.open_run("broken-data"), "knn")
    assert victim.name not in set(scores["file"].map(lambda f: Path(f).name))
    assert np.isfinite(scores["score"]).all()
    assert len(scores) == len(list((fan / "test").glob("*.wav"))) - 1 + \
        len(list((data / "dev_data/raw/valve/test").glob("*.wav")))

    evaluated = cli("evaluate", runs.open_run("broken-data").submission_dir, data)
    assert evaluated.returncode == 0, evaluated.stderr
    assert float(evaluated.stdout.split()[-1]) == pytest.approx(official, abs=1e-4)
    assert listed("broken-data")["status"] == "done"


# --- 6. an hour-long clip ------------------------------------------------------------------------

HOUR_S = 3600
MEMORY_DRIVER = PEAK_MEMORY_PRELUDE + """
import json, sys
import ui
from asdcore import audio, dsp
from asdcore.cli import main
from asdcore.labels import suggest_band

def spectra_page(path):  # what pages/1_Spectra.py computes for the clip it inspects
    y = ui.load_audio(path)
    dsp.welch_spectrum(y, audio.SAMPLE_RATE)
    dsp.envelope_spectrum(y, audio.SAMPLE_RATE, (1000.0, 3000.0), fmax=1251.0)
    dsp.kurtogram(y, audio.SAMPLE_RATE)
    dsp.bandpass(y, audio.SAMPLE_RATE, 1000.0, 3000.0)
    ui.model_logmel(path)
    suggest_band([path])
    return len(y)

def train_and_score():
    return (main(["train", data, "--run", "long", "--model", "logmel-stats"]),
            main(["score", "long", "--backend", "knn"]))

long_path, short_path, data = sys.argv[1:]
main(["train", data, "--run", "warm-up", "--model", "logmel-stats", "--machine", "valve"])
(train_rc, score_rc), pipeline_mb = extra_mb(train_and_score)
spectra_page(short_path)  # imports and first-call allocations
samples, spectra_mb = extra_mb(lambda: spectra_page(long_path))
print(json.dumps({"train_rc": train_rc, "score_rc": score_rc, "pipeline_extra_mb": pipeline_mb,
                  "samples": samples, "spectra_extra_mb": spectra_mb}))
"""


@pytest.mark.slow
def test_an_hour_long_clip_is_read_only_as_far_as_needed_in_bounded_memory(
        isolated, tiny_data, tmp_path):
    from asdcore import workspace

    data = copy_machines(tiny_data, tmp_path / "long", ("fan", "valve"))
    fan = data / "dev_data" / "raw" / "fan"
    like = min((fan / "train").glob("*.wav"))
    hour = fan / "train" / "section_00_source_train_normal_0999_m-n_W_spd_20.wav"
    write_long(hour, like, HOUR_S)
    hour_test = fan / "test" / "section_00_source_test_normal_0999_m-n_W_spd_20.wav"
    os.link(hour, hour_test)
    assert hour.stat().st_size > 100e6

    info = cli("info", data, "--json")
    assert info.returncode == 0, info.stderr
    report = json.loads(info.stdout)
    assert report["problems"] == []
    fan_info = next(m for m in report["machines"] if m["name"] == "fan")
    assert fan_info["durations"]["max"] == pytest.approx(HOUR_S)

    driver = subprocess.run([sys.executable, "-c", MEMORY_DRIVER, str(hour), str(like),
                             str(data)], capture_output=True, text=True, cwd=ROOT, timeout=300,
                            check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert driver.returncode == 0, driver.stderr[-3000:]
    measured = json.loads(driver.stdout.strip().splitlines()[-1])
    assert measured["samples"] == 60 * SR  # the pages look at the first minute only
    assert measured["spectra_extra_mb"] < 300, measured
    assert measured["train_rc"] == measured["score_rc"] == 0, driver.stderr[-3000:]
    assert measured["pipeline_extra_mb"] < 300, measured
    scores = pipeline.read_scores(runs.open_run("long"), "knn")
    assert np.isfinite(scores.loc[scores["file"].str.endswith(hour_test.name), "score"]).all()

    # The Spectra page inspects the hour-long clip and says it shows its first minute.
    workspace.choose_dataset(data)
    clip_id = f"dev_data/raw/fan/train/{hour.name}"
    at = AppTest.from_file(SPECTRA_PAGE, default_timeout=120)
    at.session_state["spectra_machine"] = "fan"
    at.session_state["spectra_clips_fan"] = [clip_id]
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("the first 60 s of a 3600 s recording" in c.value for c in at.caption)
    assert any(m.label == "Characteristic frequency" for m in at.metric)


# --- 7. a full disk while a run is written -------------------------------------------------------

FILE_LIMIT = 32 * 1024  # status and progress fit; weights and embeddings do not


@pytest.mark.slow
def test_a_full_disk_while_writing_a_run_is_one_clear_error_and_damages_nothing(tiny_data):
    store = LabelStore.open(tiny_data, "ToyTrain")
    store.apply({"ToyTrain/train/a.wav": "c0", "ToyTrain/train/b.wav": "c1"}, "cluster")
    ae = pipeline.queue_run("good-ae", pipeline.TrainConfig(
        data=str(tiny_data), model="ae", machines=["fan"], model_config={"epochs": 1}))
    stats = pipeline.queue_run("stats", pipeline.TrainConfig(
        data=str(tiny_data), model="logmel-stats", machines=["fan"]))
    for run in (ae, stats):
        with run.working():
            pipeline.train_run(run)
    pipeline.score_run(ae, backend="mse")
    workspace = runs.runs_dir().parent
    before = snapshot(workspace)

    # Retraining writes new weights: the write fails part-way.
    retrained = cli("train", tiny_data, "--run", "good-ae", "--resume", limit_bytes=FILE_LIMIT)
    line = one_error_line(retrained)
    assert "disk is full" in line and str(ae.weights_dir / "fan" / "weights.pt") in line
    row = listed("good-ae")
    assert row["status"] == "failed" and "disk is full" in row["error"]

    # Scoring writes embeddings: the write fails part-way.
    scored = cli("score", "stats", "--backend", "knn", limit_bytes=FILE_LIMIT)
    line = one_error_line(scored)
    assert "disk is full" in line and str(stats.embeddings_dir / "fan.npz") in line
    assert listed("stats")["status"] == "done"  # its training stands

    # Nothing but the failed run's status and progress changed; no half-written file anywhere.
    after = snapshot(workspace)
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    assert changed == {"runs/good-ae/status.json", "runs/good-ae/progress.jsonl"}
    assert not [p for p in workspace.rglob(".tmp-*")]
    from asdcore.models.autoencoder import AutoencoderDetector
    AutoencoderDetector.load(ae.weights_dir / "fan")  # the previous weights still load
    assert store.labels() == {"ToyTrain/train/a.wav": "c0", "ToyTrain/train/b.wav": "c1"}

    # With room again, the same commands work.
    assert cli("train", tiny_data, "--run", "good-ae", "--resume").returncode == 0
    assert listed("good-ae")["status"] == "done"


def test_a_full_disk_during_a_relabel_on_the_page_keeps_the_labels(isolated, tiny_data,
                                                                   monkeypatch):
    """ENOSPC cannot be made for real without a small file system: the write is patched."""
    clips = dataset.scan(tiny_data).clips
    train = clips[(clips["machine"] == "ToyTrain") & (clips["split"] == "train")]
    store = LabelStore.open(tiny_data, "ToyTrain")
    store.apply({f: "c0" for f in train["file"]}, "cluster")
    saved = store.labels_path.read_bytes()
    at = AppTest.from_file(PSEUDO_LABELS_PAGE, default_timeout=120).run()
    select_on_pseudo_label_map(at, "ToyTrain", train["clip_id"].tolist()[:2])
    at.selectbox(key="pl_relabel_to").set_value("a new label...").run()
    at.text_input(key="pl_new_label").input("fast").run()

    real_write = pathlib.Path.write_bytes

    def full_disk(self, data):
        if self.name.startswith(".tmp-labels"):
            real_write(self, data[:len(data) // 3])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(self, data)
    with monkeypatch.context() as patched:
        patched.setattr(pathlib.Path, "write_bytes", full_disk)
        click(at, "Relabel 2 clip(s)")
    assert any("disk is full" in e.value and "labels.json" in e.value for e in at.error)
    assert store.labels_path.read_bytes() == saved
    assert [c["source"] for c in store.history()] == ["cluster"]
    assert not list(store.path.glob(".tmp-*"))

    click(at, "Relabel 2 clip(s)")  # with room again
    assert [c["change_set"] for c in store.history()] == [1, 2]
    assert sum(label == "fast" for label in store.labels().values()) == 2

"""The label store: history, undo, CSV round trip, two writers at once, a crash mid-write,
names that must not escape the workspace."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from asdcore import atomic
from asdcore.errors import ASDError
from asdcore.labels import LabelStore, labels_for_training, read_label_csv, write_label_csv
from asdcore.labels import store as store_module


def make_machine(root: Path, machine: str = "bearing") -> Path:
    """A minimal DCASE layout: ``root/dev_data/raw/<machine>/train``."""
    folder = root / "dev_data" / "raw" / machine
    (folder / "train").mkdir(parents=True)
    return folder


def clip(i: int, machine: str = "bearing") -> str:
    return f"{machine}/train/section_00_source_train_normal_{i:04d}_noAttribute.wav"


@pytest.fixture
def store(tmp_path) -> LabelStore:
    return LabelStore(make_machine(tmp_path / "data"))


def test_labels_history_and_undo(store):
    assert store.labels() == {} and store.history() == [] and store.undo() is None
    first = store.apply({clip(0): "c0", clip(1): "c1"}, "cluster", params={"k": 2})
    assert first["change_set"] == 1 and len(first["changes"]) == 2
    assert store.apply({clip(0): "c0"}, "cluster") is None  # no change, no change set
    store.apply({clip(1): "c0", clip(2): "fast"}, "manual", note="by ear")
    assert store.labels() == {clip(0): "c0", clip(1): "c0", clip(2): "fast"}
    assert store.entries()[clip(2)]["source"] == "manual"

    history = store.history()
    assert [c["source"] for c in history] == ["cluster", "manual"]
    assert history[1]["changes"][0] == {"file": clip(1), "old": "c1", "new": "c0"}
    assert history[1]["note"] == "by ear" and history[0]["params"] == {"k": 2}

    undone = store.undo()
    assert undone["undoes"] == 2 and undone["source"] == "undo"
    assert store.labels() == {clip(0): "c0", clip(1): "c1"}
    store.undo()
    assert store.labels() == {}
    assert store.undo() is None
    assert len(store.history()) == 4  # append-only: the undos are change sets too


def test_a_result_computed_earlier_keeps_labels_set_since(store):
    store.apply({clip(0): "c0", clip(1): "c0"}, "cluster")
    base = store.state()["version"]  # a clustering starts from here...
    store.apply({clip(1): "fast"}, "manual", note="another tab")  # ...another tab edits...
    saved = store.apply({clip(0): "k1", clip(1): "k1", clip(2): "k2"}, "cluster",
                        unless_changed_since=base)  # ...then the clustering is saved
    assert store.labels() == {clip(0): "k1", clip(1): "fast", clip(2): "k2"}
    assert saved["kept_newer"] == [clip(1)]
    assert sorted(item["file"] for item in saved["changes"]) == [clip(0), clip(2)]
    assert "kept_newer" not in store.apply({clip(3): "k2"}, "cluster",
                                           unless_changed_since=store.state()["version"])


def test_undo_refuses_when_the_last_change_is_not_the_one_shown(store):
    store.apply({clip(0): "a"}, "cluster")
    shown = store.undo_target()["change_set"]  # this tab shows change set 1 as undoable
    store.apply({clip(0): "b"}, "manual")  # another tab changes the labels
    with pytest.raises(ASDError, match="Nothing was undone.*change set 2"):
        store.undo(expected=shown)
    assert store.labels() == {clip(0): "b"} and len(store.history()) == 2
    assert store.undo(expected=store.undo_target()["change_set"])["undoes"] == 2
    assert store.labels() == {clip(0): "a"}
    assert store.undo_target()["change_set"] == 1


def test_removal_and_extra_facts_survive_undo(store):
    store.apply({clip(0): "cf55Hz"}, "envelope", extra={clip(0): {"frequency_hz": 54.9}})
    store.apply({clip(0): None}, "manual")
    assert store.labels() == {}
    store.undo()
    assert store.entries()[clip(0)]["extra"] == {"frequency_hz": 54.9}


def test_export_and_read_csv_round_trip(store, tmp_path):
    labels = {clip(1): "c1", clip(0): "c0"}
    store.apply(labels, "cluster")
    path = store.export_csv(tmp_path / "out" / "labels.csv")
    assert path.read_text().splitlines() == ["file,label", f"{clip(0)},c0", f"{clip(1)},c1"]
    assert read_label_csv(path) == labels
    write_label_csv(path, labels, {"frequency_hz": {clip(0): 55.0}})
    assert read_label_csv(path) == labels  # extra columns are ignored


@pytest.mark.parametrize("text, message", [
    ("name,label\na.wav,c0\n", "header"),
    ("file,label\n,c0\n", "row 2: the file is empty"),
    ("file,label\na.wav,../x\n", "row 2: Invalid label"),
    ("file,label\na.wav,c0\na.wav,c1\n", "row 3: a.wav has two labels"),
    ("file,label\n", "lists no clips"),
    ("file,label\na.wav\n", "row 2: expected a file and a label"),
])
def test_read_label_csv_errors_name_the_problem(tmp_path, text, message):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(ASDError, match=message):
        read_label_csv(path)
    with pytest.raises(ASDError, match="does not exist"):
        read_label_csv(tmp_path / "missing.csv")


def test_labels_for_training_reads_the_store_at_any_dataset_level(tmp_path):
    data = tmp_path / "data"
    LabelStore(make_machine(data)).apply({clip(0): "c0"}, "cluster")
    make_machine(data, "slider")
    assert labels_for_training(data, "bearing") == {clip(0): "c0"}
    assert labels_for_training(data / "dev_data" / "raw", "bearing") == {clip(0): "c0"}
    assert labels_for_training(data, "slider") is None
    with pytest.raises(ASDError, match="no machine 'fan'"):
        labels_for_training(data, "fan")


def test_names_cannot_escape_the_workspace(tmp_path):
    odd = LabelStore(make_machine(tmp_path / "data", "..odd name"))
    labels_root = store_module.labels_root().resolve()
    assert odd.path.resolve().parent.parent == labels_root
    assert odd.path.name != "..odd name" and "/" not in odd.path.name
    with pytest.raises(ASDError, match="Invalid label"):
        odd.apply({clip(0): "../../etc"}, "manual")
    with pytest.raises(ASDError, match="no machine"):
        LabelStore.open(tmp_path / "data", "../bearing")


def test_a_crash_between_temp_write_and_rename_keeps_the_previous_labels(store, monkeypatch):
    store.apply({clip(0): "c0"}, "cluster")

    def crash(*args):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        store.apply({clip(0): "c9", clip(1): "c9"}, "manual")
    monkeypatch.undo()
    assert store.labels() == {clip(0): "c0"}
    assert [c["change_set"] for c in store.history()] == [1]  # the torn change set is ignored
    assert not [p for p in store.path.iterdir() if p.name.startswith(".tmp-")]
    # The next change set takes the crashed one's number and supersedes it.
    assert store.apply({clip(1): "c1"}, "manual")["change_set"] == 2
    assert [c["changes"][0]["new"] for c in store.history()] == ["c0", "c1"]


def test_a_torn_history_line_is_skipped_and_not_glued_to_the_next(store):
    store.apply({clip(0): "c0"}, "cluster")
    with open(store.history_path, "a") as fh:
        fh.write('{"change_set": 2, "tim')  # a crash mid-append
    store.apply({clip(1): "c1"}, "manual")
    assert [c["change_set"] for c in store.history()] == [1, 2]
    assert store.labels() == {clip(0): "c0", clip(1): "c1"}


def _edit_many(machine_folder: str, workspace: str, writer: int, count: int) -> None:
    os.environ["ASD_WORKSPACE_DIR"] = workspace
    target = LabelStore(machine_folder)
    for i in range(count):
        target.apply({clip(writer * 1000 + i): f"w{writer}"}, "manual")


def test_two_processes_and_threads_never_lose_an_update(store):
    workspace = os.environ["ASD_WORKSPACE_DIR"]
    count = 15
    # fork: a spawned child would spend seconds re-importing the engine
    context = multiprocessing.get_context("fork")
    folder = str(store.machine_folder)
    processes = [context.Process(target=_edit_many, args=(folder, workspace, w, count))
                 for w in (1, 2)]
    threads = [threading.Thread(target=_edit_many, args=(folder, workspace, w, count))
               for w in (3, 4)]
    for worker in processes + threads:
        worker.start()
    for worker in processes + threads:
        worker.join(timeout=120)
    assert all(p.exitcode == 0 for p in processes)
    labels = store.labels()
    assert len(labels) == 4 * count
    assert {labels[clip(w * 1000 + i)] for w in (1, 2, 3, 4) for i in range(count)} == {
        "w1", "w2", "w3", "w4"}
    numbers = [c["change_set"] for c in store.history()]
    assert numbers == list(range(1, 4 * count + 1))
    assert json.loads(store.labels_path.read_text())["version"] == 4 * count


def test_csv_text_carries_the_extra_facts_of_the_labels(store, tmp_path):
    store.apply({clip(0): "cf55Hz", clip(1): "cf80Hz"}, "envelope",
                extra={clip(0): {"frequency_hz": 54.9}, clip(1): {"frequency_hz": 80.2}})
    store.apply({clip(2): "by-hand"}, "manual")
    assert store.csv_text().splitlines() == [
        "file,label,frequency_hz", f"{clip(0)},cf55Hz,54.9", f"{clip(1)},cf80Hz,80.2",
        f"{clip(2)},by-hand,"]
    path = store.export_csv(tmp_path / "labels.csv")
    assert path.read_text(encoding="utf-8") == store.csv_text()


def test_saving_a_result_records_its_source_params_and_frequencies(store):
    from asdcore.labels import ClusterResult, EnvelopeResult, clip_extras, save_result

    envelope = EnvelopeResult(labels={clip(0): "cf55Hz", clip(1): "cf55Hz"},
                              frequencies={clip(0): 55.04321, clip(1): 54.98765},
                              salience={clip(0): 1.0, clip(1): 1.0}, centres={"cf55Hz": 55.0},
                              band=(1000.0, 3000.0), k=1, criterion="given",
                              params={"band": [1000.0, 3000.0], "k": 1})
    assert clip_extras(envelope) == {clip(0): {"frequency_hz": 55.043},
                                     clip(1): {"frequency_hz": 54.988}}
    change_set = save_result(store, envelope)
    assert change_set["source"] == "envelope" and change_set["params"] == envelope.params
    assert store.entries()[clip(1)]["extra"] == {"frequency_hz": 54.988}

    cluster = ClusterResult(labels={clip(0): "c0", clip(1): "c1"}, groups=[],
                            params={"feature": "spectrum"})
    assert clip_extras(cluster) == {}
    assert save_result(store, cluster)["source"] == "cluster"
    assert store.entries()[clip(0)] | {"time": ""} == {
        "label": "c0", "source": "cluster", "change_set": 2, "time": "", "extra": {}}

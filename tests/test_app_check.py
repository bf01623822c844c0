"""AppTest of the Check page: first visit, uploads get their verdicts (the same as the engine's),
an unreadable upload its reason, the table for many files, adding a clip to the dataset only on
request."""

import shutil
from pathlib import Path

import pytest
from app_driving import click, quick_run
from streamlit.testing.v1 import AppTest

from asdcore import check, dataset, runs, workspace

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "6_Check.py")


def test_first_visit_offers_the_quick_run(isolated):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("No run has finished" in info.value for info in at.info)


@pytest.fixture
def own_data(isolated, tiny_data, tmp_path):
    """A copy of the tiny data (clips may be added to it), chosen as the app's dataset."""
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    workspace.choose_dataset(data)
    return data


def test_uploads_get_verdicts_and_nothing_is_written_unless_asked(own_data):
    run = quick_run("quick", own_data, ["fan", "valve"])
    clips = dataset.scan(own_data).clips
    test = clips[(clips["machine"] == "valve") & (clips["split"] == "test")]
    first, second = (Path(p) for p in test["path"].iloc[:2])
    before = sorted(p.name for p in own_data.rglob("*"))

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="check_run").value == "quick"
    at.selectbox(key="check_machine").select("valve")
    at.file_uploader[0].set_value([(first.name, first.read_bytes(), "audio/wav"),
                                   (second.name, second.read_bytes(), "audio/wav"),
                                   ("notes.wav", b"not audio at all", "audio/wav")]).run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["file"]) == [first.name, second.name, "notes.wav"]
    engine = check.check(run, [first, second], machine="valve")
    assert list(table["score"].iloc[:2]) == pytest.approx([r["score"] for r in engine])
    assert list(table["decision"].iloc[:2]) == [r["decision"] for r in engine]
    assert table["error"].iloc[2] and "notes.wav" in table["error"].iloc[2]
    assert [b.label for b in at.get("download_button")] == ["Download the verdicts (CSV)"]
    verdict = next(m for m in at.metric if m.label == "Verdict").value
    assert verdict == ("ANOMALOUS" if engine[0]["decision"] else "normal")
    assert len(at.get("plotly_chart")) == 3  # scores, time, bands
    assert sorted(p.name for p in own_data.rglob("*")) == before  # nothing written

    at.selectbox(key="check_file").select("notes.wav").run()
    assert any("notes.wav" in e.value for e in at.error)

    at.selectbox(key="check_file").select(first.name).run()
    at.radio(key="check_add_as").set_value("normal training clip")
    click(at, "Add to the dataset")
    added = sorted(set(p.name for p in own_data.rglob("*")) - set(before))
    assert len(added) == 1 and added[0].startswith("section_00_source_train_normal_")
    scan = dataset.scan(own_data)
    assert scan.problems == []
    assert added[0] in set(scan.clips["file"].str.rsplit("/", n=1).str[-1])


def test_a_microphone_recording_gets_its_verdict(isolated, tiny_data):
    quick_run("quick", tiny_data, ["fan"])
    clips = dataset.scan(tiny_data).clips
    normal = Path(clips.query("machine == 'fan' and split == 'test' and label == 'normal'")
                  ["path"].iloc[0])
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.audio_input(key="check_recording").set_value(("recording.wav", normal.read_bytes(),
                                                     "audio/wav")).run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == "recording.wav"
    expected = check.check(runs.open_run("quick"), [normal], machine="fan")[0]
    score = next(m for m in at.metric if m.label == "Score").value
    assert score == f"{expected['score']:.4g}"

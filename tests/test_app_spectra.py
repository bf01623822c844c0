"""AppTest of the Spectra page on the tiny demo: clips, band slider, box selection, kurtogram
suggestion, saved bands, and an unreadable clip answered with a message."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from asdcore import dataset, workspace
from asdcore.labels import suggest_band
from asdcore.labels.bands import BandStore

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "1_Spectra.py")


def _page(machine="bearing"):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.sidebar.selectbox(key="spectra_machine").set_value(machine).run()
    return at


def _metrics_table(at):
    return next(d.value for d in at.dataframe if "peak_freq" in d.value.columns)


def test_first_open_shows_clips_spectra_and_band_metrics_that_follow_the_slider(isolated):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception and not at.error
    assert len(at.multiselect(key="spectra_clips_ToyCar").value) == 4  # preselected
    assert any(m.label == "Characteristic frequency" for m in at.metric)
    before = _metrics_table(at)
    assert before["peak_freq"].between(1000, 3000).all()

    at.slider(key="spectra_band").set_value((4000.0, 6000.0)).run()
    after = _metrics_table(at)
    assert not at.exception
    assert after["peak_freq"].between(4000, 6000).all()
    assert not after["band_power"].equals(before["band_power"])


def test_a_box_on_the_spectra_becomes_the_band_and_can_be_saved(isolated, tiny_data):
    at = _page()
    at.session_state["spectra_chart"] = {"selection": {
        "points": [], "point_indices": [], "lasso": [],
        "box": [{"xref": "x", "yref": "y", "x": [2500.4, 1200.2], "y": [-90, -20]}]}}
    at.run()
    assert at.slider(key="spectra_band").value == (1200.0, 2500.0)
    assert _metrics_table(at)["peak_freq"].between(1200, 2500).all()

    at.text_input(key="spectra_band_name").input("impacts").run()
    next(b for b in at.button if b.label == "Save band").click().run()
    assert not at.exception and at.success
    assert BandStore.open(tiny_data, "bearing").bands() == {"impacts": (1200.0, 2500.0)}

    at.slider(key="spectra_band").set_value((100.0, 200.0)).run()
    next(b for b in at.button if b.label == "Use").click().run()
    assert at.slider(key="spectra_band").value == (1200.0, 2500.0)


def test_suggest_a_band_moves_the_slider_to_the_kurtogram_band(isolated, tiny_data):
    at = _page()
    next(b for b in at.button if b.label == "Suggest a band").click().run()
    assert not at.exception
    ds = dataset.scan(tiny_data)
    chosen = at.multiselect(key="spectra_clips_bearing").value
    paths = ds.clips.set_index("clip_id").loc[chosen, "path"].tolist()
    low, high = suggest_band(paths)
    assert at.slider(key="spectra_band").value == (round(low), round(high))


def test_an_unreadable_clip_is_reported_not_raised(isolated, tiny_data, tmp_path):
    import shutil

    data = tmp_path / "copy"
    shutil.copytree(tiny_data, data)
    workspace.choose_dataset(data)
    at = _page("fan")
    clips = dataset.scan(data).clips
    victim = clips[(clips["machine"] == "fan") & (clips["split"] == "supplemental")].iloc[0]
    Path(victim["path"]).write_bytes(b"RIFF garbage")
    at.multiselect(key="spectra_clips_fan").set_value([victim["clip_id"]]).run()
    assert not at.exception
    assert any("Cannot read" in e.value for e in at.error)


def test_bearing_fault_lines_are_drawn_measured_and_saved(isolated, tiny_data):
    from asdcore.labels.bands import BearingStore

    at = _page()
    assert any(m.label == "Harmonic family" for m in at.metric)
    at.radio(key="spectra_bearing_kind").set_value("Multipliers").run()
    at.number_input(key="spectra_bearing_BPFO").set_value(3.5848).run()
    at.number_input(key="spectra_bearing_BPFI").set_value(5.4152).run()
    at.number_input(key="spectra_bearing_shaft").set_value(15.0).run()
    assert not at.exception and not at.error
    faults = next(d.value for d in at.dataframe if "power_share" in d.value.columns)
    assert set(faults["line"]) == {"BPFO", "BPFI"}
    first = faults[(faults["line"] == "BPFO") & (faults["harmonic"] == 1)
                   & (faults["sideband"] == 0)].iloc[0]
    assert first["centre"] == 53.772 and first["low"] <= first["peak_freq"] <= first["high"]
    assert sorted(faults[faults["line"] == "BPFI"]["sideband"].unique()) == [-1, 0, 1]

    at.text_input(key="spectra_bearing_name").input("drive end").run()
    next(b for b in at.button if b.label == "Save bearing").click().run()
    assert not at.exception and at.success
    saved = BearingStore.open(tiny_data, "bearing").bearings()["drive end"]
    assert saved["multipliers"] == {"BPFO": 3.5848, "BPFI": 5.4152} and saved["shaft_hz"] == 15.0
    at.run()  # the next interaction offers it
    assert "Saved bearing" in at.radio(key="spectra_bearing_kind").options

"""The pure helpers behind the Spectra and Pseudo-labels pages: selection events, label edit
planning, named bands, and their figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from asdcore import viz
from asdcore.errors import ASDError
from asdcore.labels.bands import BandStore, check_band
from asdcore.labels.edits import (
    editor_changes,
    fresh_labels,
    merge_changes,
    relabel_changes,
    split_changes,
)
from asdcore.plot_events import band_from_selection, selected_clip_ids


def event(points=(), box=()):
    return {"selection": {"points": list(points), "point_indices": [], "box": list(box),
                          "lasso": []}}


# --- selection events ---


def test_selected_clip_ids_come_from_customdata_in_order_once_each():
    points = [{"customdata": ["b"], "point_index": 7}, {"customdata": "a"},
              {"customdata": ["b"]}, {"x": 1.0}]
    assert selected_clip_ids(event(points)) == ["b", "a"]
    assert selected_clip_ids(None) == [] and selected_clip_ids({}) == []


def test_band_from_selection_takes_the_last_box_sorted_and_clipped():
    assert band_from_selection(event(box=[{"x": [1, 2]}, {"x": [3000.0, 1200.0], "y": [0, 1]}])) \
        == (1200.0, 3000.0)
    assert band_from_selection(event(box=[{"x": [-50.0, 9000.0]}]), nyquist=8000) == (0.0, 8000.0)
    assert band_from_selection(event(points=[{"customdata": "a"}])) is None
    assert band_from_selection(event(box=[{"x": [9000.0, 9500.0]}]), nyquist=8000) is None
    assert band_from_selection(None) is None


# --- label edits ---

CURRENT = {"a": "c0", "b": "c0", "c": "c1", "d": "c2"}


def test_relabel_leaves_out_clips_that_already_have_the_label():
    assert relabel_changes(["a", "c", "e"], "c1", CURRENT) == {"a": "c1", "e": "c1"}
    with pytest.raises(ASDError):
        relabel_changes(["a"], "bad label!", CURRENT)


def test_merge_relabels_every_clip_of_the_merged_labels():
    assert merge_changes(CURRENT, ["c1", "c2"], "slow") == {"c": "slow", "d": "slow"}
    assert merge_changes(CURRENT, ["c0", "c1"], "c0") == {"c": "c0"}
    with pytest.raises(ASDError):
        merge_changes(CURRENT, [], "x")


def test_split_separates_two_groups_with_fresh_names():
    rng = np.random.default_rng(0)
    vectors = np.vstack([rng.normal(0, 0.1, (5, 4)), rng.normal(5, 0.1, (3, 4))])
    files = [f"f{i}" for i in range(8)]
    changes = split_changes(files, vectors, "c0", taken={"c0", "c0-1"})
    assert {changes[f] for f in files[:5]} == {"c0-2"}  # the larger part, c0-1 being taken
    assert {changes[f] for f in files[5:]} == {"c0-3"}
    with pytest.raises(ASDError):
        split_changes(["f0"], vectors[:1], "c0", taken=set())
    assert fresh_labels("x", 2, {"x-2"}) == ["x-1", "x-3"]


def test_editor_changes_are_the_cells_the_user_changed():
    before = pd.DataFrame({"file": ["a", "b", "c"], "label": ["c0", None, "c1"]})
    after = pd.DataFrame({"file": ["a", "b", "c"], "label": ["c1", "c1", None]})
    assert editor_changes(before, after) == {"a": "c1", "b": "c1", "c": None}
    assert editor_changes(before, before.copy()) == {}


# --- named bands ---


def test_bands_are_saved_per_machine_validated_and_deleted(tmp_path):
    folder = tmp_path / "data" / "dev_data" / "raw" / "bearing"
    (folder / "train").mkdir(parents=True)
    store = BandStore(folder)
    assert store.bands() == {}
    store.save(" impacts ", (1200, 2400.5))
    store.save("low", (0, 500))
    assert store.bands() == {"impacts": (1200.0, 2400.5), "low": (0.0, 500.0)}
    assert BandStore.open(tmp_path / "data", "bearing").bands() == store.bands()
    assert BandStore(tmp_path / "data" / "dev_data" / "raw" / "fan").bands() == {}
    for name, band in (("x", (100, 9000)), ("x", (500, 500)), ("../x", (1, 2)), ("", (1, 2))):
        with pytest.raises(ASDError):
            store.save(name, band)
    store.delete("low")
    store.delete("never saved")
    assert list(store.bands()) == ["impacts"]
    assert check_band((0, 8000)) == (0.0, 8000.0)


# --- figures ---


def _clips():
    return pd.DataFrame({"clip_id": ["id-a", "id-b"], "file": ["m/test/a.wav", "m/test/b.wav"],
                         "split": ["test", "test"], "domain": ["source", "target"],
                         "label": ["normal", "anomaly"], "supplemental_kind": ["", ""]})


def test_spectra_figure_carries_clip_ids_colours_and_the_band():
    freqs = np.linspace(0, 8000, 50)
    fig = viz.spectra_figure(freqs, np.zeros((2, 50)), _clips(), band=(1000, 2000))
    assert [trace.customdata[0] for trace in fig.data] == ["id-a", "id-b"]
    assert [trace.line.color for trace in fig.data] == [
        viz.CLIP_GROUP_COLOURS["source / normal"], viz.CLIP_GROUP_COLOURS["target / anomaly"]]
    assert (fig.layout.shapes[0].x0, fig.layout.shapes[0].x1) == (1000, 2000)
    assert fig.layout.dragmode == "select"


def test_waveform_figure_keeps_the_extremes_of_a_long_signal():
    y = np.zeros(160_000)
    y[12_345] = 0.9
    fig = viz.waveform_figure(y, 16000, max_points=1000)
    assert len(fig.data[0].y) <= 1000 and max(fig.data[0].y) == pytest.approx(0.9)
    assert fig.data[0].x[-1] < 10.0


def test_envelope_spectrum_figure_draws_one_marker_line_per_harmonic():
    freqs = np.linspace(0, 500, 101)
    fig = viz.envelope_spectrum_figure(freqs, np.ones(101), np.array([50.0, 100.0]))
    markers = fig.data[1]
    drawn = [x for x in markers.x if x is not None and not np.isnan(x)]
    assert drawn == [50, 50, 50, 100, 100, 100]

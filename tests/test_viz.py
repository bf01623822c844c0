import pandas as pd

from asdcore import viz


def _clips():
    return pd.DataFrame({
        "clip_id": ["a", "b", "c", "d"], "machine": ["fan"] * 4,
        "split": ["train", "test", "supplemental", "supplemental"],
        "domain": ["source", "target", "source", "source"],
        "label": ["normal", "anomaly", "unknown", "unknown"],
        "supplemental_kind": ["", "", "clean", "noise"], "duration": [10.0, 10.0, 10.0, 9.0],
    })


def test_clip_groups_name_supplemental_clips_by_kind():
    assert viz.clip_groups(_clips()).tolist() == [
        "source / normal", "target / anomaly", "supplemental clean", "supplemental noise"]


def test_counts_figure_has_one_trace_per_group_with_its_colour():
    fig = viz.clip_counts_figure(_clips())
    colours = {trace.name: trace.marker.color for trace in fig.data}
    assert colours == {group: viz.CLIP_GROUP_COLOURS[group] for group in viz.clip_groups(_clips())}
    assert sum(sum(trace.y) for trace in fig.data) == 4


def test_duration_figure_carries_clip_ids_and_empty_tables_give_a_message():
    fig = viz.clip_duration_figure(_clips())
    shown = sorted(cid for trace in fig.data for cid in trace.customdata[:, 0])
    assert shown == ["a", "b", "c", "d"]
    empty = viz.clip_counts_figure(_clips().iloc[:0])
    assert empty.layout.annotations[0].text == "No clips"

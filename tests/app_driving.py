"""Driving the app in AppTest the way a user would: press a button, select clips on a map,
make the quick run."""

from __future__ import annotations


def click(at, label: str):
    """Press the button whose label starts with ``label`` and rerun; the page must not fail."""
    next(b for b in at.button if b.label.startswith(label)).click().run()
    assert not at.exception, at.exception
    return at


def select_on_pseudo_label_map(at, machine: str, clip_ids):
    """What a box or lasso over ``clip_ids`` on the Pseudo-labels map sends back, then rerun."""
    at.session_state[f"pl_map_chart_{machine}"] = {"selection": {
        "points": [{"customdata": [cid]} for cid in clip_ids], "point_indices": [],
        "box": [], "lasso": []}}
    return at.run()


def quick_run(name: str, data, machines=("fan", "valve"), overwrite: bool = False):
    """A done, scored run of the training-free model (seconds on the tiny data), as the pages'
    quick-run button makes it."""
    from asdcore import pipeline

    config = pipeline.TrainConfig(data=str(data), model="logmel-stats", machines=list(machines))
    run = pipeline.queue_run(name, config, overwrite=overwrite)
    pipeline.work_run(run)
    return run

"""Training: configure a run, launch it as a separate process, follow it live, cancel it.

The worker (``python -m asdcore work RUN``) trains, then scores with the model's default
backend; it writes status and progress into its run folder, so it goes on when the browser is
closed and the page picks it up again on return.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

import app_pages
import ui
from asdcore import configs, pipeline, runs
from asdcore.device import device_info
from asdcore.errors import ASDError
from asdcore.models import MODELS

app_pages.run_through_app()  # a deep link before app.py ever ran
st.set_page_config(page_title="Training - ASD workbench", layout="wide")
st.title("Training")

def model_settings(model: str, data: str) -> dict:
    """Widgets for the settings the model's config offers (its fields' `Setting` metadata);
    returns the values that differ from the model's defaults (the run config stays short and
    readable). On the demo preset the boxes start from the model's demo settings
    (`pipeline.demo_settings`)."""
    offered = configs.offered_settings(MODELS[model].config_class)
    defaults = {f.name: f.default for f, _ in offered}
    starting = {**defaults, **pipeline.demo_settings(model, data)}
    chosen = {}
    numbers = [(f.name, s) for f, s in offered if s.widget == "number"]
    columns = st.columns(2)
    for index, (name, how) in enumerate(numbers):
        value = int(starting[name])
        # The key follows the starting value, so the box moves when the dataset changes it.
        chosen[name] = columns[index % 2].number_input(
            how.label, int(how.low), int(how.high), value, key=f"{name}_{model}_{value}",
            help=how.help)
    checkboxes = [(f.name, s) for f, s in offered if s.widget == "checkbox"]
    for group in dict.fromkeys(how.group for _, how in checkboxes):
        if group:
            st.markdown(f"**{group}**")
        left, right = st.columns(2)
        members = [(name, how) for name, how in checkboxes if how.group == group]
        for index, (name, how) in enumerate(members):
            column = left if index % 2 == 0 else right
            chosen[name] = column.checkbox(how.label, value=bool(starting[name]), help=how.help)
    for name, how in ((f.name, s) for f, s in offered if s.widget == "choice"):
        chosen[name] = st.selectbox(how.label, how.options,
                                    index=how.options.index(starting[name]), help=how.help)
    for name, how in ((f.name, s) for f, s in offered if s.widget == "range"):
        if how.shown_if and not any(chosen.get(switch) for switch in how.shown_if):
            continue
        low, high = st.slider(how.label, float(how.low), float(how.high),
                              tuple(float(v) for v in starting[name]), step=how.step,
                              help=how.help)
        chosen[name] = [low, high]
    return {name: value for name, value in chosen.items()
            if _as_json(value) != _as_json(defaults[name])}


def _as_json(value):
    """A setting as JSON sees it (a tuple and the list of its items are the same setting)."""
    return list(value) if isinstance(value, tuple) else value


def label_choice(ds, machines: list[str]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Which pseudo-labels the run trains with: label CSV paths and label-store label sets."""
    source = st.radio("Pseudo-labels for machines without attributes",
                      ["none", "the label store", "label CSV files"], horizontal=True,
                      help="Labels from the Pseudo-labels page (the label store) are copied "
                           "into the run folder, so the run keeps the labels it used.")
    if source == "the label store":
        try:
            stored = pipeline.stored_labels(str(ds.root), machines)
        except ASDError as err:
            st.error(str(err))
            stored = {}
        if stored:
            st.caption("Stored labels: " + ", ".join(f"{m} ({len(v)} clips)"
                                                     for m, v in stored.items()))
        else:
            st.caption("The label store has no labels for these machines yet.")
        return [], stored
    if source == "label CSV files":
        text = st.text_area("Label CSV files, one path per line (columns file,label)")
        return [line.strip() for line in text.splitlines() if line.strip()], {}
    return [], {}


def new_run_form(ds) -> None:
    trainable = ds.trainable_machines()
    if not trainable:
        st.error("This dataset has no training clips, so there is nothing to train on.")
        return
    # The page exists to train the seed model; the training-free baseline is one click away.
    model = st.selectbox("Model", list(MODELS), index=list(MODELS).index("seresnet18"),
                         format_func=lambda m: f"{m}: {MODELS[m].description}", key="model")
    machines = st.multiselect("Machine types (none chosen: all)", trainable)
    settings = model_settings(model, ds.root)
    label_files, label_sets = ([], {})
    if MODELS[model].trains_jointly:
        label_files, label_sets = label_choice(ds, machines or trainable)
    devices = ["auto", "cpu"] + (["cuda"] if device_info()["device"] == "cuda" else [])
    device = st.radio("Device", devices, horizontal=True,
                      help="auto: the GPU when there is one, else the CPU")
    name_col, overwrite_col = st.columns([3, 1])
    # The default name is fixed once per model and session: a default that followed the clock
    # would make Streamlit reset the box at the next minute, dropping what the user typed.
    name_key = f"train_run_name_{model}"
    st.session_state.setdefault(name_key, f"{model}-{dt.datetime.now():%Y%m%d-%H%M%S}")
    name = name_col.text_input("Run name", key=name_key, help="letters, digits, '.', '_' and '-'")
    overwrite = overwrite_col.checkbox("Replace a run of that name")
    if st.button("Start training", type="primary"):
        config = pipeline.TrainConfig(data=str(ds.root), model=model, machines=machines,
                                      device=device, model_config=settings, labels=label_files)
        if ui.start_run(name.strip(), config, overwrite=overwrite,
                        label_sets=label_sets) is not None:
            del st.session_state[name_key]  # the next run gets a fresh default name
            st.rerun()


def runs_table(rows: list[dict]) -> None:
    table = pd.DataFrame(rows)[["name", "status", "model", "official_score", "created",
                                "finished", "error"]]
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"official_score": st.column_config.NumberColumn(
                     "official score", format="%.4f")})


ds = ui.current_dataset()
with st.expander("New run", expanded=not runs.list_runs()):
    if ds is not None:
        new_run_form(ds)

rows = runs.list_runs()
st.subheader("Runs")
if not rows:
    st.info("No runs yet. Configure one above and press **Start training**; the quickest is "
            "logmel-stats, which needs no training (about half a minute on the demo).")
else:
    names = [row["name"] for row in rows]
    followed = st.session_state.get("followed_run")
    chosen = st.selectbox("Follow run", names,
                          index=names.index(followed) if followed in names else 0)
    st.session_state["followed_run"] = chosen
    ui.follow_run(runs.open_run(chosen))
    runs_table(rows)

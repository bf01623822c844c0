"""Training: configure a run, launch it as a separate process, follow it live, cancel it.

The worker (``python -m asdcore work RUN``) trains, then scores with the model's default
backend; it writes status and progress into its run folder, so it goes on when the browser is
closed and the page picks it up again on return.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import streamlit as st

import ui
from asdcore import pipeline, runs
from asdcore.device import device_info
from asdcore.errors import ASDError
from asdcore.models import MODELS

st.set_page_config(page_title="Training - ASD workbench", layout="wide")
st.title("Training")

MODEL_HELP = {
    "logmel-stats": "training-free: log-mel statistics scored by nearest neighbours (seconds)",
    "ae": "the official autoencoder baseline, one per machine type",
    "seresnet18": "the seed model: SE-ResNet18 trained on every machine at once (minutes)",
}
# The seed model's switches, shown only for a model whose config has them.
SWITCHES = {
    "spectrum_branch": "Full-spectrum branch",
    "mixup": "Mixup",
    "statex": "StatEx (statistics exchange, self-supervised)",
    "featex": "FeatEx (feature exchange, self-supervised; needs the spectrum branch)",
    "noise_mixing": "Noise mixing: supplemental clean + noise clips as extra training clips",
    "noise_augment": "Noise augmentation: supplemental noise added to training clips",
}


def model_settings(model: str, data: str) -> dict:
    """Widgets for the settings the model's config has; returns the values that differ from
    the model's defaults (the run config stays short and readable). On the demo preset the
    epochs box starts from the model's demo settings (`pipeline.demo_settings`)."""
    fields = {f.name: f for f in dataclasses.fields(MODELS[model].config_class)}
    defaults = {name: f.default for name, f in fields.items()
                if f.default is not dataclasses.MISSING}
    starting = pipeline.demo_settings(model, data)
    chosen = {}
    cols = st.columns(2)
    if "epochs" in defaults:
        offered = starting.get("epochs", defaults["epochs"])
        chosen["epochs"] = cols[0].number_input(
            "Epochs", 1, 1000, int(offered), key=f"epochs_{model}_{offered}",
            help=f"The model's default ({defaults['epochs']}) follows its recipe for DCASE-size "
                 "data. On the demo preset the seed model scores best after 1 epoch, which "
                 "is what this box offers there (bench/RESULTS.md).")
    if "seed" in defaults:
        chosen["seed"] = cols[1].number_input("Seed", 0, 2**31 - 1, int(defaults["seed"]))
    switches = [name for name in SWITCHES if name in defaults]
    if switches:
        st.markdown("**Self-supervision and noise mixing**")
        left, right = st.columns(2)
        for index, name in enumerate(switches):
            column = left if index % 2 == 0 else right
            chosen[name] = column.checkbox(SWITCHES[name], value=bool(defaults[name]))
    if "snr_db" in defaults and (chosen.get("noise_mixing") or chosen.get("noise_augment")):
        low, high = st.slider("Noise SNR range (dB)", -10.0, 40.0,
                              tuple(float(v) for v in defaults["snr_db"]), step=1.0)
        chosen["snr_db"] = [low, high]
    return {name: value for name, value in chosen.items() if value != defaults.get(name)
            and not (name == "snr_db" and tuple(value) == tuple(defaults[name]))}


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
    trainable = sorted(ds.clips.loc[ds.clips["split"] == "train", "machine"].unique())
    if not trainable:
        st.error("This dataset has no training clips, so there is nothing to train on.")
        return
    model = st.selectbox("Model", list(MODELS), index=list(MODELS).index("logmel-stats"),
                         format_func=lambda m: f"{m}: {MODEL_HELP.get(m, '')}")
    machines = st.multiselect("Machine types (none chosen: all)", trainable)
    settings = model_settings(model, ds.root)
    label_files, label_sets = ([], {})
    if getattr(MODELS[model], "trains_jointly", False):
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

"""Embeddings: a run's clip embeddings as a 2-D map (UMAP, or PCA at once), one panel per
domain, coloured by what may explain them; selecting a point plays its clip.

Maps are cached on disk per run and machine (`asdcore.projection`), so a map computed once
appears at once, also after a server restart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

import app_pages
import ui
from asdcore import labels, projection, results, runs, viz
from asdcore.errors import ASDError
from asdcore.plot_events import selected_clip_ids

app_pages.run_through_app()  # a deep link before app.py ever ran
st.set_page_config(page_title="Embeddings - ASD workbench", layout="wide")
st.title("Embeddings")
ui.warm_umap_in_background()

# Panels already split the domains, so anomaly labels colour the points by default.
COLOURS = {"normal/anomaly": "label", "attribute": "attribute", "pseudo-label": "pseudo-label",
           "split": "split", "domain": "domain"}
METHODS = {"UMAP": "umap", "PCA": "pca"}


@st.cache_data(show_spinner=False, max_entries=16)
def load_embeddings(run_path: str, machine: str,
                    saved_at: float) -> tuple[np.ndarray, pd.DataFrame]:
    """A machine's embeddings and clip table (``saved_at`` renews the entry after rescoring)."""
    run = runs.Run(Path(run_path))
    data_root = results.saved_embeddings(run, machine)[2] or run.config()["data"]
    clips = ui.scan_dataset(data_root)
    return results.embedding_table(run, machine, clips.clips)


@st.cache_data(show_spinner=False, max_entries=32)
def map_points(run_path: str, machine: str, saved_at: float, method: str) -> np.ndarray:
    vectors, _ = load_embeddings(run_path, machine, saved_at)
    return projection.project(vectors, method)


def stored_labels(data_root: str, machine: str) -> dict[str, str]:
    try:
        return labels.labels_for_training(data_root, machine) or {}
    except ASDError:
        return {}


rows = [row for row in runs.list_runs()
        if results.embedded_machines(runs.open_run(row["name"]))]
if not rows:
    ui.offer_quick_run("No run has saved embeddings yet (runs of embedding models save them "
                       "when scored; the autoencoder has none).")
    st.stop()

left, middle, right = st.columns([2, 1, 1])
run = runs.open_run(left.selectbox("Run", [row["name"] for row in rows]))
machine = middle.selectbox("Machine type", results.embedded_machines(run))
colour = right.selectbox("Colour by", list(COLOURS))
saved_at = (run.embeddings_dir / f"{machine}.npz").stat().st_mtime
try:
    vectors, table = load_embeddings(str(run.path), machine, saved_at)
except ASDError as err:
    st.error(str(err))
    st.stop()
if len(table) < 3:
    st.info("This machine has too few embedded clips for a map.")
    st.stop()

umap_available = projection.umap_ready() or projection.is_cached(vectors, "umap")
method_name = st.radio("Map", list(METHODS), horizontal=True,
                       index=0 if umap_available else 1, key="embedding_method",
                       help="UMAP keeps neighbourhoods (slow the first time); PCA is instant.")
method = METHODS[method_name]
if method == "umap" and not projection.is_cached(vectors, "umap"):
    note = "" if projection.umap_ready() else \
        " The first UMAP map after a server start also compiles UMAP's code (about 30 s)."
    bar = ui.StreamlitProgress(f"Computing the UMAP map of {len(vectors)} clips.{note}")
    try:
        projection.project(vectors, "umap", progress=bar)
    except ASDError as err:
        st.error(str(err))
        st.stop()
    bar.clear()
elif method == "pca" and not umap_available:
    st.caption("UMAP is getting ready in the background; PCA is shown meanwhile.")

data_root = run.config().get("data", "")
pseudo_labels = stored_labels(data_root, machine)
points = table.assign(**{"pseudo-label": [pseudo_labels.get(f, "(none)") for f in table["file"]]})
coordinates = map_points(str(run.path), machine, saved_at, method)
points = points.assign(x=coordinates[:, 0], y=coordinates[:, 1])
event = st.plotly_chart(viz.embedding_map_figure(points, COLOURS[colour]), width="stretch",
                        on_select="rerun", selection_mode=("points", "box", "lasso"),
                        key="embedding_map")
st.caption(f"{len(points)} clips of {machine} from run {run.name}. Click a point, or draw a "
           "box or lasso, to listen to clips.")

by_id = points.set_index("clip_id")
selected = [clip_id for clip_id in selected_clip_ids(event) if clip_id in by_id.index]
if selected:
    st.subheader(f"{len(selected)} selected clip(s)")
    st.dataframe(by_id.loc[selected, ["file", "split", "domain", "label", "attribute",
                                      "pseudo-label"]], width="stretch", hide_index=True)
    clip_id = st.selectbox("Play", selected, format_func=lambda c: by_id.at[c, "file"])
    ui.show_clip(by_id.at[clip_id, "path"], by_id.at[clip_id, "file"])

"""Home page of the ASD workbench: choose the dataset, see what it holds and what is wrong.

Opened through ``streamlit run app.py`` (which lists the pages). With no dataset chosen, the
built-in synthetic demo is used (generated on first start).
"""

from __future__ import annotations

import streamlit as st

import ui
from asdcore import dataset, viz, workspace
from asdcore.device import device_info
from asdcore.errors import ASDError

st.title("Anomalous sound detection workbench")


def dataset_chooser() -> None:
    with st.sidebar:
        st.header("Dataset")
        chosen = workspace.chosen_dataset()
        st.caption(f"Current: {'built-in demo' if chosen is None else chosen}")
        path = st.text_input("DCASE-layout folder", value=str(chosen or ""),
                             placeholder="/data/dcase2025t2 or .../dev_data/raw",
                             help="A folder of machine folders (train/, test/, supplemental/) "
                                  "or any folder above it.")
        use_col, demo_col = st.columns(2)
        if use_col.button("Use this folder", disabled=not path.strip()):
            try:
                dataset.scan(path.strip())  # validate before remembering it
                workspace.choose_dataset(path.strip())
                st.rerun()
            except ASDError as err:
                st.error(str(err))
        if demo_col.button("Use the demo", disabled=chosen is None):
            workspace.choose_dataset(None)
            st.rerun()
        if st.button("Rescan"):
            st.session_state["scan_generation"] = st.session_state.get("scan_generation", 0) + 1
            st.rerun()
        info = device_info()
        st.header("Compute")
        if info["device"] == "cuda":
            st.write(f"GPU: {info['name']} ({info['memory_gb']} GiB)")
        else:
            st.write(f"CPU only ({info['cpu_cores']} cores); training uses the CPU defaults.")


def overview(ds: dataset.Dataset) -> None:
    machines = ds.machines()
    clips = ds.clips
    cols = st.columns(4)
    cols[0].metric("Machine types", len(machines))
    cols[1].metric("Clips", len(clips))
    cols[2].metric("Hours of audio", f"{clips['duration'].sum() / 3600:.2f}" if len(clips) else "0")
    cols[3].metric("Problems", len(ds.problems))
    st.caption(f"Folder: {ds.root}")

    st.subheader("Machines")
    table = [{
        "machine": m["name"], "subset": m["subset"], "sections": ", ".join(m["sections"]),
        "train": m["n_train"], "test": m["n_test"], "supplemental": m["n_supplemental"],
        "attributes": ", ".join(m["attribute_keys"]) if m["has_attributes"] else "hidden",
        "true attributes known": m["has_ground_truth_attributes"],
        "problems": m["n_problems"],
    } for m in machines]
    st.dataframe(table, hide_index=True, width="stretch")

    st.subheader("Clips by split, domain and label")
    st.plotly_chart(viz.clip_counts_figure(clips), width="stretch")
    with st.expander("Counts as a table"):
        st.dataframe(dataset.overview(clips), hide_index=True, width="stretch")

    st.subheader("Clip lengths")
    st.plotly_chart(viz.clip_duration_figure(clips), width="stretch")

    st.subheader("Problems")
    if ds.problems:
        st.warning(f"{len(ds.problems)} file(s) could not be used; the rest of the dataset works.")
        st.dataframe([p.as_row() for p in ds.problems],
                     hide_index=True, width="stretch")
    else:
        st.success("No problems found.")


def import_recordings() -> None:
    """Recordings in another layout (MIMII, ToyADMOS, a folder per condition) as a new
    DCASE-layout dataset, then used (what ``python -m asdcore import`` does)."""
    from asdcore import ingest

    with st.sidebar.expander("Import recordings"):
        src = st.text_input("Folder of recordings", key="import_src")
        out = st.text_input("New dataset folder", key="import_out")
        layout = st.selectbox("Layout", ingest.LAYOUTS, key="import_layout")
        normal = st.text_input("Normal conditions (comma-separated)", key="import_normal",
                               help="Folders layout: e.g. ON, or ok; the others are anomalies.")
        exclude = st.text_input("Conditions to leave out (comma-separated)", key="import_exclude")
        machine = st.text_input("Machine name (folders layout)", key="import_machine")
        clip_seconds = st.number_input("Cut into clips of (s, 0 = whole recordings)", 0.0,
                                       600.0, 0.0, key="import_clip_seconds")
        if st.button("Import and use it", disabled=not (src.strip() and out.strip())):
            normal_names, excluded = ([n.strip() for n in text.split(",") if n.strip()]
                                      for text in (normal, exclude))
            try:
                summary = ingest.import_recordings(
                    src.strip(), out.strip(), layout=layout, normal=normal_names,
                    exclude=excluded,
                    machine=machine.strip() or None, clip_seconds=clip_seconds or None)
                workspace.choose_dataset(summary["out"])
            except ASDError as err:
                st.error(str(err))
                return
            st.rerun()


dataset_chooser()
import_recordings()
current = ui.current_dataset()
if current is not None:
    if not current.usable:
        st.error("This folder holds no readable clips; see the problems below.")
    overview(current)

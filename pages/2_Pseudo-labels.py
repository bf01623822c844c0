"""Pseudo-labels: give a machine without attributes artificial attribute labels by clustering
its clips or by the characteristic frequency of a band, review them on a map, correct them by
hand (relabel a selection, merge, split, edit the table), undo, and export the label CSV that
training reads.

Every change goes through the machine's label store (history, undo, crash-safe writes).
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

import app_pages
import ui
from asdcore import audio, dsp, runs, viz
from asdcore.constants import (
    CHARACTERISTIC_FMAX_LIMITS,
    CHARACTERISTIC_FMIN_LIMITS,
    CHARACTERISTIC_RANGE,
)
from asdcore.dataset import Dataset
from asdcore.errors import ASDError
from asdcore.labels import (
    FEATURES,
    METHODS,
    LabelStore,
    cluster_machine,
    envelope_labels,
    label_quality,
    machine_clips,
    readable_features,
    reduce,
    result_source,
    save_result,
)
from asdcore.labels.bands import BandStore, check_band
from asdcore.labels.clustering import (
    BAND_FEATURES,
    DEFAULT_PER_DOMAIN,
    MIN_LABEL_CLIPS,
    MIN_LABEL_SHARE,
    MIN_STABILITY,
)
from asdcore.labels.edits import editor_changes, merge_changes, relabel_changes, split_changes
from asdcore.plot_events import selected_clip_ids

app_pages.run_through_app()  # a deep link before app.py ever ran
st.set_page_config(page_title="Pseudo-labels - ASD workbench", layout="wide")
st.title("Pseudo-labels")

KURTOGRAM = "kurtogram suggestion"  # the clustering's envelope features
LINES = "suggested: clearest envelope lines"  # envelope labels (`suggest_line_band`)
NEW_LABEL = "a new label..."
K_CHOICES = ["auto", *range(1, 9)]
K_DIAGNOSTICS = ("scores", "stability", "smallest")  # per k tried: shown by why_k
UMAP_AVAILABLE = importlib.util.find_spec("umap") is not None  # found, not imported: slow import


@st.cache_data(show_spinner=False, max_entries=16)
def map_vectors(clips: pd.DataFrame, feature: str, band: tuple[float, float] | None,
                run: str | None) -> tuple[np.ndarray, list[str], list[dict]]:
    """The map's features of the clips that can be analysed: ``(vectors, their files in clip
    order, the skipped clips with their reasons)``."""
    bar = ui.StreamlitProgress(f"Computing {feature} features for the map")
    vectors, kept, skipped = readable_features(clips, feature, band, run, progress=bar)
    bar.clear()
    return vectors, kept["file"].tolist(), skipped


@st.cache_data(show_spinner="Projecting the clips (UMAP's first run in a session compiles "
                             "code: about 30 s)", max_entries=16)
def map_points(vectors: np.ndarray, reduction: str) -> np.ndarray:
    return reduce(vectors, reduction, n_components=2)


def flash(message: str, warning: bool = False) -> None:
    """Show ``message`` after the rerun that follows a change (or a refused one)."""
    st.session_state["pl_flash"] = (message, warning)


def table_version_key(store: LabelStore) -> str:
    return f"pl_table_version_{store.machine}"


def changed_here(store: LabelStore, change_set: dict | None) -> None:
    """After this session changed the store: a fresh label table next time (its edits are
    applied). Changes from other sessions (browser tabs) do not reset it, so edits pending
    here survive them; each change writes only the clips it changes, never a stale copy."""
    if change_set:
        st.session_state[table_version_key(store)] = change_set["change_set"]


def record(store: LabelStore, changes: dict, note: str) -> None:
    """Apply manual ``changes`` to the store and rerun so every view shows them."""
    if not changes:
        st.info("Nothing changes: those clips already have those labels.")
        return
    changed_here(store, store.apply(changes, "manual", note=note))
    flash(f"{note} ({len(changes)} clip(s)).")
    st.rerun()


def make_labels(ds: Dataset, machine: str, store: LabelStore, bands: dict,
                result_key: str) -> None:
    """Clustering or envelope labelling with its parameters; the result is kept unsaved."""
    how = st.radio("Method", ["Clustering", "Envelope (characteristic frequency)"],
                   horizontal=True, key="pl_how")
    cols = st.columns(5)
    k = cols[0].selectbox("Number of labels", K_CHOICES, key="pl_k")
    if how == "Clustering":
        done_runs = [r["name"] for r in runs.list_runs() if r["status"] == "done"]
        features = [f for f in FEATURES if f != "embedding" or done_runs]
        feature = cols[1].selectbox(
            "Feature", features, key="pl_feature",
            help="shape+lines+level (default): the spectral shape, where the spectrum's and "
                 "the envelope's lines are, and how loud (speeds and loads); shape+lines: the "
                 "same without the level; spectrum: the log spectrum (the default before "
                 "2026-12-07); modulation: "
                 "where the envelope's lines are (impacts at a speed); logmel: band "
                 "statistics; embedding: a trained run's. bench/RESULTS.md compares them.")
        method = cols[2].selectbox("Method", METHODS, key="pl_method",
                                   help="gmm: Gaussian mixture; kmeans; ward: agglomerative. "
                                        "With 'auto', stability and the silhouette pick k.")
        reduction = cols[3].selectbox("Reduction", ["pca", "umap"] if UMAP_AVAILABLE else ["pca"],
                                      key="pl_reduction")
        per_domain = cols[4].checkbox("Source and target apart", DEFAULT_PER_DOMAIN,
                                      key="pl_per_domain",
                                      help="Cluster each domain on its own (the default, as the "
                                           "seed does): labels source-c0, target-c0 ...")
        run = st.selectbox("Run whose embeddings to cluster", done_runs, key="pl_run") \
            if feature == "embedding" else None
        band_name = st.selectbox("Envelope band", [KURTOGRAM, *bands], key="pl_cluster_band") \
            if feature in BAND_FEATURES else KURTOGRAM
    else:
        band_name = cols[1].selectbox("Band", [LINES, *bands], key="pl_band",
                                      format_func=lambda n: n if n == LINES else
                                      f"{n}: {bands[n][0]:g}-{bands[n][1]:g} Hz",
                                      help="Save bands on the Spectra page. The suggestion "
                                      "is the band whose envelope shows the clearest lines "
                                      "on a few clips.")
        fmin = cols[2].number_input("Lowest frequency (Hz)", *CHARACTERISTIC_FMIN_LIMITS,
                                    CHARACTERISTIC_RANGE[0], key="pl_fmin")
        fmax = cols[3].number_input("Highest frequency (Hz)", *CHARACTERISTIC_FMAX_LIMITS,
                                    CHARACTERISTIC_RANGE[1], key="pl_fmax")
    if not st.button("Run clustering" if how == "Clustering" else "Run envelope labelling",
                     type="primary"):
        return
    bar = ui.StreamlitProgress("Labelling")
    base_version = store.state()["version"]  # edits made while it runs are kept when saving
    try:
        band = None if band_name in (KURTOGRAM, LINES) else check_band(bands[band_name])
        if how == "Clustering":
            result = cluster_machine(ds, machine, feature=feature, method=method, k=k,
                                     reduction=reduction, per_domain=per_domain, band=band,
                                     run=run, progress=bar)
            summary = pd.DataFrame([{name: value for name, value in group.items()
                                     if name not in K_DIAGNOSTICS} for group in result.groups])
        else:
            result = envelope_labels(ds, machine, band=band, fmin=fmin, fmax=fmax, k=k,
                                     progress=bar)
            summary = pd.DataFrame({
                "label": list(result.centres),
                "median frequency (Hz)": list(result.centres.values()),
                "harmonic family": [" ".join(map(str, result.families.get(label, [])[:12]))
                                    for label in result.centres]})
    except ASDError as err:
        st.error(str(err))
        return
    finally:
        bar.clear()
    source = result_source(result)
    map_feature = "envelope" if source == "envelope" else result.params["feature"]
    st.session_state[result_key] = {
        "base_version": base_version, "result": result,
        "source": source, "labels": result.labels, "params": result.params,
        "summary": summary, "skipped": result.skipped,
        "map": (map_feature, tuple(result.params["band"]) if result.params.get("band") else None,
                result.params.get("run"))}


def why_k(result) -> None:
    """Why the number of labels is what it is: the criterion per k tried, as a small plot."""
    groups = getattr(result, "groups", None)
    if groups is None:  # envelope labels: frequency groups by BIC
        groups = [{"domain": "all", "k": result.k, "criterion": result.criterion,
                   "bic": result.scores}]
    for group in groups:
        if group["criterion"] == "given":
            st.caption(f"{group['domain']}: {group['k']} labels, as asked.")
            continue
        if group["criterion"] == "bic":
            table = pd.DataFrame({"BIC": group["bic"]})
            reason = "the lowest BIC of a mixture of the log frequencies"
        else:
            table = pd.DataFrame({"silhouette": group["scores"], "stability": group["stability"],
                                  "smallest label": group["smallest"]})
            reason = (f"the highest silhouette among k whose labels are stable (mean ARI of "
                      f"subsample fits at least {MIN_STABILITY:g}) and at least "
                      f"{MIN_LABEL_CLIPS} clips ({MIN_LABEL_SHARE:.0%}) each"
                      if group["k"] > 1 else "no k of 2 or more is stable with labels of "
                      f"at least {MIN_LABEL_CLIPS} clips: one label")
        with st.expander(f"Why {group['k']} label(s) ({group['domain']}): {reason}"):
            if table.empty:
                st.caption("Too few clips to compare numbers of labels.")
                continue
            table.index.name = "k"
            st.line_chart(table.drop(columns="smallest label", errors="ignore"), height=180)
            st.dataframe(table.round(3), width="stretch")
            st.caption("Pick another number under 'Number of labels' and run again to "
                       "override the choice.")


def show_result(result: dict, clips: pd.DataFrame, store: LabelStore, result_key: str) -> None:
    counts = Counter(result["labels"].values())
    sizes = ", ".join(f"{label}: {n}" for label, n in sorted(counts.items()))
    st.markdown(f"**Unsaved {result['source']} result**: {len(counts)} labels for "
                f"{len(result['labels'])} clips ({sizes})")
    if result["params"].get("band"):
        st.caption("Band: {:g}-{:g} Hz".format(*result["params"]["band"]))
    st.dataframe(result["summary"], hide_index=True)
    why_k(result["result"])
    if result.get("skipped"):
        st.warning(f"{len(result['skipped'])} clip(s) could not be read and have no label: "
                   + "; ".join(f"{s['file']} ({s['reason']})" for s in result["skipped"][:5])
                   + (" ..." if len(result["skipped"]) > 5 else ""))
    quality = label_quality(result["labels"], clips)
    if quality is not None:
        st.caption(f"Against the known attributes: ARI {quality['ari']:.3f}, "
                   f"NMI {quality['nmi']:.3f} "
                   f"({quality['n_clips']} clips, {quality['n_true']} true classes)")
    save_col, drop_col = st.columns(2)
    if save_col.button("Save these labels", type="primary", width="stretch"):
        change_set = save_result(store, result["result"],
                                 unless_changed_since=result["base_version"])
        changed_here(store, change_set)
        st.session_state.pop(result_key)
        kept = (change_set or {}).get("kept_newer", [])
        flash((f"Saved as change set {change_set['change_set']}." if change_set
               else "The store already holds these labels.")
              + (f" {len(kept)} clip(s) relabelled since this result was computed (in another "
                 "tab or on the command line) kept their newer labels." if kept else ""))
        st.rerun()
    if drop_col.button("Discard", width="stretch"):
        st.session_state.pop(result_key)
        st.rerun()


def label_map(clips: pd.DataFrame, saved: dict, result: dict | None, map_key: str,
              map_source: tuple) -> tuple[list[str], np.ndarray, pd.DataFrame]:
    """The 2-D map coloured by label; returns the selected clip ids, the map's features and
    the clips on the map (row i has vector i: a clip that cannot be analysed is left off)."""
    feature, band, run = map_source
    reductions = ["pca", "umap"] if UMAP_AVAILABLE else ["pca"]
    left, right = st.columns(2)
    reduction = left.radio("Projection", reductions, horizontal=True, key="pl_map_reduction",
                           format_func=str.upper)
    colour_by = right.radio("Colour by", ["unsaved result", "saved labels"], horizontal=True,
                            key="pl_colour_by") if result else "saved labels"
    vectors, kept_files, skipped = map_vectors(clips[["path", "file", "machine"]], feature,
                                               band, run)
    if skipped:
        st.warning(f"{len(skipped)} clip(s) could not be analysed and are not on the map: "
                   + "; ".join(f"{s['file']} ({s['reason']})" for s in skipped[:5])
                   + (" ..." if len(skipped) > 5 else ""))
    clips = clips[clips["file"].isin(kept_files)].reset_index(drop=True)
    points = map_points(vectors, reduction)
    labels = result["labels"] if colour_by == "unsaved result" else saved
    table = pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "clip_id": clips["clip_id"],
                          "file": clips["file"], "domain": clips["domain"],
                          "label": [labels.get(f, "(none)") for f in clips["file"]]}
                         ).sort_values("label", kind="stable")  # legend in label order
    band_text = f", band {band[0]:g}-{band[1]:g} Hz" if band else ""
    st.caption(f"{reduction.upper()} of the clips' {feature} features{band_text}, coloured by "
               f"{colour_by}. Draw a lasso or a box to select clips.")
    event = st.plotly_chart(viz.embedding_map_figure(table, "label"), key=map_key,
                            on_select="rerun", selection_mode=("box", "lasso"), width="stretch")
    return selected_clip_ids(event), vectors, clips


def relabel_selection(store: LabelStore, files: list[str]) -> None:
    """The relabel button's callback, with the clips selected when the button was drawn: a
    map redrawn meanwhile (another tab's change recolours it, which clears its selection)
    cannot lose the click. The label is read as it is now."""
    target = st.session_state.get("pl_relabel_to", NEW_LABEL)
    if target == NEW_LABEL:
        target = st.session_state.get("pl_new_label", "")
    target = (target or "").strip()
    try:
        changes = relabel_changes(files, target, store.labels())
        if not changes:
            st.session_state["pl_relabel_message"] = (
                "info", "Nothing changes: those clips already have that label.")
            return
        changed_here(store, store.apply(changes, "manual", note=f"relabelled as {target}"))
    except ASDError as err:
        st.session_state["pl_relabel_message"] = ("error", str(err))
        return
    flash(f"relabelled as {target} ({len(changes)} clip(s)).")


def selected_clips(clips: pd.DataFrame, ids: list[str], saved: dict, store: LabelStore) -> None:
    """The selection: its clips, one of them to listen to, and relabelling it."""
    if "pl_relabel_message" in st.session_state:
        kind, message = st.session_state.pop("pl_relabel_message")
        (st.error if kind == "error" else st.info)(message)
    chosen = clips[clips["clip_id"].isin(ids)]
    if chosen.empty:
        st.info("Draw a lasso or a box on the map to select clips: you can then listen to them "
                "and give them a label.")
        return
    st.markdown(f"**{len(chosen)} clip(s) selected**")
    st.dataframe(pd.DataFrame({"file": chosen["file"], "domain": chosen["domain"],
                               "label": [saved.get(f, "") for f in chosen["file"]]}),
                 hide_index=True, width="stretch", height=min(36 * (len(chosen) + 1), 250))
    with st.expander("Listen to a selected clip"):
        path = st.selectbox("Clip", chosen["path"], key="pl_listen",
                            format_func=lambda p: Path(p).name)
        try:
            y = ui.load_audio(path)
            st.audio(y, sample_rate=audio.SAMPLE_RATE)
            psd, freqs = dsp.welch_spectrum(y, audio.SAMPLE_RATE)
            st.plotly_chart(viz.spectra_figure(freqs, psd[None], chosen[chosen["path"] == path]),
                            width="stretch")
        except ASDError as err:
            st.error(str(err))
    existing = sorted(set(saved.values()))
    pick_col, new_col, go_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    target = pick_col.selectbox("Give them the label", [NEW_LABEL, *existing], key="pl_relabel_to")
    if target == NEW_LABEL:
        target = new_col.text_input("New label", key="pl_new_label", placeholder="e.g. fast")
    go_col.button(f"Relabel {len(chosen)} clip(s)", width="stretch", on_click=relabel_selection,
                  args=(store, chosen["file"].tolist()))


def merge_and_split(clips: pd.DataFrame, saved: dict, vectors: np.ndarray,
                    store: LabelStore) -> None:
    existing = sorted(set(saved.values()))
    if not existing:
        st.info("There are no saved labels yet: run a labelling above and save it, or relabel "
                "a selection.")
        return
    merge_col, split_col = st.columns(2)
    with merge_col:
        merged = st.multiselect("Merge these labels", existing, key="pl_merge")
        into = st.text_input("into", value=merged[0] if merged else "", key="pl_merge_into")
        if st.button("Merge", disabled=len(merged) < 1):
            try:
                record(store, merge_changes(saved, merged, into.strip()),
                       f"merged {', '.join(merged)} into {into.strip()}")
            except ASDError as err:
                st.error(str(err))
    with split_col:
        label = st.selectbox("Split this label in two", existing, key="pl_split")
        st.caption("k-means on the map's features of that label's clips")
        if st.button("Split"):
            rows = np.flatnonzero(clips["file"].map(saved.get) == label)
            try:
                record(store, split_changes(clips["file"].iloc[rows].tolist(), vectors[rows],
                                            label, existing), f"split {label}")
            except ASDError as err:
                st.error(str(err))


def label_table(clips: pd.DataFrame, store: LabelStore, result: dict | None) -> None:
    entries = store.entries()
    table = pd.DataFrame({"file": clips["file"], "domain": clips["domain"],
                          "label": [entries.get(f, {}).get("label") for f in clips["file"]],
                          "source": [entries.get(f, {}).get("source", "") for f in clips["file"]]})
    options = sorted({*store.labels().values(), *(result["labels"].values() if result else ())})
    # Keyed by the store version this session last changed (or first saw): fresh after its
    # own changes, kept (pending edits and all) across other tabs' changes.
    version = st.session_state.setdefault(table_version_key(store), store.state()["version"])
    edited = st.data_editor(
        table, hide_index=True, width="stretch", disabled=["file", "domain", "source"],
        key=f"pl_editor_{store.machine}_{version}",
        column_config={"label": st.column_config.SelectboxColumn(
            "label", options=options, help="New labels: relabel a selection on the map")})
    if st.button("Apply table edits"):
        try:
            record(store, editor_changes(table, edited), "edited in the label table")
        except ASDError as err:
            st.error(str(err))


def history_and_export(clips: pd.DataFrame, store: LabelStore, machine: str) -> None:
    saved = store.labels()
    quality = label_quality(saved, clips) if saved else None
    cols = st.columns(3)
    cols[0].metric("Labelled clips", f"{len(saved)} / {len(clips)}")
    if quality is not None:
        cols[1].metric("ARI against true attributes", f"{quality['ari']:.3f}")
        cols[2].metric("NMI against true attributes", f"{quality['nmi']:.3f}")
    elif saved:
        cols[1].caption("The true attributes of this machine are unknown, so the labels' "
                        "agreement with them cannot be measured.")
    history = store.history()
    if history:
        st.dataframe(pd.DataFrame([{
            "change set": c["change_set"], "time": c["time"][:19].replace("T", " "),
            "source": c["source"], "clips": len(c["changes"]), "note": c["note"]}
            for c in reversed(history)]), hide_index=True, width="stretch")
    target = store.undo_target(history)  # from the history just read: one read per render
    shown_key = f"pl_undo_shown_{machine}"
    shown = st.session_state.get(shown_key)  # what this tab showed when its user clicked
    st.session_state[shown_key] = target["change_set"] if target else None
    undo_col, export_col = st.columns(2)
    if undo_col.button("Undo the last change", disabled=target is None, width="stretch"):
        try:
            undone = store.undo(expected=shown)
            changed_here(store, undone)
            flash(f"Undid change set {undone['undoes']}." if undone else "Nothing left to undo.")
        except ASDError as err:
            flash(str(err), warning=True)
        st.rerun()
    if target is not None:
        undo_col.caption(f"Undo reverts change set {target['change_set']} ({target['source']}, "
                         f"{len(target['changes'])} clip(s), {target['time'][11:19]}), the "
                         "latest, whichever tab or command made it.")
    export_col.download_button(
        "Download the label CSV (for train --labels)", width="stretch", disabled=not saved,
        data=store.csv_text(),
        file_name=f"{machine}_labels.csv", mime="text/csv")


def page() -> None:
    ds = ui.current_dataset()
    if ds is None:
        return
    summaries = ds.machines()
    names = [m["name"] for m in summaries]
    unlabelled = [m["name"] for m in summaries if not m["has_attributes"]]
    if not names:
        st.error("This dataset holds no machines; choose another on the home page.")
        return
    if not unlabelled:
        st.info("Every machine in this dataset has attributes, so none needs pseudo-labels. You "
                "can still label one here, to see how well a method recovers its attributes.")
    machine = st.sidebar.selectbox(
        "Machine", names, index=names.index(unlabelled[0]) if unlabelled else 0,
        key="pl_machine", format_func=lambda n: n if n in unlabelled else f"{n} (has attributes)")
    try:
        clips = machine_clips(ds, machine)
        folder = next(f for f in ds.folders if f.name == machine)
        store, bands = LabelStore(folder.path), BandStore(folder.path).bands()
        saved = store.labels()
    except ASDError as err:
        st.error(str(err))
        return
    if "pl_flash" in st.session_state:
        message, warning = st.session_state.pop("pl_flash")
        (st.warning if warning else st.success)(message)
    st.caption(f"{machine}: {len(clips)} training clips. Labels are kept in {store.path}.")

    result_key = f"pl_result_{machine}"
    st.subheader("1. Make labels")
    make_labels(ds, machine, store, bands, result_key)
    result = st.session_state.get(result_key)
    if result:
        show_result(result, clips, store, result_key)
    elif not saved:
        st.info("No labels yet: run a clustering or an envelope labelling, look at the result, "
                "then save it. You can then correct labels on the map or in the table.")

    st.subheader("2. Map")
    try:
        ids, vectors, mapped = label_map(clips, saved, result, f"pl_map_chart_{machine}",
                                         result["map"] if result else ("spectrum", None, None))
    except ASDError as err:
        st.error(str(err))
        return
    st.subheader("3. Selected clips")
    selected_clips(clips, ids, saved, store)
    st.subheader("4. Merge or split labels")
    merge_and_split(mapped, saved, vectors, store)
    st.subheader("5. Label table")
    label_table(clips, store, result)
    st.subheader("6. History, agreement and export")
    history_and_export(clips, store, machine)


page()

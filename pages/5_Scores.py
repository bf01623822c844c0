"""Scores and report: a run's anomaly scores per machine and domain, ROC curves, the official
metrics, two runs side by side, the clips it scores highest, and the downloads (HTML report,
official submission files)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

import app_pages
import ui
from asdcore import metrics, pipeline, report, results, runs, viz
from asdcore.errors import ASDError

app_pages.run_through_app()  # a deep link before app.py ever ran
st.set_page_config(page_title="Scores - ASD workbench", layout="wide")
st.title("Scores and report")

TOP_CLIPS = 5
METRIC_FORMAT = {column: st.column_config.NumberColumn(format="%.4f")
                 for column in metrics.OFFICIAL_COLUMNS}


@st.cache_data(show_spinner=False, max_entries=16)
def load_scores(run_path: str, backend: str, written_at: float) -> pd.DataFrame:
    """Per-clip scores with their audio paths (``written_at`` renews the entry on rescoring)."""
    run = runs.Run(Path(run_path))
    return results.with_audio_paths(run, backend, pipeline.read_scores(run, backend))


def scores_of(run: runs.Run, backend: str) -> pd.DataFrame:
    return load_scores(str(run.path), backend,
                       (run.scores_dir / f"{backend}.csv").stat().st_mtime)


def pick_backend(run: runs.Run, key: str) -> str | None:
    """The scorer to show: one the run was scored with, or a new one scored on request."""
    scored = results.scored_backends(run)
    possible = list(dict.fromkeys([*scored, *pipeline.backends_for(run.config()["model"])]))
    backend = st.selectbox("Scorer", possible, index=possible.index(report.default_backend(run)),
                           key=key, format_func=lambda b: b if b in scored else f"{b} (not yet)")
    if backend in scored:
        return backend
    if st.button(f"Score {run.name} with {backend}", key=f"{key}-score"):
        bar = ui.StreamlitProgress(f"Scoring with {backend}")
        try:
            pipeline.score_run(run, backend=backend, progress=bar)
        except ASDError as err:
            st.error(str(err))
            return None
        st.rerun()
    return None


def metrics_section(result: dict) -> None:
    summary = result.get("summary") or {}
    cols = st.columns(4)
    score = result.get("official_score")
    cols[0].metric("Official score", "unknown" if score is None else f"{score:.4f}")
    for col, column in zip(cols[1:], metrics.OFFICIAL_COLUMNS, strict=True):
        value = summary.get(f"{column}_hmean")
        col.metric(f"{column} (harmonic mean)", "-" if value is None else f"{value:.4f}")
    if result.get("note"):
        st.info(f"No official metrics: {result['note']}")
    if result.get("table"):
        st.dataframe(results.metrics_table(result), hide_index=True, width="stretch",
                     column_config=METRIC_FORMAT)


def machine_plots(scores: pd.DataFrame) -> pd.DataFrame:
    """Histograms and ROC of the chosen machine; returns its scores."""
    machine = st.selectbox("Machine type", sorted(scores["machine"].unique()))
    of_machine = scores[scores["machine"] == machine]
    left, right = st.columns([3, 2])
    left.plotly_chart(viz.score_histogram_figure(of_machine, results.section_thresholds(of_machine),
                                                 title="Anomaly scores by domain"),
                      width="stretch")
    right.plotly_chart(viz.roc_figure(of_machine, title="ROC (domain normals vs all anomalies)"),
                       width="stretch")
    return of_machine


def comparison(run: runs.Run, backend: str, rows: list[dict]) -> None:
    others = [row["name"] for row in rows if row["name"] != run.name]
    if not others:
        st.caption("Train another run to compare two runs side by side.")
        return
    other_name = st.selectbox("Compare with", ["(none)", *others])
    if other_name == "(none)":
        return
    other = runs.open_run(other_name)
    other_backend = report.default_backend(other)
    first = results.backend_result(run, backend)
    second = results.backend_result(other, other_backend)
    cols = st.columns(2)
    for col, name, chosen, result in ((cols[0], run.name, backend, first),
                                      (cols[1], other_name, other_backend, second)):
        score = result.get("official_score")
        col.metric(f"{name} ({chosen})", "unknown" if score is None else f"{score:.4f}")
    table = results.compare_runs(first, second, (run.name, other_name))
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.4f")
                                for c in table.columns if c not in ("machine", "section")})


def clip_table(scores: pd.DataFrame) -> None:
    ranked = scores.sort_values("score", ascending=False, ignore_index=True)
    event = st.dataframe(ranked[["file", "section", "domain", "label", "score", "decision"]],
                         hide_index=True, width="stretch", height=300,
                         on_select="rerun", selection_mode="single-row", key="score_table")
    chosen = event.selection.rows if event else []
    if chosen:
        clip = ranked.iloc[chosen[0]]
        ui.show_clip(clip["path"], f"{clip['file']} (score {clip['score']:.4g})")
    with st.expander(f"Listen to the {TOP_CLIPS} highest-scored clips"):
        for clip in ranked.head(TOP_CLIPS).itertuples():
            st.caption(f"{clip.file}: {clip.label}, {clip.domain}, score {clip.score:.4g}")
            try:
                ui.audio_player(clip.path)
            except ASDError as err:
                st.error(str(err))


def downloads(run: runs.Run, backend: str) -> None:
    left, right = st.columns(2)
    left.download_button("Download the HTML report", lambda: report.build_report(run, backend),
                         file_name=f"asd-report-{run.name}-{backend}.html", mime="text/html",
                         help="One self-contained file (figures, tables, config); opens offline.")
    try:
        right.download_button("Download the submission files (zip)", report.submission_zip(run),
                              file_name=f"{run.name}-submission.zip", mime="application/zip",
                              help="The official anomaly_score_* and decision_result_* files of "
                                   "the run's latest scoring.")
    except ASDError as err:
        right.info(str(err))


rows = [row for row in runs.list_runs() if results.scored_backends(runs.open_run(row["name"]))]
if not rows:
    ui.offer_quick_run("No run has been scored yet.")
    st.stop()

left, right = st.columns([2, 1])
run = runs.open_run(left.selectbox("Run", [row["name"] for row in rows]))
with right:
    backend = pick_backend(run, "scores_backend")
if backend is None:
    st.stop()
scores = scores_of(run, backend)
result = results.backend_result(run, backend)

metrics_section(result)
st.subheader("Scores per machine")
machine_scores = machine_plots(scores)
st.subheader(f"{machine_scores['machine'].iloc[0]} clips by score")
st.caption("Sort by any column; select a row to listen to the clip and see its spectrogram.")
clip_table(machine_scores)
st.subheader("Compare two runs")
comparison(run, backend, rows)
st.subheader("Export")
downloads(run, backend)

"""Check a recording: upload files or record one, and see each one's verdict with a finished
run: its score against the decision threshold and the normal clips' scores, where in time and
in which mel bands it differs from its nearest normal training clips (played beside it), and a
table of all the files with a CSV download. Uploads stay out of the workspace and the dataset
unless the user adds one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

import app_pages
import ui
from asdcore import check, dataset, runs, viz
from asdcore.errors import ASDError

app_pages.run_through_app()  # a deep link before app.py ever ran
st.set_page_config(page_title="Check - ASD workbench", layout="wide")
st.title("Check a recording")

AUDIO_TYPES = sorted(suffix.lstrip(".") for suffix in dataset.AUDIO_SUFFIXES)


@st.cache_resource(show_spinner=False, max_entries=4)
def loaded_run(run_path: str, changed_at: float) -> check.CheckRun:
    """The run's models and references, kept between reruns (``changed_at`` renews the entry
    when the run is retrained or rescored)."""
    return check.CheckRun(runs.Run(Path(run_path)))


def changed_at(run: runs.Run) -> float:
    """When the run's weights or scores last changed (renews the cached entries)."""
    stamps = [p.stat().st_mtime for p in (run.metrics_path, run.weights_dir) if p.exists()]
    return max(stamps, default=0.0)


@st.cache_data(show_spinner=False, max_entries=16)
def checked_files(run_path: str, changed: float, machine: str, section: str, digest: str,
                  _uploads: list[tuple[str, bytes]]) -> list[dict]:
    """Verdicts on the uploads (``digest`` stands for their names and content)."""
    return check.check_uploads(loaded_run(run_path, changed), _uploads, machine, section)


def uploads_digest(uploads: list[tuple[str, bytes]]) -> str:
    hashed = hashlib.blake2b(repr([name for name, _ in uploads]).encode())
    for _, data in uploads:
        hashed.update(hashlib.blake2b(data).digest())
    return hashed.hexdigest()


def finished_runs() -> list[str]:
    return [row["name"] for row in runs.list_runs() if row["status"] == "done"]


def choose(loaded: check.CheckRun, first_name: str | None) -> tuple[str, str]:
    """Machine and section, preselected from a DCASE file name of the first upload."""
    named = dataset.parse_name(first_name or "")["section"]
    left, right = st.columns(2)
    machine = left.selectbox("Machine type", loaded.machines, key="check_machine")
    sections = loaded.sections(machine)
    # Keyed by the named section too, so a newly uploaded DCASE name preselects again.
    section = right.selectbox("Section", sections, key=f"check_section_{machine}_{named}",
                              index=sections.index(named) if named in sections else 0)
    return machine, section


def inputs() -> list[tuple[str, bytes]]:
    """The uploaded files and the microphone recording, as (name, bytes)."""
    upload_tab, record_tab = st.tabs(["Upload files", "Record"])
    files = upload_tab.file_uploader("Audio files (several at once)", type=AUDIO_TYPES,
                                     accept_multiple_files=True, key="check_uploads")
    recorded = record_tab.audio_input("Record from the microphone", sample_rate=16000,
                                      key="check_recording")
    found = [(f.name, f.getvalue()) for f in files or []]
    if recorded is not None:
        found.append(("recording.wav", recorded.getvalue()))
    return found


def verdict(result: dict, uploads: dict[str, bytes], loaded: check.CheckRun) -> None:
    if result["error"]:
        st.error(f"{result['file']}: {result['error']}")
        return
    ref = loaded.reference(result["machine"], result["section"])
    label = "ANOMALOUS" if result["decision"] else "normal"
    cols = st.columns(4)
    cols[0].metric("Verdict", label)
    cols[1].metric("Score", f"{result['score']:.4g}")
    cols[2].metric("Threshold", f"{result['threshold']:.4g}")
    cols[3].metric("Percentile", f"{result['percentile']:.0f}",
                   help="Percent of the section's normal training clips that score at most "
                        "this much.")
    if result["percentile_test_normal"] is not None:
        st.caption(f"Percentile among the run's normal test clips: "
                   f"{result['percentile_test_normal']:.0f}. Scored: the first "
                   f"{result['scored_seconds']:.1f} s, as the run scores its clips.")
    st.plotly_chart(viz.checked_score_figure(ref.train_scores, ref.test_normal_scores,
                                             result["threshold"], result["score"],
                                             title=f"{result['machine']} section "
                                                   f"{result['section']}: scores of normal clips"),
                    width="stretch")
    explained = result["explanation"]
    left, right = st.columns(2)
    left.plotly_chart(viz.deviation_figure(explained["frame_seconds"],
                                           explained["frame_deviation"], "time (s)",
                                           explained["unit"], "Deviation over time"),
                      width="stretch")
    right.plotly_chart(viz.deviation_figure(explained["band_hz"], explained["band_deviation"],
                                            "mel band centre (Hz)", explained["unit"],
                                            "Deviation per mel band"), width="stretch")
    st.markdown(f"**Listen**: the checked clip and its {len(result['nearest'])} nearest normal "
                f"training clips ({ref.distance}).")
    players = st.columns(1 + len(result["nearest"]))
    players[0].caption(result["file"])
    players[0].audio(uploads[result["file"]])
    for column, near in zip(players[1:], result["nearest"], strict=True):
        column.caption(f"{near['file']} (distance {near['distance']:.3g})")
        with column:
            try:
                ui.audio_player(near["path"])
            except ASDError as err:
                st.error(str(err))


def add_to_dataset(result: dict, data: bytes, loaded: check.CheckRun) -> None:
    """Offer to add the checked file to the run's dataset (explicitly, under a DCASE name)."""
    with st.expander("Add this recording to the dataset"):
        as_what = st.radio("Add it as", ["normal training clip", "normal test clip",
                                         "anomalous test clip"], key="check_add_as")
        if st.button("Add to the dataset", key="check_add"):
            split = "train" if as_what.endswith("training clip") else "test"
            label = "anomaly" if as_what.startswith("anomalous") else "normal"
            try:
                path = check.add_to_dataset(loaded, result["file"], data, result["machine"],
                                            result["section"], split, label)
            except ASDError as err:
                st.error(str(err))
                return
            st.success(f"Added as {path}. Retrain the run for it to count.")


rows = finished_runs()
if not rows:
    ui.offer_quick_run("No run has finished training yet.")
    st.stop()

run = runs.open_run(st.selectbox("Run", rows, key="check_run"))
try:
    loaded = loaded_run(str(run.path), changed_at(run))
except ASDError as err:
    st.error(str(err))
    st.stop()
uploads = inputs()
machine, section = choose(loaded, uploads[0][0] if uploads else None)
if not uploads:
    st.info("Upload audio files or record one to get a verdict.")
    st.stop()

with st.spinner(f"Checking {len(uploads)} file(s)..."):
    try:
        results = checked_files(str(run.path), changed_at(run), machine, section,
                                uploads_digest(uploads), uploads)
    except ASDError as err:
        st.error(str(err))
        st.stop()

table = check.results_table(results)
if len(results) > 1:
    st.subheader("All files")
    st.dataframe(table, hide_index=True, width="stretch")
    st.download_button("Download the verdicts (CSV)", table.to_csv(index=False),
                       file_name=f"verdicts-{run.name}.csv", mime="text/csv")
names = [result["file"] for result in results]
shown = st.selectbox("File", names, key="check_file") if len(names) > 1 else names[0]
result = results[names.index(shown)]
st.subheader(shown)
verdict(result, dict(uploads), loaded)
if not result["error"]:
    add_to_dataset(result, dict(uploads)[shown], loaded)

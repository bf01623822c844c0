"""Streamlit helpers shared by the home page and the pages: thin glue, no computation.

The engine (`asdcore`) does the work; this module adapts its progress callbacks and errors to
Streamlit and caches what is slow.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import soundfile as sf
import streamlit as st

from asdcore import (
    audio,
    dataset,
    features,
    pipeline,
    projection,
    results,
    runs,
    synth,
    viz,
    workers,
    workspace,
)
from asdcore.constants import ANALYSIS_SECONDS
from asdcore.errors import ASDError
from asdcore.models import MODELS


class StreamlitProgress:
    """An engine ``progress(done, total, message)`` callback drawing an ``st.progress`` bar."""

    def __init__(self, label: str):
        self.label = label
        self._bar = st.progress(0.0, text=label)

    def __call__(self, done: int, total: int, message: str = "") -> None:
        fraction = min(max(done / total, 0.0), 1.0) if total else 0.0
        text = f"{self.label}: {done}/{total}" + (f" ({message})" if message else "")
        self._bar.progress(fraction, text=text)

    def clear(self) -> None:
        self._bar.empty()


def dataset_root() -> Path:
    """The dataset the user chose, or the demo (generated on first use with a progress bar)."""
    chosen = workspace.chosen_dataset()
    if chosen is not None:
        return chosen
    root = workspace.demo_dataset_path()
    # Checked in full (manifest, every clip's size) once per session, then only for the
    # manifest, so a page rerun stays cheap; a damaged demo is rebuilt (workspace.ensure_demo).
    if st.session_state.get("_demo_checked") != str(root) or \
            not (root / synth.MANIFEST_NAME).is_file():
        if not workspace.demo_ready():
            bar = StreamlitProgress("Generating the built-in demo dataset (first start only)")
            try:
                workspace.ensure_demo(progress=bar)
            finally:
                bar.clear()
        st.session_state["_demo_checked"] = str(root)
    return root


@st.cache_data(show_spinner="Reading the dataset (file headers only)...", max_entries=8)
def scan_dataset(root: str, generation: int = 0) -> dataset.Dataset:
    """Scan once per (folder, generation); bump ``generation`` to rescan after changes."""
    return dataset.scan(root)


def current_dataset() -> dataset.Dataset | None:
    """Scan the current dataset, showing an error box instead of raising for user problems."""
    try:
        root = dataset_root()
        return scan_dataset(str(root), st.session_state.get("scan_generation", 0))
    except ASDError as err:
        st.error(str(err))
        return None


# Pages show at most this much of a recording (any DCASE clip whole): an hour-long file costs
# no more memory than a minute-long one, in the page's arrays, its cache and the audio player.
VIEW_SECONDS = ANALYSIS_SECONDS


@st.cache_data(show_spinner=False, max_entries=64)
def load_audio(path: str) -> np.ndarray:
    """The first `VIEW_SECONDS` of a clip at the project rate (`asdcore.audio.load`), cached
    per path; raises `ASDError` for a file that cannot be decoded."""
    return audio.load(path, seconds=VIEW_SECONDS)


def shown_part(duration: float) -> str:
    """'' for a clip shown whole, else a note that only its beginning is shown."""
    if duration <= VIEW_SECONDS:
        return ""
    return f"the first {VIEW_SECONDS:g} s of a {duration:.0f} s recording"


def audio_player(path: str) -> None:
    """An audio player for a clip file: the file as it is, or for a recording longer than
    `VIEW_SECONDS` its first `VIEW_SECONDS` (``st.audio`` of a path reads the whole file into
    the server's memory). Raises `ASDError` for a file that cannot be read."""
    try:
        duration = sf.info(path).duration
    except (sf.LibsndfileError, OSError, RuntimeError) as err:
        raise ASDError(f"Cannot read {path}: {err}.") from None
    if duration <= VIEW_SECONDS:
        st.audio(path)
        return
    wav = io.BytesIO()  # 16-bit PCM as decoded: st.audio would rescale a float array's level
    sf.write(wav, load_audio(path), audio.SAMPLE_RATE, format="WAV", subtype="PCM_16")
    st.audio(wav.getvalue(), format="audio/wav")
    st.caption(f"Playing {shown_part(duration)}.")


# --- runs: launch, follow, play clips --------------------------------------------------------

QUICK_RUN = "quick-logmel-stats"


@st.cache_resource(show_spinner=False)
def _umap_warm_up_thread() -> threading.Thread:
    thread = threading.Thread(target=projection.warm_up, name="umap-warm-up", daemon=True)
    thread.start()
    return thread


def warm_umap_in_background() -> None:
    """Compile UMAP's code in a background thread, once per server (about 30 s), so the first
    map is not a long wait. ``ASD_UMAP_WARMUP=0`` turns it off (tests)."""
    if os.environ.get("ASD_UMAP_WARMUP", "1") != "0":
        _umap_warm_up_thread()


def start_run(name: str, config: pipeline.TrainConfig, overwrite: bool = False,
              label_sets: dict[str, dict[str, str]] | None = None) -> runs.Run | None:
    """Queue a run and launch its detached worker; an error box (and None) for user mistakes.
    ``name`` is a run name, never a path: what is typed in a page stays inside workspace/runs."""
    try:
        run = pipeline.queue_run(runs.validate_run_name(name), config, overwrite=overwrite,
                                 label_sets=label_sets)
        pipeline.launch_work(run)
    except ASDError as err:
        st.error(str(err))
        return None
    st.session_state["followed_run"] = run.name
    return run


def offer_quick_run(why: str) -> None:
    """Say why there is nothing to show, how to make a run, and offer the quick training-free
    run (log-mel statistics, about half a minute on the demo), followed live once started."""
    quick = runs.run_path(QUICK_RUN)
    if (quick / "status.json").is_file() and \
            runs.open_run(QUICK_RUN).status()["state"] in runs.ACTIVE_STATES:
        follow_run(runs.open_run(QUICK_RUN))
        return
    st.info(f"{why} Train a model on the **Training** page, or start the quick training-free "
            "run here: log-mel statistics scored by nearest neighbours, about half a minute on "
            "the demo data.")
    if st.button("Train the quick log-mel statistics run", type="primary"):
        config = pipeline.TrainConfig(data=str(dataset_root()), model="logmel-stats")
        if start_run(QUICK_RUN, config, overwrite=True) is not None:
            st.rerun()


def follow_run(run: runs.Run) -> None:
    """A run's live view (status, progress bar, loss curve, messages, cancel; the log of a
    failed run), refreshed every second while the run is active."""
    active = run.status()["state"] in runs.ACTIVE_STATES
    st.fragment(_run_view, run_every=1.0 if active else None)(run, active)


def _run_view(run: runs.Run, was_active: bool) -> None:
    status = run.status()
    state = status["state"]
    if was_active and state not in runs.ACTIVE_STATES:
        st.rerun()  # the whole page: run lists and results change, polling stops
    events = run.progress()
    fraction, message = results.progress_state(events)
    if state in runs.ACTIVE_STATES:
        st.progress(fraction, text=f"{run.name} ({state}): {message}")
        if st.button("Cancel this run", key=f"cancel-{run.name}"):
            with st.spinner("Stopping the worker..."):
                workers.cancel(run, grace_s=5.0)
            st.rerun()
    elif state == "done":
        score = (run.metrics() or {}).get("official_score")
        st.success(f"{run.name} is done" + (f": official score {score:.4f}." if score is not None
                                           else "."))
    else:
        if state == "cancelled":
            st.warning(f"{run.name} was cancelled ({status.get('error') or 'on request'}).")
        else:
            st.error(f"{run.name} failed: {status.get('error') or 'no reason recorded'}")
            st.code(run.log_tail(4000) or "(the log is empty)", language=None)
        resume_button(run)
    curve = results.loss_curve(events)
    if not curve.empty:
        st.plotly_chart(viz.loss_curve_figure(curve), width="stretch",
                        key=f"loss-{run.name}-{len(events)}")
    recent = list(dict.fromkeys(e.get("message", "") for e in reversed(events[-200:])))[:6]
    if recent and state in runs.ACTIVE_STATES:
        st.caption("Latest: " + " · ".join(m for m in recent if m))


def resume_button(run: runs.Run) -> None:
    """Start a failed or cancelled run again: a joint model (the seed model) resumes from its
    last checkpoint, other models train afresh; the run keeps its name and settings."""
    model = MODELS.get(run.config().get("model", ""))  # None for a run of an unknown model
    resumes = model is not None and model.trains_jointly
    label = "Resume from the last checkpoint" if resumes else "Run it again"
    if st.button(label, key=f"resume-{run.name}"):
        try:
            pipeline.launch_work(runs.reopen(run))
        except ASDError as err:
            st.error(str(err))
            return
        st.session_state["followed_run"] = run.name
        st.rerun()


@st.cache_data(show_spinner=False, max_entries=32)
def model_logmel(path: str) -> np.ndarray:
    """The log-mel spectrogram the models see: the clip fitted to the front end's length."""
    config = features.LogMelConfig()
    return features.logmel(audio.fit_length(load_audio(path), config.n_samples), config.sr, config)


def show_clip(path: str, title: str) -> None:
    """A clip's audio player and its log-mel spectrogram (as the model sees it)."""
    try:
        audio_player(path)
        st.plotly_chart(viz.logmel_figure(model_logmel(path), features.LogMelConfig().seconds,
                                          title=title), width="stretch")
    except ASDError as err:
        st.error(str(err))

"""Streamlit helpers shared by the home page and the pages: thin glue, no computation.

The engine (`asdcore`) does the work; this module adapts its progress callbacks and errors to
Streamlit and caches what is slow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from asdcore import audio, dataset, synth, workspace
from asdcore.errors import ASDError


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
    if not (root / synth.MANIFEST_NAME).is_file():
        bar = StreamlitProgress("Generating the built-in demo dataset (first start only)")
        synth.generate(root, preset=workspace.demo_preset(), seed=workspace.DEFAULT_DEMO_SEED,
                       progress=bar)
        bar.clear()
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


@st.cache_data(show_spinner=False, max_entries=64)
def load_audio(path: str) -> np.ndarray:
    """A clip at the project rate (`asdcore.audio.load`), cached per path; raises `ASDError`
    for a file that cannot be decoded."""
    return audio.load(path)

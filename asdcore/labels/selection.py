"""Which clips a labelling works on, and what a label may look like."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from asdcore import audio
from asdcore.dataset import Dataset
from asdcore.errors import ASDError
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report

# Labels become class names in training and cells in CSV files: keep them plain.
LABEL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")


def validate_label(label: str) -> str:
    """Return ``label`` if it is a valid label, else raise `ASDError` saying why."""
    if not isinstance(label, str) or not LABEL_PATTERN.fullmatch(label):
        raise ASDError(f"Invalid label {label!r}: use 1 to 64 letters, digits, '_', '.', '+' or "
                       "'-', starting with a letter or digit.")
    return label


def machine_clips(ds: Dataset, machine: str, splits: Iterable[str] = ("train",)) -> pd.DataFrame:
    """The clips of one machine folder in ``splits`` (supplemental noise clips left out).

    Raises `ASDError` when the machine is unknown, has no such clips, or names two folders (a
    dev and an eval folder of the same machine: give the one meant as DATA).
    """
    folders = [f for f in ds.folders if f.name == machine]
    if not folders:
        known = ", ".join(sorted({f.name for f in ds.folders}))
        raise ASDError(f"There is no machine {machine!r} in {ds.root}; known machines: {known}.")
    if len(folders) > 1:
        raise ASDError(f"The machine {machine!r} has {len(folders)} folders in {ds.root} "
                       f"({', '.join(f.rel for f in folders)}); give the one you mean as DATA.")
    splits = tuple(splits)
    clips = ds.clips
    chosen = clips[(clips["machine"] == machine) & clips["split"].isin(splits)
                   & (clips["supplemental_kind"] != "noise")]
    if chosen.empty:
        raise ASDError(f"The machine {machine!r} has no {'/'.join(splits)} clips to label.")
    return chosen.reset_index(drop=True)


def load_each(paths: list[str], compute, progress: ProgressFn | None = None,
              cancel: CancelFn | None = None, message: str = "") -> np.ndarray:
    """``compute(waveform)`` for every clip at the project rate, stacked into one array."""
    rows = []
    for i, path in enumerate(paths):
        check_cancel(cancel)
        rows.append(compute(audio.load(path)))
        report(progress, i + 1, len(paths), message)
    return np.stack(rows)

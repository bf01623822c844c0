"""Which clips a labelling works on, and what a label may look like."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable

import numpy as np
import pandas as pd
import soundfile as sf

from asdcore import audio
from asdcore.constants import ANALYSIS_SECONDS
from asdcore.dataset import Dataset
from asdcore.errors import ASDError, Cancelled, DiskFull
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report

# Labels become class names in training and cells in CSV files: keep them plain.
LABEL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
BAND_RATE_SAMPLE = 32  # files whose headers decide a machine's analysis rate


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
              cancel: CancelFn | None = None, message: str = "",
              seconds: float = ANALYSIS_SECONDS, sr: int = audio.SAMPLE_RATE
              ) -> tuple[np.ndarray, dict[int, str]]:
    """``compute(waveform)`` for the first ``seconds`` of every clip at ``sr`` (the project
    rate by default): ``(rows stacked, skipped)``.

    A clip that cannot be read (removed or damaged since the scan) or analysed (too short for
    ``compute``) is skipped, not fatal: ``skipped`` maps its index in ``paths`` to the reason,
    and it has no row. Raises `ASDError` when no clip at all can be used.
    """
    rows, skipped = [], {}
    for i, path in enumerate(paths):
        check_cancel(cancel)
        try:
            rows.append(compute(audio.load(path, sr, seconds=seconds)))
        except (Cancelled, DiskFull):
            raise
        except ASDError as err:
            skipped[i] = unusable_reason(path, err)
        except ValueError as err:  # e.g. a clip of a few samples for a filter
            skipped[i] = f"cannot be analysed ({err})"
        report(progress, i + 1, len(paths), message)
    if not rows:
        raise ASDError(f"None of the {len(paths)} clips could be used; the first: "
                       f"{paths[0]}: {skipped[0]}.")
    return np.stack(rows), skipped


def analysis_rate(paths: list[str]) -> int:
    """The sample rate most of ``paths`` were recorded at (the project rate when none can be
    read): envelope analysis runs at the files' own rate, so vibration sampled at 12 or 48 kHz
    keeps what lies above 8 kHz and is not interpolated."""
    rates = []
    for path in paths[:BAND_RATE_SAMPLE]:
        try:
            rates.append(sf.info(path).samplerate)
        except (sf.LibsndfileError, OSError, RuntimeError):
            continue
    return int(Counter(rates).most_common(1)[0][0]) if rates else audio.SAMPLE_RATE


def unusable_reason(path: str | os.PathLike, err: Exception) -> str:
    """An error's sentence about ``path`` without the path it repeats ("Cannot read P: ...")."""
    text = str(err).rstrip(".")
    prefix = f"Cannot read {path}: "
    return ("cannot be read: " + text[len(prefix):]) if text.startswith(prefix) else text

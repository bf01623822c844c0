"""Auxiliary machines: other machine types' normal training clips that train a joint embedding
model beside the user's as extra classes, and are never scored.

The seed recipe learns its embedding by telling machine x section x domain x attribute classes
apart, on seven machine types at once. Data of a single machine type in one state leaves it two
classes (source, target), too easy a task to teach an embedding much (bench/RESULTS.md,
"Auxiliary machines"). A setting names where the extra machines come from:

- ``none``: only the machines given (the recipe);
- ``demo``: the built-in demo dataset's machines (generated once into the cache);
- ``auto``: ``demo`` when the training clips hold a single machine type, else ``none``;
- any other value: a dataset folder in the DCASE layout.

An auxiliary machine whose name the user's data already has is left out (the user's own clips
decide what that name means). The auxiliary machines' names carry `PREFIX`, so their classes
never merge with the user's. A model trained with them saves their `summary` (the folder,
machines, clips and a fingerprint of the audio), so a later retraining can tell whether the same
clips were used: the demo is regenerated whenever its generator version changes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from asdcore import dataset, workspace
from asdcore.errors import ASDError
from asdcore.progress import CancelFn, ProgressFn, report

MODES = ("none", "auto", "demo")  # or a dataset folder
PREFIX = "auxiliary-"
SETTING_HELP = ("Other machine types trained beside yours as extra classes and never scored: "
                "none (the recipe), auto (the built-in demo's machines when your data holds a "
                "single machine type), demo (always). The command line also takes a dataset "
                "folder.")


def setting_value(value) -> str:
    """``value`` checked as a setting: a mode as it is, a folder made absolute where it is
    given (a run's worker process starts in another folder)."""
    if not isinstance(value, str) or not value.strip():
        raise ASDError("The seed model setting auxiliary_machines needs a value: one of "
                       f"{', '.join(MODES)} or a dataset folder.")
    return value if value in MODES else str(Path(value).expanduser().resolve())


def check_folder(setting: str) -> None:
    """A clear error when ``setting`` is neither a mode nor an existing folder (a misspelt
    mode reads as a folder)."""
    if setting not in MODES and not Path(setting).is_dir():
        raise ASDError(f"The auxiliary machines' folder {setting} does not exist; give one of "
                       f"{', '.join(MODES)} or a dataset folder.")


def source_for(setting: str, machines: list[str]) -> str | None:
    """Where the auxiliary machines come from for training clips of ``machines``: ``"demo"``,
    a folder, or None (no auxiliary machines)."""
    if setting == "none" or (setting == "auto" and len(set(machines)) != 1):
        return None
    return "demo" if setting in ("auto", "demo") else setting


def auxiliary_clips(setting: str, train: pd.DataFrame, progress: ProgressFn | None = None,
                    cancel: CancelFn | None = None) -> pd.DataFrame:
    """The normal training clips of the auxiliary machines ``setting`` asks for, beside the
    user's training clips ``train``, with `PREFIX` before each machine name (an empty table
    when there are none to add)."""
    source = source_for(setting, train["machine"].tolist())
    if source is None:
        return train.iloc[:0]
    check_folder(source)  # again: a folder may have gone since the run was queued
    folder = workspace.ensure_demo(progress=progress, cancel=cancel) if source == "demo" \
        else Path(source)
    clips = dataset.scan(folder, progress=progress, cancel=cancel).clips
    taken = set(train["machine"])
    clips = clips[(clips["split"] == "train") & ~clips["machine"].isin(taken)
                  & ~(PREFIX + clips["machine"]).isin(taken)]
    if clips.empty:
        raise ASDError(f"The auxiliary dataset {folder} has no training clips of a machine type "
                       f"other than {', '.join(sorted(taken))}.")
    report(progress, 0, 1, f"training beside {clips['machine'].nunique()} auxiliary machine "
           f"types from {folder} ({len(clips)} clips)")
    return clips.assign(machine=PREFIX + clips["machine"])


def summary(clips: pd.DataFrame) -> dict | None:
    """What `auxiliary_clips` gave, to save with the model: the dataset folders, machine
    types, number of clips and the SHA-256 of their audio files in name order (None when
    there were none)."""
    if clips.empty:
        return None
    digest = hashlib.sha256()
    for path in sorted(clips["path"]):
        digest.update(Path(path).read_bytes())
    folders = {path[:-len(clip_id)].rstrip("/\\")
               for path, clip_id in zip(clips["path"], clips["clip_id"], strict=True)}
    return {"folders": sorted(folders), "machines": sorted(clips["machine"].unique()),
            "clips": int(len(clips)), "sha256": digest.hexdigest()}

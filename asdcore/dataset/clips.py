"""`scan`: a DCASE-layout dataset on disk -> one clip table (pandas), plus what is wrong with it.

The scan reads only file headers, never samples, and works in five steps:

1. discovery (`discover`): machine folders (bounded depth, hidden folders skipped, symlink
   loops cut) and the candidate audio files in their ``train/``, ``test/`` and
   ``supplemental/`` folders;
2. header reading (`discover.read_headers`): sample rate, channels, frames, format; broken files
   become `Problem`s;
3. name parsing (`names.parse_name`): section, domain, split, label, clip number, attributes;
4. joins (`mappings`): attribute tables, eval ground-truth mappings and attribute
   correspondence files with the true attributes of attribute-less machines;
5. the table: one row per readable clip, sorted by machine, split, name (columns in
   `CLIP_COLUMNS`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from asdcore.dataset.discover import (
    MachineFolder,
    Problem,
    duplicate_machine_problems,
    find_machine_folders,
    list_audio_files,
    read_headers,
)
from asdcore.dataset.mappings import (
    join_attribute_table,
    join_ground_truth,
    join_true_attributes,
    read_attribute_tables,
    read_mappings,
)
from asdcore.dataset.names import SPLITS, parse_attributes, parse_name, supplemental_kind
from asdcore.errors import ASDError
from asdcore.progress import CancelFn, ProgressFn

CLIP_COLUMNS = [
    "clip_id", "path", "file", "subset", "machine", "section", "domain", "split", "label",
    "index", "attributes", "attr", "true_attributes", "supplemental_kind", "naming",
    "duration", "sample_rate", "channels", "frames", "subtype", "format",
]


@dataclass
class Dataset:
    root: Path
    clips: pd.DataFrame
    problems: list[Problem]
    folders: list[MachineFolder] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """At least one machine with readable clips."""
        return not self.clips.empty

    def trainable_machines(self) -> list[str]:
        """The machines that have training clips, in name order: what training can use."""
        return sorted(self.clips.loc[self.clips["split"] == "train", "machine"].unique())

    def machines(self) -> list[dict]:
        """One summary dict per machine folder (JSON-able values only)."""
        return [_machine_summary(folder, self._clips_of(folder), self._problems_of(folder))
                for folder in self.folders]

    def info(self) -> dict:
        """Everything `python -m asdcore info --json` prints."""
        return {
            "root": str(self.root),
            "usable": self.usable,
            "n_clips": int(len(self.clips)),
            "machines": self.machines(),
            "problems": [p.as_row() for p in self.problems],
        }

    def problems_of(self, machines: Iterable[str], splits: Iterable[str] = SPLITS) -> list[Problem]:
        """The problems (files left out) in the ``splits`` folders of the ``machines``: what a
        job on those clips skips."""
        machines, splits = set(machines), tuple(splits)
        found = []
        for folder in self.folders:
            if folder.name not in machines:
                continue
            prefix = "" if folder.rel == "." else folder.rel + "/"
            found += [p for p in self.problems
                      if any(p.file.startswith(f"{prefix}{split}/") for split in splits)]
        return found

    def _clips_of(self, folder: MachineFolder) -> pd.DataFrame:
        prefix = str(folder.path) + os.sep
        return self.clips[self.clips["path"].str.startswith(prefix)]

    def _problems_of(self, folder: MachineFolder) -> list[Problem]:
        if folder.rel == ".":
            return list(self.problems)
        return [p for p in self.problems
                if p.file == folder.rel or p.file.startswith(folder.rel + "/")]



def scan(data, mapping=None, progress: ProgressFn | None = None,
         cancel: CancelFn | None = None) -> Dataset:
    """Read a DCASE-layout dataset's file headers and names into a `Dataset`.

    ``mapping``: an eval ground-truth file or a folder of them (see the module docstring);
    ``eval_data_list*.csv`` files lying above the machine folders are used automatically.
    Raises `ASDError` when DATA (or ``mapping``) does not exist, or holds no machine folder.
    """
    root = Path(data).expanduser()
    if not root.exists():
        raise ASDError(f"The dataset folder {root} does not exist.")
    if not root.is_dir():
        raise ASDError(f"The dataset path {root} is not a folder.")
    mapping_path = Path(mapping).expanduser() if mapping is not None else None
    if mapping_path is not None and not mapping_path.exists():
        raise ASDError(f"The mapping file or folder {mapping_path} does not exist.")
    root = Path(os.path.normpath(root.absolute()))  # also folds `..` for display

    # 1. discovery
    folders, list_files = find_machine_folders(root, cancel)
    if not folders:
        raise ASDError(
            f"No machine folders found in {root}: expected a folder of machine folders (each "
            "holding train/ and test/), such as dev_data/raw, a folder above it, or one machine "
            "folder.")
    problems = duplicate_machine_problems(folders)
    candidates, listing_problems = list_audio_files(root, folders)
    problems += listing_problems

    # 2. header reading
    headers = read_headers([c["path"] for c in candidates], progress, cancel)

    # 3. name parsing
    rows = []
    for candidate, header in zip(candidates, headers, strict=True):
        if isinstance(header, str):
            problems.append(Problem(candidate["clip_id"], header))
            continue
        row = _clip_row(candidate, header)
        if row["naming"] == "unknown":
            problems.append(Problem(candidate["clip_id"], "file name does not follow the DCASE "
                                                          "naming scheme, so it is not used."))
            continue
        rows.append(row)

    # 4. joins: eval mappings, attribute tables, true-attribute correspondences
    ground_truth, truth, mapping_problems = read_mappings(root, list_files, mapping_path, folders)
    problems += mapping_problems
    join_ground_truth(rows, ground_truth)
    for folder in folders:
        table, table_problems = read_attribute_tables(root, folder)
        problems += table_problems
        join_attribute_table([row for row in rows if row["_folder"] is folder], table)
    join_true_attributes(rows, truth)

    # 5. the table
    return Dataset(root=root, clips=_clip_table(rows), folders=folders,
                   problems=sorted(set(problems), key=lambda p: (p.file, p.reason)))


# 3. name parsing ----------------------------------------------------------------------------


def _clip_row(candidate: dict, header: dict) -> dict:
    folder: MachineFolder = candidate["folder"]
    parsed = parse_name(candidate["name"])
    split = candidate["split"]  # the folder decides; names may omit the split
    label = parsed["label"]
    if split == "train" and label == "unknown":
        label = "normal"  # DCASE training data is normal by definition
    kind = parsed["supplemental_kind"] if split == "supplemental" else ""
    if split == "supplemental" and not kind:
        kind = supplemental_kind([], parsed["attributes"])
    return {
        "clip_id": candidate["clip_id"],
        "path": candidate["path"],
        "file": f"{folder.name}/{split}/{candidate['name']}",
        "subset": folder.subset,
        "machine": folder.name,
        "section": parsed["section"],
        "domain": parsed["domain"],
        "split": split,
        "label": label,
        "index": parsed["index"],
        "attributes": parsed["attributes"],
        "attr": parse_attributes(parsed["attributes"]),
        "true_attributes": "",
        "supplemental_kind": kind,
        "naming": parsed["naming"],
        **header,
        "_folder": folder,
        "_name": candidate["name"],
        "_mapped_name": "",
    }



# 5. the table -------------------------------------------------------------------------------


_SPLIT_ORDER = {split: i for i, split in enumerate(SPLITS)}


def _clip_table(rows: list[dict]) -> pd.DataFrame:
    rows = sorted(rows, key=lambda r: (r["machine"], _SPLIT_ORDER[r["split"]], r["_name"],
                                       r["clip_id"]))
    table = pd.DataFrame([{c: r[c] for c in CLIP_COLUMNS} for r in rows], columns=CLIP_COLUMNS)
    for column in ("index", "sample_rate", "channels", "frames"):
        table[column] = table[column].astype("int64")
    table["duration"] = table["duration"].astype("float64")
    return table


# --------------------------------------------------------------------------------------------
# Summaries


def _machine_summary(folder: MachineFolder, clips: pd.DataFrame, problems: list[Problem]) -> dict:
    split = clips["split"]
    train = clips[split == "train"]
    labelled = clips[split != "supplemental"]
    keys = sorted({key for pairs in labelled["attr"] for key in pairs})
    return {
        "name": folder.name,
        "subset": folder.subset,
        "path": str(folder.path),
        "sections": sorted(set(clips["section"]) - {""}),
        "n_train": int((split == "train").sum()),
        "n_test": int((split == "test").sum()),
        "n_supplemental": int((split == "supplemental").sum()),
        "n_source": int((train["domain"] == "source").sum()),
        "n_target": int((train["domain"] == "target").sum()),
        "has_attributes": bool(keys),
        "attribute_keys": keys,
        "has_ground_truth_attributes": bool((clips["true_attributes"] != "").any()),
        "durations": {"min": float(clips["duration"].min()), "max": float(clips["duration"].max())}
        if len(clips) else {"min": None, "max": None},
        "sample_rates": sorted(int(v) for v in set(clips["sample_rate"])),
        "channels": sorted(int(v) for v in set(clips["channels"])),
        "n_problems": len(problems),
    }


def overview(clips: pd.DataFrame) -> pd.DataFrame:
    """Clip counts per subset, machine, split, domain and label (the app's home page table)."""
    keys = ["subset", "machine", "split", "domain", "label"]
    counts = clips.groupby(keys, sort=False).size().rename("clips").reset_index()
    counts["_split"] = counts["split"].map(_SPLIT_ORDER)
    return (counts.sort_values(["machine", "subset", "_split", "domain", "label"])
            .drop(columns="_split").reset_index(drop=True))


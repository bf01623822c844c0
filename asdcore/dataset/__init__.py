"""DCASE Task 2 datasets on disk -> one clip table (pandas), plus what is wrong with them.

`scan(DATA)` accepts a folder of machine folders (``.../dev_data/raw``), any folder above it
(``.../dcase2025t2`` holding ``dev_data/raw`` and ``eval_data/raw``) or a single machine folder.
A machine folder is any folder holding ``train/``, ``test/`` or ``supplemental/``.

- `names`: the file-name grammar (`parse_name`, `parse_attributes`) and its vocabulary;
- `discover`: machine folders, candidate files, file headers, `Problem`s;
- `mappings`: attribute tables, eval ground truth and correspondence files;
- `clips`: `scan`, the `Dataset` it returns and the clip table.
"""

from asdcore.dataset.clips import CLIP_COLUMNS, Dataset, overview, scan
from asdcore.dataset.discover import MachineFolder, Problem, find_machine_folders
from asdcore.dataset.names import (
                                   AUDIO_SUFFIXES,
                                   DOMAINS,
                                   LABELS,
                                   NO_ATTRIBUTE,
                                   SPLITS,
                                   parse_attributes,
                                   parse_name,
                                   supplemental_kind,
)

__all__ = [
    "AUDIO_SUFFIXES", "CLIP_COLUMNS", "DOMAINS", "LABELS", "NO_ATTRIBUTE", "SPLITS", "Dataset",
    "MachineFolder", "Problem", "find_machine_folders", "overview", "parse_attributes",
    "parse_name", "scan", "supplemental_kind",
]

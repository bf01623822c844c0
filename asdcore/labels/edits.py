"""Manual label edits planned as change dicts (``file`` -> new label, None removes a label) for
`LabelStore.apply`: relabel a selection, merge labels, split a label in two, and the cells a
user changed in the label table. Pure functions: the store records what they plan.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import numpy as np
import pandas as pd

from asdcore.errors import ASDError
from asdcore.labels.clustering import cluster_points, reduce
from asdcore.labels.selection import validate_label


def relabel_changes(files: Iterable[str], label: str, current: Mapping[str, str]) -> dict[str, str]:
    """Give every clip of ``files`` the ``label`` (clips that already have it are left out)."""
    validate_label(label)
    return {file: label for file in files if current.get(file) != label}


def merge_changes(current: Mapping[str, str], merged: Collection[str], into: str) -> dict[str, str]:
    """Relabel every clip whose label is one of ``merged`` as ``into``."""
    validate_label(into)
    if not merged:
        raise ASDError("Choose the labels to merge.")
    return {file: into for file, label in current.items() if label in merged and label != into}


def fresh_labels(base: str, count: int, taken: Collection[str]) -> list[str]:
    """``count`` labels ``<base>-1``, ``<base>-2`` ... that are not in ``taken``."""
    names, number = [], 1
    while len(names) < count:
        name = f"{base[:58]}-{number}"
        if name not in taken:
            names.append(name)
        number += 1
    return names


def split_changes(files: list[str], vectors: np.ndarray, label: str, taken: Collection[str],
                  seed: int = 0) -> dict[str, str]:
    """Split the clips ``files`` (all labelled ``label``, feature rows ``vectors``) in two by
    k-means on their PCA-reduced features; the larger part becomes ``<label>-1``."""
    if len(files) < 2:
        raise ASDError(f"The label {label} has {len(files)} clip(s); a split needs at least two.")
    if len(np.unique(vectors, axis=0)) < 2:
        raise ASDError(f"The clips labelled {label} all have the same features; there is "
                       "nothing to split them by.")
    groups, _ = cluster_points(reduce(vectors, "pca", seed=seed), "kmeans", 2, seed=seed)
    larger_first = np.argsort(-np.bincount(groups, minlength=2), kind="stable")
    names = dict(zip(larger_first.tolist(), fresh_labels(label, 2, set(taken) - {label}),
                     strict=True))
    return {file: names[int(group)] for file, group in zip(files, groups, strict=True)}


def _label_or_none(value) -> str | None:
    """A table cell as a label: blank, None and NaN are no label."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    value = str(value).strip()
    return value or None


def editor_changes(before: pd.DataFrame, after: pd.DataFrame) -> dict[str, str | None]:
    """The label changes a user made in the label table: rows matched on ``file``, only cells
    whose ``label`` differs (a cleared cell removes the label)."""
    old = {file: _label_or_none(value)
           for file, value in zip(before["file"], before["label"], strict=True)}
    changes = {}
    for file, value in zip(after["file"], after["label"], strict=True):
        new = _label_or_none(value)
        if file in old and new != old[file]:
            changes[file] = new if new is None else validate_label(new)
    return changes

"""The label store: a machine's current pseudo-labels, their append-only history, undo, and the
label CSV that ``train --labels`` reads.

Labels are the user's precious work (reviewed and corrected by hand), so they live in the
workspace, never in the cache::

    workspace/labels/<dataset key>/<machine>/
        labels.json     current labels: {"version": N, "labels": {file: entry}}
        history.jsonl   one change set per line: change_set, time, source, note, params, changes
        .lock           flock'ed around every read-modify-write

Clips are keyed by ``file`` (``<machine>/<split>/<name>``, the clip table's column and the label
CSV's), which does not depend on the level of the dataset folder a user opened. The dataset
key is a readable slug of the folder holding the machine folders plus a hash of its full path.

Every change takes the lock (so two writers, two browser tabs say, never lose each other's
edits), appends its change set to the history, then atomically replaces labels.json with the
version number of that change set. A crash before the replace leaves the previous labels
intact; the history line it may have left has a number above the labels' version and is
ignored (and superseded by the next change set of that number), as is a torn last line.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from filelock import FileLock

from asdcore.atomic import write_json, write_text
from asdcore.dataset import find_machine_folders
from asdcore.errors import ASDError, writing
from asdcore.labels.selection import validate_label
from asdcore.paths import workspace_dir

SOURCES = ("cluster", "envelope", "manual", "import", "undo")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


def labels_root() -> Path:
    return workspace_dir() / "labels"


def _short_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=4).hexdigest()


def safe_component(name: str) -> str:
    """``name`` as one harmless folder name: itself when plain, else a slug plus a hash."""
    if _SAFE_NAME.fullmatch(name) and not name.startswith("."):
        return name
    slug = _UNSAFE_CHARS.sub("_", name).strip("._")[:60] or "x"
    return f"{slug}-{_short_hash(name)}"


def dataset_key(machines_parent: str | os.PathLike) -> str:
    """Folder name for the dataset whose machine folders lie in ``machines_parent``:
    ``asd_demo-dev_data-raw-1a2b3c4d`` (its last three path parts, and a hash of the path)."""
    path = Path(machines_parent).resolve()
    slug = _UNSAFE_CHARS.sub("_", "-".join(path.parts[-3:])).strip("._-")[:60] or "root"
    return f"{slug}-{_short_hash(str(path))}"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class LabelStore:
    """The labels of one machine folder. Nothing is cached: every call reads the files."""

    def __init__(self, machine_folder: str | os.PathLike):
        folder = Path(machine_folder).resolve()
        self.machine = folder.name
        self.machine_folder = folder
        root = labels_root()
        self.path = root / dataset_key(folder.parent) / safe_component(folder.name)
        # A symlink planted in the workspace must not lead the store elsewhere.
        if root.exists() and not self.path.resolve().is_relative_to(root.resolve()):
            raise ASDError(f"The label folder {self.path} leads outside the workspace; "
                           "refusing it.")

    @classmethod
    def open(cls, data: str | os.PathLike, machine: str) -> LabelStore:
        """The store of ``machine`` in the dataset folder ``data`` (any level, as `scan`)."""
        return cls(single_machine_folder(data, machine))

    @property
    def labels_path(self) -> Path:
        return self.path / "labels.json"

    @property
    def history_path(self) -> Path:
        return self.path / "history.jsonl"

    # --- reading ---
    def state(self) -> dict:
        """labels.json as stored: ``{"version": N, "labels": {file: entry}}``."""
        try:
            state = json.loads(self.labels_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 0, "labels": {}}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ASDError(f"The label file {self.labels_path} is unreadable: {err}.") from err
        return state

    def entries(self) -> dict[str, dict]:
        """``file`` -> entry: ``label``, ``source``, ``change_set``, ``time`` and ``extra``
        (e.g. the characteristic frequency an envelope label came from)."""
        return self.state()["labels"]

    def labels(self) -> dict[str, str]:
        """``file`` -> current label."""
        return {file: entry["label"] for file, entry in self.entries().items()}

    def history(self) -> list[dict]:
        """The committed change sets, oldest first."""
        return self._history(self.state()["version"])

    def _history(self, version: int) -> list[dict]:
        if not self.history_path.exists():
            return []
        committed: dict[int, dict] = {}
        for line in self.history_path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError, TypeError, KeyError):
                change_set = json.loads(line)
                if change_set["change_set"] <= version:  # later numbers: a write that crashed
                    committed[change_set["change_set"]] = change_set  # the last one counts
        return [committed[n] for n in sorted(committed)]

    # --- writing ---
    def apply(self, changes: Mapping[str, str | None], source: str, note: str = "",
              extra: Mapping[str, Mapping] | None = None, params: Mapping | None = None,
              unless_changed_since: int | None = None) -> dict | None:
        """Set the labels ``changes`` (``file`` -> label; None removes a label) as one change set.

        ``extra`` adds per-clip facts kept with the label (``{"frequency_hz": 55.1}``), ``params``
        how the labels were made. Clips not in ``changes`` keep their labels.
        ``unless_changed_since``: the store version the changes were computed from; a clip
        whose label was set after it (another tab's hand edit while a clustering ran) keeps
        that label, and the change set lists it under ``kept_newer``. Returns the change set
        recorded, or None when nothing changed.
        """
        if source not in SOURCES:
            raise ValueError(f"unknown label source {source!r}")
        for label in changes.values():
            if label is not None:
                validate_label(label)
        extra = extra or {}
        with self._locked() as state:
            items, kept_newer = [], []
            for file, label in changes.items():
                old = state["labels"].get(file)
                if unless_changed_since is not None and old is not None \
                        and old["change_set"] > unless_changed_since:
                    kept_newer.append(file)
                    continue
                new_extra = dict(extra.get(file, {}))
                if old is None and label is None:
                    continue
                if old is not None and old["label"] == label and old.get("extra", {}) == new_extra:
                    continue
                item = {"file": file, "old": old["label"] if old else None, "new": label}
                if old and old.get("extra"):
                    item["old_extra"] = old["extra"]
                if new_extra and label is not None:
                    item["extra"] = new_extra
                items.append(item)
            fields = {"kept_newer": kept_newer} if kept_newer else {}
            return self._commit(state, items, source, note, dict(params or {}), **fields)

    def undo_target(self, history: list[dict] | None = None) -> dict | None:
        """The change set `undo` would revert now (from any tab or the command line), or None;
        ``history`` is `history()` when the caller has just read it."""
        return _last_undoable(self.history() if history is None else history)

    def undo(self, expected: int | None = None) -> dict | None:
        """Revert the last change set not yet undone (repeat to walk further back); returns the
        reverting change set, or None when there is nothing to undo.

        ``expected``: the change set the user was shown as the one to undo; when another tab
        or the command line has changed the labels since, nothing is undone and `ASDError`
        says so, rather than reverting a change the user did not see.
        """
        with self._locked() as state:
            target = _last_undoable(self._history(state["version"]))
            if expected is not None and (target is None or target["change_set"] != expected):
                now = f"change set {target['change_set']}" if target else "nothing"
                raise ASDError(f"Nothing was undone: the labels changed since this page showed "
                               f"change set {expected} as the last change (another tab or the "
                               f"command line); the last change is now {now}.")
            if target is None:
                return None
            items = []
            for item in reversed(target["changes"]):
                current = state["labels"].get(item["file"])
                back = {"file": item["file"], "old": current["label"] if current else None,
                        "new": item["old"]}
                if current and current.get("extra"):
                    back["old_extra"] = current["extra"]
                if item.get("old_extra") and item["old"] is not None:
                    back["extra"] = item["old_extra"]
                items.append(back)
            return self._commit(state, items, "undo", f"undo of change set {target['change_set']}",
                                {}, undoes=target["change_set"])

    def _commit(self, state: dict, items: list[dict], source: str, note: str, params: dict,
                **fields) -> dict | None:
        if not items and "undoes" not in fields:
            return None
        number, time = state["version"] + 1, _now()
        change_set = {"change_set": number, "time": time, "source": source, "note": note,
                      "params": params, **fields, "changes": items}
        self._append_history(change_set)
        for item in items:
            if item["new"] is None:
                state["labels"].pop(item["file"], None)
            else:
                state["labels"][item["file"]] = {
                    "label": item["new"], "source": source, "change_set": number, "time": time,
                    "extra": item.get("extra", {})}
        state["version"] = number
        state["machine"] = self.machine
        state["machine_folder"] = str(self.machine_folder)
        write_json(self.labels_path, state)
        return change_set

    def _append_history(self, change_set: dict) -> None:
        line = json.dumps(change_set, default=str).encode("utf-8") + b"\n"
        with writing(self.history_path), open(self.history_path, "ab+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size:  # a crash may have torn the last line: start on a fresh one
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    line = b"\n" + line
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict]:
        """The current state, read under the store's lock, held until the block ends."""
        self.path.mkdir(parents=True, exist_ok=True)
        with FileLock(self.path / ".lock"):
            yield self.state()

    # --- export ---
    def csv_text(self) -> str:
        """The current labels as the label CSV, with a column per extra fact the labels keep
        (the characteristic frequency of envelope labels)."""
        entries = self.entries()
        return label_csv_text({file: entry["label"] for file, entry in entries.items()},
                              extra_columns({file: entry.get("extra", {})
                                             for file, entry in entries.items()}))

    def export_csv(self, path: str | os.PathLike) -> Path:
        """Write `csv_text` to ``path`` (atomically) and return the path."""
        if not self.labels():
            raise ASDError(f"There are no labels for {self.machine} to export.")
        path = Path(path)
        write_text(path, self.csv_text())
        return path


def _last_undoable(history: list[dict]) -> dict | None:
    """The latest change set of ``history`` that is not an undo and not yet undone."""
    undoable: list[dict] = []
    for change_set in history:
        if "undoes" in change_set:
            undoable = [c for c in undoable if c["change_set"] != change_set["undoes"]]
        else:
            undoable.append(change_set)
    return undoable[-1] if undoable else None


def machine_folders(data: str | os.PathLike, machine: str) -> list[Path]:
    """The folders of ``machine`` in the dataset folder ``data``; `ASDError` when none."""
    root = Path(data).expanduser()
    if not root.is_dir():
        raise ASDError(f"The dataset folder {root} does not exist.")
    folders = [f.path for f in find_machine_folders(root.absolute(), None)[0] if f.name == machine]
    if not folders:
        raise ASDError(f"There is no machine {machine!r} in {root}.")
    return folders


def single_machine_folder(data: str | os.PathLike, machine: str) -> Path:
    """The one folder of ``machine`` in ``data``; `ASDError` when there are none or several."""
    folders = machine_folders(data, machine)
    if len(folders) > 1:
        raise ASDError(f"The machine {machine!r} has {len(folders)} folders in {data}; give "
                       "the one you mean (dev_data/raw or eval_data/raw) as the dataset folder.")
    return folders[0]


def labels_for_training(data_root: str | os.PathLike, machine: str) -> dict[str, str] | None:
    """The stored labels of ``machine`` (``file`` -> label, all its folders in ``data_root``),
    or None when it has none: what training uses as (pseudo-)attributes."""
    labels: dict[str, str] = {}
    for folder in machine_folders(data_root, machine):
        labels.update(LabelStore(folder).labels())
    return labels or None


# --- the label CSV ----------------------------------------------------------------------------


def extra_columns(per_clip: Mapping[str, Mapping[str, object]]) -> dict[str, dict[str, object]]:
    """Per-clip extra facts (``{file: {"frequency_hz": 55.1}}``) as label CSV columns
    (``{"frequency_hz": {file: 55.1}}``), in the order the names first appear."""
    columns: dict[str, dict[str, object]] = {}
    for file, facts in per_clip.items():
        for name, value in facts.items():
            columns.setdefault(name, {})[file] = value
    return columns


def label_csv_text(labels: Mapping[str, str],
                   extra: Mapping[str, Mapping[str, object]] | None = None) -> str:
    """The label CSV: ``file,label`` rows (sorted by file), plus one column per ``extra`` name
    (``{"frequency_hz": {file: value}}``)."""
    extra = extra or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "label", *extra])
    for file in sorted(labels):
        writer.writerow([file, labels[file], *(column.get(file, "") for column in extra.values())])
    return buffer.getvalue()


def write_label_csv(path: str | os.PathLike, labels: Mapping[str, str],
                    extra: Mapping[str, Mapping[str, object]] | None = None) -> Path:
    """Atomically write the `label_csv_text` of ``labels`` and ``extra``; returns the path."""
    path = Path(path)
    write_text(path, label_csv_text(labels, extra))
    return path


def read_label_csv(path: str | os.PathLike) -> dict[str, str]:
    """``file`` -> label from a label CSV (header with ``file`` and ``label``, other columns
    ignored). Raises `ASDError` naming the file and line of any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ASDError(f"The label file {path} does not exist.") from None
    except UnicodeDecodeError:
        raise ASDError(f"The label file {path} is not UTF-8 text.") from None
    except OSError as err:
        raise ASDError(f"The label file {path} cannot be read ({err.strerror}).") from None
    rows = [row for row in csv.reader(text.splitlines()) if any(cell.strip() for cell in row)]
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if "file" not in header or "label" not in header:
        raise ASDError(f"The label file {path} needs a header row with the columns file and label.")
    file_col, label_col = header.index("file"), header.index("label")
    labels: dict[str, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) <= max(file_col, label_col):
            raise ASDError(f"{path}, row {line}: expected a file and a label.")
        file = row[file_col].strip().replace("\\", "/").removeprefix("./")
        label = row[label_col].strip()
        if not file:
            raise ASDError(f"{path}, row {line}: the file is empty.")
        try:
            validate_label(label)
        except ASDError as err:
            raise ASDError(f"{path}, row {line}: {err}") from None
        if labels.get(file, label) != label:
            raise ASDError(f"{path}, row {line}: {file} has two labels, {labels[file]} and "
                           f"{label}.")
        labels[file] = label
    if not labels:
        raise ASDError(f"The label file {path} lists no clips.")
    return labels

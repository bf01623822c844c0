"""The tables beside the audio: ``attributes_*.csv`` files, eval ground-truth mappings
(``eval_data_list_<year>.csv`` or per-machine ``ground_truth_<machine>_section_<SS>_test.csv``)
and attribute correspondence files (``source_file_name,target_file_name``), joined into the
clip rows of a scan."""

from __future__ import annotations

import csv
import re
from pathlib import Path, PurePosixPath

from asdcore.dataset.discover import MachineFolder, Problem, relative
from asdcore.dataset.names import (
    AUDIO_SUFFIXES,
    DOMAINS,
    LABELS,
    NO_ATTRIBUTE,
    SPLITS,
    name_stem,
    parse_attributes,
    parse_name,
)

# 4. joins -----------------------------------------------------------------------------------


def _read_csv_rows(path: Path) -> list[list[str]]:
    """Rows of a small CSV with stripped cells; BOM and blank lines tolerated.

    Raises ValueError with a one-sentence reason when the file is not readable CSV text.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text, so it was ignored.") from None
    except OSError as err:
        raise ValueError(f"cannot be read ({err.strerror}).") from None
    if "\x00" in text:
        raise ValueError("binary data, not a CSV table, so it was ignored.")
    try:
        rows = [[cell.strip() for cell in row] for row in csv.reader(text.splitlines())]
    except csv.Error as err:
        raise ValueError(f"not a readable CSV table ({err}), so it was ignored.") from None
    return [row for row in rows if any(row)]


def _file_key(cell: str) -> tuple[str, str]:
    """(split or "", base name) of a file cell: ``ToyCar/train/x.wav`` or a bare ``x.wav``."""
    parts = PurePosixPath(cell.replace("\\", "/")).parts
    split = parts[-2] if len(parts) >= 2 and parts[-2] in SPLITS else ""
    return split, parts[-1] if parts else ""


def _is_audio_name(cell: str) -> bool:
    return PurePosixPath(cell).suffix.lower() in AUDIO_SUFFIXES


def read_attribute_tables(root: Path, folder: MachineFolder) -> tuple[dict, list[Problem]]:
    """Attribute pairs per (split, name) from a machine's ``attributes_*.csv`` files.

    Variants handled: ``file_name,d1p,d1v,...`` headers or none, ``<machine>/<split>/`` prefixes
    or bare names, no attribute columns, trailing empty columns, a BOM. An absent file is normal.
    """
    table: dict[tuple[str, str], dict[str, str]] = {}
    problems = []
    for path in sorted(folder.path.glob("attributes_*.csv")):
        if "correspondence" in path.name:
            continue
        rel = relative(root, path)
        try:
            rows = _read_csv_rows(path)
        except ValueError as err:
            problems.append(Problem(rel, str(err)))
            continue
        if rows and rows[0][0].lower() in ("file_name", "filename", "file"):
            rows = rows[1:]
        good = [row for row in rows if _is_audio_name(row[0])]
        if rows and not good:
            problems.append(Problem(rel, "lists no audio files, so it was ignored."))
            continue
        if len(good) < len(rows):
            problems.append(Problem(rel, f"{len(rows) - len(good)} rows do not start with an audio "
                                         "file name and were ignored."))
        for row in good:
            cells = row[1:]
            while cells and not cells[-1]:
                cells.pop()
            pairs = {cells[i]: cells[i + 1] if i + 1 < len(cells) else ""
                     for i in range(0, len(cells), 2)
                     if cells[i] and cells[i].lower() != NO_ATTRIBUTE.lower()}
            table[_file_key(row[0])] = pairs
    return table, problems


def join_attribute_table(rows: list[dict], table: dict) -> None:
    """Attribute pairs from a machine's table win over its clip names, where the table has any."""
    if not table:
        return
    for row in rows:
        names = [row["_name"]] + ([row["_mapped_name"]] if row["_mapped_name"] else [])
        for name in names:
            pairs = table.get((row["split"], name), table.get(("", name)))
            if pairs:
                row["attr"] = dict(pairs)
                break


_GROUND_TRUTH_FILE = re.compile(r"^ground_truth_(.+)_section_(\d+)_test\.csv$", re.IGNORECASE)


def read_mappings(root: Path, list_files: list[Path], mapping: Path | None,
                   folders: list[MachineFolder]) -> tuple[dict, dict, list[Problem]]:
    """Eval ground truth per (machine, anonymous name) and true attributes per clip.

    Sources, later ones winning: ``eval_data_list*.csv`` and ``truth.csv`` found above the
    machine folders, correspondence files in the machine folders, then the user's ``mapping``
    file or folder.
    """
    ground_truth: dict[tuple[str, str], dict] = {}
    truth: dict[tuple[str, str, str], str] = {}
    problems: list[Problem] = []

    def shown(path: Path) -> str:
        return relative(root, path) if path.is_relative_to(root) else str(path)

    def read(path: Path, required: bool) -> None:
        try:
            rows = _read_csv_rows(path)
        except ValueError as err:
            problems.append(Problem(shown(path), str(err)))
            return
        if rows and [c.lower() for c in rows[0][:2]] == ["source_file_name", "target_file_name"]:
            _read_correspondence(rows[1:], path, truth)
        elif rows and {"file", "machine", "attributes"} <= {c.lower() for c in rows[0]}:
            _read_truth_table(rows, truth)
        elif not _read_ground_truth(rows, path, ground_truth) and required:
            problems.append(Problem(shown(path), "not a recognised eval ground-truth or attribute "
                                                 "correspondence file, so it was ignored."))

    for path in list_files:  # a truth.csv of another kind (a recording log) is not ours
        read(path, required=path.name.lower() != "truth.csv")
    for folder in folders:
        for path in sorted(folder.path.glob("*correspondence*.csv")):
            read(path, required=True)
    if mapping is not None:
        if mapping.is_dir():
            files = sorted(p for p in mapping.rglob("*.csv") if not p.name.startswith("."))
            if not files:
                problems.append(Problem(str(mapping), "the mapping folder holds no CSV files."))
            for path in files:
                read(path, required=False)
        else:
            read(mapping, required=True)
    return ground_truth, truth, problems


def _read_correspondence(rows: list[list[str]], path: Path, truth: dict) -> None:
    """``source_file_name,target_file_name`` rows pairing a ``noAttribute`` name with its truth.

    Either column may hold the hidden name (the official files put the true name first), so the
    ``noAttribute`` side is the clip. Names with a ``<machine>/<split>/`` prefix give the
    machine; bare names belong to the folder the file lies in.
    """
    for row in rows:
        if len(row) < 2:
            continue
        first, second = parse_name(row[0]), parse_name(row[1])
        if first["attributes"] == NO_ATTRIBUTE and second["attributes"] != NO_ATTRIBUTE:
            hidden, true = row[0], second
        elif second["attributes"] == NO_ATTRIBUTE and first["attributes"] != NO_ATTRIBUTE:
            hidden, true = row[1], first
        else:
            continue
        parts = PurePosixPath(hidden.replace("\\", "/")).parts
        machine = parts[-3] if len(parts) >= 3 else path.parent.name
        split, name = _file_key(hidden)
        truth[(machine, split, name)] = true["attributes"]


def _read_truth_table(rows: list[list[str]], truth: dict) -> None:
    """A ``truth.csv`` (the synthetic data's: ``file,machine,...,attributes,...`` with ``file``
    as ``<machine>/<split>/<name>``): the true attributes of the clips named ``noAttribute``,
    as a correspondence file gives them."""
    header = [c.lower() for c in rows[0]]
    file_at, machine_at, attributes_at = (header.index(c) for c in ("file", "machine",
                                                                     "attributes"))
    for row in rows[1:]:
        if len(row) <= max(file_at, machine_at, attributes_at):
            continue
        split, name = _file_key(row[file_at])
        if parse_name(name)["attributes"] == NO_ATTRIBUTE and row[attributes_at] not in (
                "", NO_ATTRIBUTE):
            truth[(row[machine_at], split, name)] = row[attributes_at]


def _read_ground_truth(rows: list[list[str]], path: Path, ground_truth: dict) -> bool:
    """Eval ground truth from an ``eval_data_list`` or ``ground_truth_<machine>_...`` file.

    ``eval_data_list`` rows: a single cell names the machine of the rows below it, then
    ``<anonymous name>,<full dev-style name>``. Per-machine files take the machine from their
    name; their second cell is a full name (with or without ``.wav``; an optional third cell
    with the true attributes), or ``0``/``1``: the label, or the domain when the file lies in a
    ``*domain*`` folder (the official evaluator's layout). Returns whether any row was used.
    """
    named = _GROUND_TRUTH_FILE.match(path.name)
    machine = named.group(1) if named else ""
    domain_file = "domain" in path.parent.name.lower()
    used = False
    for row in rows:
        if len(row) == 1 and not named:
            machine = row[0]
            continue
        if len(row) < 2 or not machine \
                or not (_is_audio_name(row[0]) or row[0].startswith("section_")):
            continue
        entry: dict = {}
        if row[1] in ("0", "1"):
            if domain_file:
                entry["domain"] = DOMAINS[int(row[1])]
            else:
                entry["label"] = LABELS[int(row[1])]
        else:
            full = parse_name(row[1])
            if full["naming"] not in ("dcase", "legacy"):
                continue
            entry = {"domain": full["domain"], "label": full["label"],
                     "attributes": full["attributes"], "mapped_name": name_stem(row[1]) + ".wav"}
            if len(row) > 2 and parse_name(row[2])["naming"] == "dcase":
                entry["true_attributes"] = parse_name(row[2])["attributes"]
        ground_truth.setdefault((machine, _file_key(row[0])[1]), {}).update(entry)
        used = True
    return used


def join_ground_truth(rows: list[dict], ground_truth: dict) -> None:
    """Give anonymous test clips the domain, label and attributes their mapping names."""
    if not ground_truth:
        return
    for row in rows:
        if row["split"] != "test":
            continue
        entry = ground_truth.get((row["machine"], row["_name"]))
        if entry is None:
            continue
        for column in ("domain", "label", "true_attributes"):
            if entry.get(column, "unknown") != "unknown":
                row[column] = entry[column]
        if "attributes" in entry:
            row["attributes"] = entry["attributes"]
            row["attr"] = parse_attributes(entry["attributes"])
            row["_mapped_name"] = entry["mapped_name"]


def join_true_attributes(rows: list[dict], truth: dict) -> None:
    if not truth:
        return
    for row in rows:
        for name in filter(None, (row["_name"], row["_mapped_name"])):
            true = truth.get((row["machine"], row["split"], name),
                             truth.get((row["machine"], "", name)))
            if true is not None:
                row["true_attributes"] = true
                break


"""DCASE Task 2 datasets on disk -> one clip table (pandas), plus what is wrong with them.

`scan(DATA)` accepts a folder of machine folders (``.../dev_data/raw``), any folder above it
(``.../dcase2025t2`` holding ``dev_data/raw`` and ``eval_data/raw``) or a single machine folder.
A machine folder is any folder holding ``train/``, ``test/`` or ``supplemental/``. The scan reads
only file headers, never samples, and works in five steps:

1. discovery: machine folders (bounded depth, hidden folders skipped, symlink loops cut) and
   the candidate audio files in their ``train/``, ``test/`` and ``supplemental/`` folders;
2. header reading (thread pool): sample rate, channels, frames, format; broken files become
   `Problem`s with a one-sentence reason instead of exceptions;
3. name parsing (`parse_name`): section, domain, split, label, clip number, attribute string;
4. joins: ``attributes_*.csv`` tables, eval ground-truth mappings (``eval_data_list_<year>.csv``
   or per-machine ``ground_truth_<machine>_section_<SS>_test.csv`` files) and attribute
   correspondence files (``source_file_name,target_file_name``) with the true attributes of
   attribute-less machines;
5. the table: one row per readable clip, sorted by machine, split, name (columns in
   `CLIP_COLUMNS`).
"""

from __future__ import annotations

import csv
import os
import re
import struct
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd
import soundfile as sf

from asdcore.errors import ASDError
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report

SPLITS = ("train", "test", "supplemental")
DOMAINS = ("source", "target")
LABELS = ("normal", "anomaly")
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".mp3"}
NO_ATTRIBUTE = "noAttribute"

CLIP_COLUMNS = [
    "clip_id", "path", "file", "subset", "machine", "section", "domain", "split", "label",
    "index", "attributes", "attr", "true_attributes", "supplemental_kind", "naming",
    "duration", "sample_rate", "channels", "frames", "subtype", "format",
]

# dev_data/raw/<machine> is three levels below a dcase2025t2 folder; leave room for one more
# wrapper folder (an unpacked archive) without walking a whole disk.
MAX_SEARCH_DEPTH = 5
# Threads overlap disk latency when the page cache is cold (network shares, disks). With a warm
# cache the header parsing is Python-bound: on 2 busy cores 4-8 threads were ~50 % slower than
# one, 2 about as fast (bench/bench_scan.py), hence 2.
HEADER_THREADS = 2
HEADER_CHUNK = 256  # files per pool task: progress and cancel are checked between chunks

# Tokens that say what a supplemental clip holds (DCASE.md: classify by token, not position).
_CLEAN_TOKENS = {"clean", "machine"}
_NOISE_TOKEN = "noise"
_NAME_WORDS = set(DOMAINS + SPLITS + LABELS) | _CLEAN_TOKENS | {_NOISE_TOKEN}


# --------------------------------------------------------------------------------------------
# Public types


@dataclass(frozen=True)
class Problem:
    """Something the scan could not use: ``file`` relative to DATA, ``reason`` one sentence."""

    file: str
    reason: str

    def as_row(self) -> dict[str, str]:
        """``{"file": ..., "reason": ...}``: one row of a problems table or JSON list."""
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class MachineFolder:
    """A folder holding train/, test/ and/or supplemental/ for one machine type."""

    name: str
    subset: str  # "dev", "eval" or "" (from a dev_data/eval_data component of its path)
    path: Path
    rel: str  # path relative to DATA, POSIX ("." when DATA is the machine folder)


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
        return [p for p in self.problems if p.file == folder.rel or p.file.startswith(folder.rel + "/")]


# --------------------------------------------------------------------------------------------
# Names


_SECTION_NAME = re.compile(r"^section_(\d+)(?:_(.*))?$", re.IGNORECASE)
_LEGACY_NAME = re.compile(r"^(?:(normal|anomaly)_)?id_(\d+)_(\d+)(?:_(.*))?$", re.IGNORECASE)
_KEY_TOKEN = re.compile(r"^[a-z][a-z0-9-]*$")


def _stem(name: str) -> str:
    """The name without folders and audio extension (string ops: this runs once per clip)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, suffix = os.path.splitext(base)
    return stem if suffix.lower() in AUDIO_SUFFIXES else base


def parse_name(name: str) -> dict:
    """What a clip's file name says about it; pure, never raises.

    Returns ``section`` (2 digits, "" unknown), ``domain`` (source/target/unknown), ``split``
    (train/test/supplemental, "" when the name does not say), ``label`` (normal/anomaly/unknown),
    ``index`` (-1 unknown), ``attributes`` (raw string after the clip number), ``supplemental_kind``
    (clean/noise/unknown, "" for other splits) and ``naming``:

    - ``dcase``: ``section_00_source_train_normal_0000_<attrs>`` (2021-2025); parts that are
      missing are filled with unknowns rather than rejected;
    - ``eval``: anonymous test names, ``section_00_0000`` or 2021's ``section_03_source_test_0000``;
    - ``supplemental``: ``section_00_<source|noise>_supplemental_<clean|machine|noise|...>_0000...``;
    - ``legacy``: DCASE 2020 / MIMII ``normal_id_00_00000000`` (id -> section, source domain;
      the anonymous eval form ``id_05_00000000`` has an unknown label);
    - ``unknown``: anything else.

    The tokens between the section and the clip number are read by value, not position
    (supplemental names put ``noise`` where the domain usually is). The clip number is the first
    all-digit token; everything after it is the attribute string, kept raw.
    """
    stem = _stem(name)
    parsed = {"section": "", "domain": "unknown", "split": "", "label": "unknown", "index": -1,
              "attributes": "", "supplemental_kind": "", "naming": "unknown"}

    legacy = _LEGACY_NAME.match(stem)
    if legacy:
        label, section, index, rest = legacy.groups()
        parsed.update(section=f"{int(section):02d}", domain="source", index=int(index),
                      label=label.lower() if label else "unknown", attributes=rest or "",
                      naming="legacy")
        return parsed

    match = _SECTION_NAME.match(stem)
    if not match:
        return parsed
    parsed["section"] = f"{int(match.group(1)):02d}"
    tokens = match.group(2).split("_") if match.group(2) else []
    prefix: list[str] = []
    for position, token in enumerate(tokens):
        if token.isdigit():
            parsed["index"] = int(token)
            parsed["attributes"] = "_".join(tokens[position + 1:])
            break
        prefix.append(token.lower())
    else:
        # No clip number: the leading words the scheme knows are the prefix, the rest attributes.
        known = 0
        while known < len(prefix) and prefix[known] in _NAME_WORDS:
            known += 1
        parsed["attributes"] = "_".join(tokens[known:])
        prefix = prefix[:known]

    for token in prefix:
        if token in DOMAINS:
            parsed["domain"] = token
        elif token in SPLITS:
            parsed["split"] = token
        elif token in LABELS:
            parsed["label"] = token

    if parsed["split"] == "supplemental":
        parsed["naming"] = "supplemental"
        parsed["supplemental_kind"] = supplemental_kind(prefix, parsed["attributes"])
    elif parsed["label"] == "unknown" and parsed["split"] in ("", "test") and not parsed["attributes"]:
        parsed["naming"] = "eval"
    else:
        parsed["naming"] = "dcase"
    return parsed


def supplemental_kind(prefix_tokens: Iterable[str], attributes: str) -> str:
    """Clean machine sound or noise only, from the name's tokens.

    The part before the clip number decides first: ``machine``/``clean`` -> clean, ``noise`` ->
    noise. Only when it says nothing is the attribute string consulted, and there ``noise``
    counts only as a bare token: ToyCar's attribute ``noise_1`` (a key with a value) describes
    the recording set-up of a clean clip and must not make it noise.
    """
    prefix = set(prefix_tokens)
    if prefix & _CLEAN_TOKENS:
        return "clean"
    if _NOISE_TOKEN in prefix:
        return "noise"
    tokens = [t.lower() for t in attributes.split("_")] if attributes else []
    if set(tokens) & _CLEAN_TOKENS:
        return "clean"
    if parse_attributes(attributes).get(_NOISE_TOKEN) == "":
        return "noise"
    return "unknown"


def parse_attributes(raw: str) -> dict[str, str]:
    """Lenient ``key_value`` pairs from an attribute string such as ``car_A1_spd_28V_mic_1``.

    Values may themselves contain ``_`` and keys may span two tokens, so pairs are found with a
    heuristic over the ``_``-separated tokens:

    - a token "looks like a key" when it starts with a lower-case letter and holds only
      lower-case letters, digits and ``-`` (``car``, ``m-n``, ``v1pat``); anything else
      (``A1``, ``28V``, ``0.05``, ``W``) looks like a value;
    - each pair starts with a key token; if the next token looks like a key too and the one
      after it looks like a value, the two key tokens form one key (``mic_pos_A`` ->
      ``mic_pos=A``); otherwise the next token is the value (``panel_open`` -> ``panel=open``);
    - further tokens that look like values extend the value (``car_A_1`` -> ``car=A_1``);
    - a key at the end without a value maps to ""; a repeated key gets ``.2``, ``.3`` ...

    ``noAttribute`` and "" give ``{}``. The raw string stays the primary key of a clip's
    attributes; these pairs are for display and grouping.
    """
    if not raw or raw.lower() == NO_ATTRIBUTE.lower():
        return {}
    tokens = [t for t in raw.split("_") if t]
    pairs: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        key = tokens[i]
        i += 1
        if (i + 1 < len(tokens) and _KEY_TOKEN.match(tokens[i])
                and not _KEY_TOKEN.match(tokens[i + 1])):
            key = f"{key}_{tokens[i]}"
            i += 1
        value = ""
        if i < len(tokens):
            value = tokens[i]
            i += 1
            while i < len(tokens) and not _KEY_TOKEN.match(tokens[i]):
                value = f"{value}_{tokens[i]}"
                i += 1
        unique, n = key, 1
        while unique in pairs:
            n += 1
            unique = f"{key}.{n}"
        pairs[unique] = value
    return pairs


# --------------------------------------------------------------------------------------------
# Scan


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
    folders, list_files = _find_machine_folders(root, cancel)
    if not folders:
        raise ASDError(
            f"No machine folders found in {root}: expected a folder of machine folders (each "
            "holding train/ and test/), such as dev_data/raw, a folder above it, or one machine folder.")
    problems = _duplicate_machine_problems(folders)
    candidates, listing_problems = _list_audio_files(root, folders)
    problems += listing_problems

    # 2. header reading
    headers = _read_headers([c["path"] for c in candidates], progress, cancel)

    # 3. name parsing
    rows = []
    for candidate, header in zip(candidates, headers):
        if isinstance(header, str):
            problems.append(Problem(candidate["clip_id"], header))
            continue
        row = _clip_row(candidate, header)
        if row["naming"] == "unknown":
            problems.append(Problem(candidate["clip_id"],
                                    "file name does not follow the DCASE naming scheme, so it is not used."))
            continue
        rows.append(row)

    # 4. joins: eval mappings, attribute tables, true-attribute correspondences
    ground_truth, truth, mapping_problems = _read_mappings(root, list_files, mapping_path, folders)
    problems += mapping_problems
    _join_ground_truth(rows, ground_truth)
    for folder in folders:
        table, table_problems = _read_attribute_tables(root, folder)
        problems += table_problems
        _join_attribute_table([row for row in rows if row["_folder"] is folder], table)
    _join_true_attributes(rows, truth)

    # 5. the table
    return Dataset(root=root, clips=_clip_table(rows), folders=folders,
                   problems=sorted(set(problems), key=lambda p: (p.file, p.reason)))


# 1. discovery -------------------------------------------------------------------------------


def _rel(root: Path, path: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return rel if rel else "."


def _subset_of(path: Path) -> str:
    for part in reversed(path.parts):
        if part.lower() == "dev_data":
            return "dev"
        if part.lower() == "eval_data":
            return "eval"
    return ""


def _find_machine_folders(root: Path, cancel: CancelFn | None) -> tuple[list[MachineFolder], list[Path]]:
    """Machine folders below ``root`` and the ``eval_data_list*.csv`` files met on the way."""
    folders: list[MachineFolder] = []
    list_files: list[Path] = []
    seen: set[Path] = set()

    def visit(folder: Path, depth: int) -> None:
        check_cancel(cancel)
        real = folder.resolve()
        if real in seen:  # a symlink loop or a second link to the same folder
            return
        seen.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        subfolders = [e for e in entries if not e.name.startswith(".") and _is_dir(e)]
        if any(e.name in SPLITS for e in subfolders):
            folders.append(MachineFolder(folder.name, _subset_of(folder), folder, _rel(root, folder)))
            return
        list_files.extend(Path(e.path) for e in entries if e.is_file()
                          and e.name.lower().startswith("eval_data_list") and e.name.lower().endswith(".csv"))
        if depth < MAX_SEARCH_DEPTH:
            for entry in subfolders:
                visit(Path(entry.path), depth + 1)

    visit(root, 0)
    folders.sort(key=lambda f: (f.name, f.subset, f.rel))
    return folders, list_files


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _duplicate_machine_problems(folders: list[MachineFolder]) -> list[Problem]:
    """Two folders with the same machine name and subset would mix under one machine name."""
    by_key: dict[tuple[str, str], list[MachineFolder]] = {}
    for folder in folders:
        by_key.setdefault((folder.name, folder.subset), []).append(folder)
    return [Problem(f.rel, f"another {f.name} folder ({same[0].rel}) was found too; their clips "
                           f"share the machine name {f.name}.")
            for same in by_key.values() if len(same) > 1 for f in same[1:]]


def _list_audio_files(root: Path, folders: list[MachineFolder]) -> tuple[list[dict], list[Problem]]:
    """Candidate audio files of every machine folder, and what does not belong there."""
    candidates, problems = [], []
    for folder in folders:
        if not (folder.path / "train").is_dir():
            problems.append(Problem(folder.rel, "no train folder: cannot train on this machine."))
        for split in SPLITS:
            split_dir = folder.path / split
            if not split_dir.is_dir():
                continue
            try:
                entries = sorted(os.scandir(split_dir), key=lambda e: e.name)
            except OSError as err:
                problems.append(Problem(_rel(root, split_dir), f"cannot be listed ({err.strerror})."))
                continue
            split_rel = _rel(root, split_dir)
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # .DS_Store, ._name resource forks, editor swap files
                clip_id = f"{split_rel}/{entry.name}"
                if not _is_utf8(clip_id):  # the table's (Arrow) strings cannot hold such names
                    problems.append(Problem(_printable(clip_id), "file name is not valid UTF-8; "
                                                                 "rename the file to use it."))
                elif _is_dir(entry):
                    problems.append(Problem(clip_id, f"folders inside {split}/ are not read."))
                elif os.path.splitext(entry.name)[1].lower() not in AUDIO_SUFFIXES:
                    problems.append(Problem(clip_id, "not an audio file."))
                else:
                    candidates.append({"clip_id": clip_id, "path": entry.path, "folder": folder,
                                       "split": split, "name": entry.name})
    return candidates, problems


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in a file name arrive as lone surrogates
        return False
    return True


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# 2. header reading --------------------------------------------------------------------------


def _read_headers(paths: list[str], progress: ProgressFn | None,
                  cancel: CancelFn | None) -> list[dict | str]:
    """`_read_header` of every path, in order, on a thread pool (libsndfile releases the GIL)."""
    chunks = [paths[i:i + HEADER_CHUNK] for i in range(0, len(paths), HEADER_CHUNK)]
    results: list[dict | str] = []
    report(progress, 0, len(paths), "reading file headers")
    with ThreadPoolExecutor(max_workers=HEADER_THREADS) as pool:
        futures = [pool.submit(lambda chunk: [_read_header(p) for p in chunk], c) for c in chunks]
        try:
            for future in futures:
                check_cancel(cancel)
                results.extend(future.result())
                report(progress, len(results), len(paths), "reading file headers")
        finally:
            for future in futures:
                future.cancel()
    return results


def _read_header(path: str) -> dict | str:
    """Header facts of one audio file, or the one-sentence reason it cannot be used."""
    try:
        size = os.stat(path).st_size
    except OSError as err:
        return f"cannot be opened ({err.strerror})."
    if size == 0:
        return "empty file (0 bytes)."
    try:
        with sf.SoundFile(path) as audio:
            header = {"sample_rate": audio.samplerate, "channels": audio.channels,
                      "frames": audio.frames, "subtype": audio.subtype, "format": audio.format}
    except sf.LibsndfileError as err:
        # libsndfile may say two sentences ("Error in WAV file. No 'data' chunk marker.")
        parts = [p.strip() for p in err.error_string.rstrip(". ").split(". ") if p.strip()]
        detail = "; ".join(p[0].lower() + p[1:] for p in parts) or "unreadable"
        return f"cannot be read as audio ({detail})."
    except (RuntimeError, OSError, ValueError) as err:
        return f"cannot be read as audio ({err})."
    if header["frames"] <= 0:
        return "holds no audio frames."
    if header["format"] == "WAV":
        missing = _wav_missing_bytes(path, size)
        if missing > 0:
            return (f"truncated: its header promises {missing} more bytes of audio than the "
                    "file holds.")
    header["duration"] = header["frames"] / header["sample_rate"]
    return header


def _wav_missing_bytes(path: str, size: int) -> int:
    """How many bytes a RIFF WAV's data chunk claims beyond the end of the file (0 if none).

    libsndfile silently shortens ``frames`` to what is there, so truncation is only visible by
    comparing the declared data chunk size with the file size.
    """
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0  # RF64, RIFX, W64...: no 32-bit size to check
        offset = 12
        for _ in range(64):  # a WAV has a handful of chunks before "data"
            fh.seek(offset)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return 0
            chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):  # streamed writers leave the size unset
                    return 0
                return max(0, offset + 8 + chunk_size - size)
            offset += 8 + chunk_size + (chunk_size & 1)
    return 0


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


def _read_attribute_tables(root: Path, folder: MachineFolder) -> tuple[dict, list[Problem]]:
    """Attribute pairs per (split, name) from a machine's ``attributes_*.csv`` files.

    Variants handled: ``file_name,d1p,d1v,...`` headers or none, ``<machine>/<split>/`` prefixes
    or bare names, no attribute columns, trailing empty columns, a BOM. An absent file is normal.
    """
    table: dict[tuple[str, str], dict[str, str]] = {}
    problems = []
    for path in sorted(folder.path.glob("attributes_*.csv")):
        if "correspondence" in path.name:
            continue
        rel = _rel(root, path)
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


def _join_attribute_table(rows: list[dict], table: dict) -> None:
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


def _read_mappings(root: Path, list_files: list[Path], mapping: Path | None,
                   folders: list[MachineFolder]) -> tuple[dict, dict, list[Problem]]:
    """Eval ground truth per (machine, anonymous name) and true attributes per clip.

    Sources, later ones winning: ``eval_data_list*.csv`` found above the machine folders,
    correspondence files in the machine folders, then the user's ``mapping`` file or folder.
    """
    ground_truth: dict[tuple[str, str], dict] = {}
    truth: dict[tuple[str, str, str], str] = {}
    problems: list[Problem] = []

    def shown(path: Path) -> str:
        return _rel(root, path) if path.is_relative_to(root) else str(path)

    def read(path: Path, required: bool) -> None:
        try:
            rows = _read_csv_rows(path)
        except ValueError as err:
            problems.append(Problem(shown(path), str(err)))
            return
        if rows and [c.lower() for c in rows[0][:2]] == ["source_file_name", "target_file_name"]:
            _read_correspondence(rows[1:], path, truth)
        elif not _read_ground_truth(rows, path, ground_truth) and required:
            problems.append(Problem(shown(path), "not a recognised eval ground-truth or attribute "
                                                 "correspondence file, so it was ignored."))

    for path in list_files:
        read(path, required=True)
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
        if len(row) < 2 or not machine or not (_is_audio_name(row[0]) or row[0].startswith("section_")):
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
                     "attributes": full["attributes"], "mapped_name": _stem(row[1]) + ".wav"}
            if len(row) > 2 and parse_name(row[2])["naming"] == "dcase":
                entry["true_attributes"] = parse_name(row[2])["attributes"]
        ground_truth.setdefault((machine, _file_key(row[0])[1]), {}).update(entry)
        used = True
    return used


def _join_ground_truth(rows: list[dict], ground_truth: dict) -> None:
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


def _join_true_attributes(rows: list[dict], truth: dict) -> None:
    if not truth:
        return
    for row in rows:
        for name in filter(None, (row["_name"], row["_mapped_name"])):
            true = truth.get((row["machine"], row["split"], name), truth.get((row["machine"], "", name)))
            if true is not None:
                row["true_attributes"] = true
                break


# 5. the table -------------------------------------------------------------------------------


_SPLIT_ORDER = {split: i for i, split in enumerate(SPLITS)}


def _clip_table(rows: list[dict]) -> pd.DataFrame:
    rows = sorted(rows, key=lambda r: (r["machine"], _SPLIT_ORDER[r["split"]], r["_name"], r["clip_id"]))
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


def format_info(ds: Dataset, max_problems: int = 50) -> str:
    """A terminal summary: one table row per machine folder, then the problems."""
    machines = ds.machines()
    lines = [f"Dataset {ds.root}: {len(machines)} machine folder(s), {len(ds.clips)} clips, "
             f"{len(ds.problems)} problem(s)", ""]
    # Folder paths only when machine names alone are ambiguous.
    show_folder = len({f.name for f in ds.folders}) < len(ds.folders)
    table = pd.DataFrame([{
        **({"folder": folder.rel} if show_folder else {}),
        "machine": m["name"],
        "subset": m["subset"] or "-",
        "sections": ",".join(m["sections"]) or "-",
        "train (src/tgt)": f"{m['n_train']} ({m['n_source']}/{m['n_target']})",
        "test": m["n_test"],
        "suppl.": m["n_supplemental"],
        "attributes": ",".join(m["attribute_keys"]) if m["has_attributes"]
        else "hidden (truth known)" if m["has_ground_truth_attributes"] else "hidden",
        "length (s)": _range_text(m["durations"]["min"], m["durations"]["max"]),
        "rate (Hz)": ",".join(map(str, m["sample_rates"])) or "-",
        "ch": ",".join(map(str, m["channels"])) or "-",
        "problems": m["n_problems"],
    } for folder, m in zip(ds.folders, machines)])
    lines.append(table.to_string(index=False))
    if ds.problems:
        lines += ["", f"Problems ({len(ds.problems)}):"]
        lines += [f"  {p.file}: {p.reason}" for p in ds.problems[:max_problems]]
        if len(ds.problems) > max_problems:
            lines.append(f"  ... and {len(ds.problems) - max_problems} more (use --json for all).")
    if not ds.usable:
        lines += ["", "No readable clips: this dataset cannot be used."]
    return _printable("\n".join(lines))  # a folder name may not be valid UTF-8


def _range_text(low: float | None, high: float | None) -> str:
    if low is None:
        return "-"
    return f"{low:.1f}" if round(low, 1) == round(high, 1) else f"{low:.1f}-{high:.1f}"

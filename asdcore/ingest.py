"""Recordings in other common layouts -> a DCASE-layout dataset the workbench trains on.

Layouts (``auto`` picks the first that matches):

- ``mimii``: ``<machine>/id_XX/{normal,abnormal}/*.wav``, also below a signal-to-noise parent
  such as ``-6_dB_fan/fan/`` or ``6dB_fan/`` (several SNRs of one machine become
  ``<machine>_<snr>dB`` machines); id ``XX`` becomes section ``XX``.
- ``toyadmos``: ``<machine>/[caseN/]{NormalSound_*,AnomalousSound_*}/*.wav``; case ``N`` becomes
  section ``N`` (00 without case folders); the channels of one recording stay together.
- ``folders``: one folder per condition below the source folder, or the condition as the file
  name's prefix (``ON_20200318T204454.wav``: what precedes the trailing tokens that hold digits).
  ``normal`` names the normal conditions, ``exclude`` the ones kept out; the others are anomalies.

Normal recordings are split into train and test deterministically by ``seed`` (one recording,
and every clip cut from it, is in one split only); all anomalies go to test. Files are
hard-linked (symlinked across file systems) unless ``copy``; ``clip_seconds`` cuts long
recordings into clips of that length. ``import_mapping.csv`` in the new dataset records the
original name of every new file. The dataset is built in a hidden sibling folder and renamed
into place, so it is never half-written.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from asdcore import audio, dataset
from asdcore.errors import ASDError
from asdcore.progress import ProgressFn, report

LAYOUTS = ("auto", "mimii", "toyadmos", "folders")
MAPPING_NAME = "import_mapping.csv"
_MIMII_ID = re.compile(r"^id_(\d+)$", re.IGNORECASE)
_SNR_PARENT = re.compile(r"^(-?\d+)_?dB_(.+)$", re.IGNORECASE)
_TOY_SOUND = re.compile(r"^(normal|anomalous)sound", re.IGNORECASE)
_TOY_CASE = re.compile(r"^case_?(\d+)$", re.IGNORECASE)
_CHANNEL = re.compile(r"_?ch\d+", re.IGNORECASE)
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")  # DCASE file names: "_" separates fields
_MACHINE_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Recording:
    """One source file and what it becomes."""

    path: Path
    machine: str
    section: str  # two digits
    condition: str  # as the source names it (folder or name prefix)
    label: str  # normal / anomaly
    group: str  # recordings of one group share a split (e.g. the channels of one take)


def import_recordings(src: str | os.PathLike, out: str | os.PathLike, layout: str = "auto",
                      normal: list[str] | None = None, exclude: list[str] | None = None,
                      test_fraction: float = 0.2, seed: int = 0, copy: bool = False,
                      clip_seconds: float | None = None, machine: str | None = None,
                      progress: ProgressFn | None = None) -> dict:
    """Write ``src``'s recordings as a DCASE-layout dataset ``out``; returns a summary:
    ``layout``, ``out``, ``mapping``, ``counts`` (machine, section, split, label, clips),
    ``excluded`` (files kept out by condition) and ``skipped`` (unreadable files, reasons)."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise ASDError(f"{src} is not a folder of recordings.")
    if layout not in LAYOUTS:
        raise ASDError(f"Unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}.")
    if not 0.0 <= test_fraction < 1.0:
        raise ASDError(f"The test fraction must be at least 0 and below 1, not {test_fraction}.")
    if clip_seconds is not None and clip_seconds <= 0:
        raise ASDError(f"The clip length must be positive, not {clip_seconds} s.")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ASDError(f"{out} already exists and is not empty; choose a new folder.")
    if out.resolve().is_relative_to(src.resolve()):
        raise ASDError(f"{out} lies inside {src}; write the dataset elsewhere.")
    layout = detect_layout(src) if layout == "auto" else layout
    if normal and layout != "folders":
        raise ASDError(f"The {layout} layout says which recordings are normal by its folders; "
                       "name normal conditions only for the folders layout.")
    recordings, excluded = find_recordings(src, layout, normal or [], exclude or [], machine)
    recordings, skipped = _readable(recordings)
    if not recordings:
        raise ASDError(f"No readable recordings to import in {src} ({layout} layout).")
    splits = split_recordings(recordings, test_fraction, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        rows = _write_clips(recordings, splits, src, staging, copy, clip_seconds, progress)
        _write_mapping(staging / MAPPING_NAME, rows)
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    counts = Counter((r["machine"], r["section"], r["split"], r["label"]) for r in rows)
    return {"layout": layout, "out": str(out), "mapping": str(out / MAPPING_NAME),
            "counts": [{"machine": m, "section": s, "split": sp, "label": lb, "clips": n}
                       for (m, s, sp, lb), n in sorted(counts.items())],
            "excluded": [str(r.path) for r in excluded], "skipped": skipped}


def detect_layout(src: Path) -> str:
    """``mimii`` when an ``id_XX`` folder holds normal/abnormal folders, ``toyadmos`` when
    NormalSound/AnomalousSound folders exist, else ``folders``."""
    folders = [p for p in src.rglob("*") if p.is_dir()]
    if any(_MIMII_ID.match(p.name) and _has_subfolder(p, ("normal", "abnormal"))
           for p in folders):
        return "mimii"
    if any(_TOY_SOUND.match(p.name) for p in folders):
        return "toyadmos"
    return "folders"


def find_recordings(src: Path, layout: str, normal: list[str], exclude: list[str],
                    machine: str | None = None) -> tuple[list[Recording], list[Recording]]:
    """``(recordings to import, recordings excluded by condition)`` of ``src`` in ``layout``."""
    if layout == "mimii":
        found = _mimii(src)
    elif layout == "toyadmos":
        found = _toyadmos(src)
    else:
        found = _folders(src, machine or src.resolve().name, normal)
    if not found:
        raise ASDError(f"No recordings in the {layout} layout under {src}.")
    conditions = sorted({r.condition for r in found})
    unknown = [name for name in exclude if name.lower() not in {c.lower() for c in conditions}]
    if unknown:
        raise ASDError(f"No condition named {unknown[0]!r} to exclude; the recordings have "
                       f"{', '.join(conditions)}.")
    left_out = {name.lower() for name in exclude}
    kept = [r for r in found if r.condition.lower() not in left_out]
    return kept, [r for r in found if r.condition.lower() in left_out]


def split_recordings(recordings: list[Recording], test_fraction: float,
                     seed: int) -> dict[Recording, str]:
    """``{recording: "train" | "test"}``: per machine section, a ``test_fraction`` of the normal
    groups (at least one when there are two or more, never all) go to test, chosen by ``seed``
    from the groups in name order; every anomaly goes to test."""
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in recordings:
        if r.label == "normal":
            groups[(r.machine, r.section)].add(r.group)
    test_groups: set[tuple[str, str, str]] = set()
    rng = np.random.default_rng(seed)
    for (machine, section), names in sorted(groups.items()):
        ordered = sorted(names)
        n_test = round(test_fraction * len(ordered))
        if test_fraction > 0 and len(ordered) >= 2:
            n_test = min(max(n_test, 1), len(ordered) - 1)
        for index in rng.permutation(len(ordered))[:n_test]:
            test_groups.add((machine, section, ordered[index]))
    return {r: "test" if r.label == "anomaly" or (r.machine, r.section, r.group) in test_groups
            else "train" for r in recordings}


def _has_subfolder(folder: Path, names: tuple[str, ...]) -> bool:
    return any((folder / name).is_dir() for name in names)


def _audio_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in dataset.AUDIO_SUFFIXES)


def _mimii(src: Path) -> list[Recording]:
    ids = sorted(p for p in src.rglob("id_*") if p.is_dir() and _MIMII_ID.match(p.name))
    placed = []  # (snr or None, machine, id folder)
    for id_dir in ids:
        machine, snr = id_dir.parent.name, None
        parent_snr = _SNR_PARENT.match(machine)
        if parent_snr:  # -6_dB_fan/id_00
            snr, machine = parent_snr.groups()
        else:
            above = _SNR_PARENT.match(id_dir.parent.parent.name)  # -6_dB_fan/fan/id_00
            snr = above.group(1) if above else None
        placed.append((snr, machine, id_dir))
    snrs = defaultdict(set)
    for snr, machine, _ in placed:
        snrs[machine].add(snr)
    found = []
    for snr, machine, id_dir in placed:
        name = f"{machine}_{snr}dB" if len(snrs[machine]) > 1 else machine
        section = f"{int(_MIMII_ID.match(id_dir.name).group(1)):02d}"
        for condition, label in (("normal", "normal"), ("abnormal", "anomaly")):
            for path in _audio_in(id_dir / condition):
                found.append(Recording(path, _machine_name(name), section, condition, label,
                                       str(path.relative_to(src))))
    return found


def _toyadmos(src: Path) -> list[Recording]:
    found = []
    for sound_dir in sorted(p for p in src.rglob("*") if p.is_dir() and _TOY_SOUND.match(p.name)):
        case = _TOY_CASE.match(sound_dir.parent.name)
        machine_dir = sound_dir.parent.parent if case else sound_dir.parent
        section = f"{int(case.group(1)):02d}" if case else "00"
        label = "normal" if sound_dir.name.lower().startswith("normal") else "anomaly"
        for path in _audio_in(sound_dir):
            group = _CHANNEL.sub("", str(path.relative_to(src).with_suffix("")))
            found.append(Recording(path, _machine_name(machine_dir.name), section, sound_dir.name,
                                   label, group))
    return found


def _folders(src: Path, machine: str, normal: list[str]) -> list[Recording]:
    conditions: list[tuple[Path, str]] = []
    for entry in sorted(src.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            conditions += [(path, entry.name) for path in _audio_in(entry)]
        elif entry.is_file() and entry.suffix.lower() in dataset.AUDIO_SUFFIXES:
            conditions.append((entry, condition_of(entry.stem)))
    names = sorted({condition for _, condition in conditions})
    present = {name.lower() for name in names}
    if not normal and "normal" not in present:
        raise ASDError(f"Say which conditions are normal with --normal; the recordings have "
                       f"{', '.join(names)}.")
    missing = [name for name in normal if name.lower() not in present]
    if missing:
        raise ASDError(f"No condition named {missing[0]!r}; the recordings have "
                       f"{', '.join(names)}.")
    wanted = {name.lower() for name in normal} or {"normal"}
    return [Recording(path, _machine_name(machine), "00", condition,
                      "normal" if condition.lower() in wanted else "anomaly",
                      str(path.relative_to(src))) for path, condition in conditions]


def condition_of(stem: str) -> str:
    """The condition a file name starts with: the name without its trailing ``_``-separated
    tokens that hold digits (a date, a take number). ``BLADE FAULT_20200318T205628`` ->
    ``BLADE FAULT``, ``FAN_GUARDS_20201210144646`` -> ``FAN_GUARDS``."""
    tokens = stem.split("_")
    while len(tokens) > 1 and any(ch.isdigit() for ch in tokens[-1]):
        tokens.pop()
    return "_".join(tokens)


def _safe(text: str) -> str:
    """``text`` reduced to letters, digits and ``-`` (an attribute value in a DCASE name)."""
    return _NAME_UNSAFE.sub("-", text).strip("-") or "x"


def _machine_name(text: str) -> str:
    """``text`` as a machine folder name (letters, digits, ``_ . -``)."""
    return _MACHINE_UNSAFE.sub("-", text).strip("-.") or "machine"


def _readable(recordings: list[Recording]) -> tuple[list[Recording], list[dict]]:
    """The recordings whose audio decodes, and ``{file, reason}`` for the others."""
    good, skipped = [], []
    for r in recordings:
        try:
            audio.load(r.path, seconds=0.1)
        except ASDError as err:
            skipped.append({"file": str(r.path), "reason": str(err)})
        else:
            good.append(r)
    return good, skipped


def _write_clips(recordings: list[Recording], splits: dict[Recording, str], src: Path,
                 root: Path, copy: bool, clip_seconds: float | None,
                 progress: ProgressFn | None) -> list[dict]:
    counters: Counter = Counter()
    rows = []
    for done, r in enumerate(sorted(recordings, key=lambda r: (r.machine, r.section, r.group,
                                                              str(r.path)))):
        split = splits[r]
        folder = root / r.machine / split
        folder.mkdir(parents=True, exist_ok=True)
        attributes = f"cond_{_safe(r.condition)}"
        for start, stop in _clip_bounds(r.path, clip_seconds):
            key = (r.machine, r.section, split, r.label)
            name = (f"section_{r.section}_source_{split}_{r.label}_{counters[key]:04d}_"
                    f"{attributes}{r.path.suffix.lower() if start is None else '.wav'}")
            counters[key] += 1
            target = folder / name
            if start is None:
                _place(r.path, target, copy)
            else:
                _write_segment(r.path, target, start, stop)
            rows.append({"original": str(r.path.relative_to(src)),
                         "new": f"{r.machine}/{split}/{name}",
                         "machine": r.machine, "section": r.section, "split": split,
                         "label": r.label, "condition": r.condition,
                         "start_seconds": "" if start is None else start,
                         "end_seconds": "" if stop is None else stop})
        report(progress, done + 1, len(recordings), r.path.name)
    return rows


def _clip_bounds(path: Path, clip_seconds: float | None) -> list[tuple[float | None, float | None]]:
    """``[(None, None)]`` for the whole file, else consecutive ``clip_seconds`` cuts (the rest
    shorter than a clip is dropped; a recording shorter than a clip is kept whole)."""
    if clip_seconds is None:
        return [(None, None)]
    seconds = sf.info(str(path)).duration
    n_clips = int(seconds // clip_seconds)
    if n_clips <= 1:
        return [(None, None)]
    return [(round(i * clip_seconds, 6), round((i + 1) * clip_seconds, 6))
            for i in range(n_clips)]


def _place(source: Path, target: Path, copy: bool) -> None:
    """Hard link (or, across file systems, a symlink to) ``source`` at ``target``; a copy with
    ``copy``."""
    if copy:
        shutil.copy2(source, target)
        return
    try:
        os.link(source, target)
    except OSError:
        os.symlink(source.resolve(), target)


def _write_segment(source: Path, target: Path, start: float, stop: float) -> None:
    """``[start, stop)`` seconds of ``source`` as a WAV file (same rate, channels, sample
    format where WAV holds it)."""
    with sf.SoundFile(str(source)) as f:
        f.seek(round(start * f.samplerate))
        data = f.read(round((stop - start) * f.samplerate), always_2d=True)
        subtype = f.subtype if f.subtype in sf.available_subtypes("WAV") else "PCM_16"
        sf.write(str(target), data, f.samplerate, subtype=subtype, format="WAV")


def _write_mapping(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")

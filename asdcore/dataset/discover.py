"""Discovery: machine folders below a dataset folder, their candidate audio files, and the
header facts of each file (read on a thread pool, samples never decoded). What cannot be used
becomes a `Problem` with a one-sentence reason instead of an exception."""

from __future__ import annotations

import os
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from asdcore.dataset.names import AUDIO_SUFFIXES, SPLITS
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report


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



# dev_data/raw/<machine> is three levels below a dcase2025t2 folder; leave room for one more
# wrapper folder (an unpacked archive) without walking a whole disk.
MAX_SEARCH_DEPTH = 5
# Threads overlap disk latency when the page cache is cold (network shares, disks). With a warm
# cache the header parsing is Python-bound: on 2 busy cores 4-8 threads were ~50 % slower than
# one, 2 about as fast (bench/bench_scan.py), hence 2.
HEADER_THREADS = 2
HEADER_CHUNK = 256  # files per pool task: progress and cancel are checked between chunks


# 1. discovery -------------------------------------------------------------------------------


def relative(root: Path, path: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return rel if rel else "."


def _subset_of(path: Path) -> str:
    for part in reversed(path.parts):
        if part.lower() == "dev_data":
            return "dev"
        if part.lower() == "eval_data":
            return "eval"
    return ""


def find_machine_folders(root: Path, cancel: CancelFn | None
                         ) -> tuple[list[MachineFolder], list[Path]]:
    """Machine folders below ``root`` and the ``eval_data_list*.csv`` and ``truth.csv``
    (the synthetic data's known truth) files met on the way."""
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
            folders.append(MachineFolder(folder.name, _subset_of(folder), folder,
                                         relative(root, folder)))
            return
        list_files.extend(Path(e.path) for e in entries if e.is_file()
                          and (e.name.lower().startswith("eval_data_list")
                               or e.name.lower() == "truth.csv")
                          and e.name.lower().endswith(".csv"))
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


def duplicate_machine_problems(folders: list[MachineFolder]) -> list[Problem]:
    """Two folders with the same machine name and subset would mix under one machine name."""
    by_key: dict[tuple[str, str], list[MachineFolder]] = {}
    for folder in folders:
        by_key.setdefault((folder.name, folder.subset), []).append(folder)
    return [Problem(f.rel, f"another {f.name} folder ({same[0].rel}) was found too; their clips "
                           f"share the machine name {f.name}.")
            for same in by_key.values() if len(same) > 1 for f in same[1:]]


def list_audio_files(root: Path, folders: list[MachineFolder]) -> tuple[list[dict], list[Problem]]:
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
                problems.append(Problem(relative(root, split_dir),
                                        f"cannot be listed ({err.strerror})."))
                continue
            split_rel = relative(root, split_dir)
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # .DS_Store, ._name resource forks, editor swap files
                clip_id = f"{split_rel}/{entry.name}"
                if not _is_utf8(clip_id):  # the table's (Arrow) strings cannot hold such names
                    problems.append(Problem(printable(clip_id), "file name is not valid UTF-8; "
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


def printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# 2. header reading --------------------------------------------------------------------------


def read_headers(paths: list[str], progress: ProgressFn | None,
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


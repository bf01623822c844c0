"""Rendering clips and writing the dataset: audio, attribute tables, ``truth.csv``, the
manifest; the lock, resumable staging and the swap into place."""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf
from filelock import FileLock, Timeout

from asdcore.atomic import write_json, write_text
from asdcore.dataset import parse_attributes
from asdcore.errors import ASDError
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report
from asdcore.synth.plan import (
    FAMILIES,
    PRESETS,
    SECTION,
    Clip,
    Family,
    SynthPreset,
    clip_rngs,
    family_of,
    plan_machine,
    room_rng,
)
from asdcore.synth.signals import SAMPLE_RATE, rms, shape_spectrum

# The demo family's version (`plan.FAMILIES`, bumped whenever its audio or layout changes: an
# existing demo of another version is replaced). 3: fault catalogue, calibrated domain shift,
# truth.csv, 8 s clips.
GENERATOR_VERSION = FAMILIES["demo"].version
GENERATOR_NAME = "asdcore.synth"
MANIFEST_NAME = "asd_demo.json"
ALL_MACHINES = frozenset(m for family in FAMILIES.values() for m in family.machines)
TRUTH_NAME = "truth.csv"  # in dev_data/raw, beside the machine folders
TRUTH_COLUMNS = ("file", "machine", "section", "split", "domain", "label", "attributes",
                 "fault", "severity")
# Clips are recorded at a fixed gain (level differences would be a nuisance no real recording
# has) and limited to -1 dBFS peaks, so nothing ever clips.
RMS_LEVEL = 10 ** (-24 / 20)
PEAK_LEVEL = 10 ** (-1 / 20)


def render(clip: Clip, seed: int) -> np.ndarray:
    """The clip's audio as 16-bit samples at the fixed recording level."""
    rng, fault_rng = clip_rngs(seed, clip)
    family = FAMILIES[clip.family]
    env = family.environments[clip.domain]
    if clip.label == "noise":
        y = env.background(clip.samples, rng)
    else:
        y = family.sound_models[clip.machine](clip.samples, parse_attributes(clip.attributes),
                                              clip.anomaly, clip.severity, rng, fault_rng)
        y = env.room(y, room_rng(seed, clip))
        y /= rms(y)
        if clip.label != "clean":
            snr_db = rng.uniform(*env.snr_db)
            noise = env.background(clip.samples, rng)
            y += 10 ** (-snr_db / 20) * noise / rms(noise)
    y = shape_spectrum(y, env.microphone.gain)
    y *= min(RMS_LEVEL / rms(y), PEAK_LEVEL / np.max(np.abs(y)))
    return np.round(y * 32767).astype(np.int16)


def _clip_bytes(clip: Clip) -> int:
    """Size of the clip's WAV file (16-bit mono PCM, 44-byte header)."""
    return 44 + 2 * clip.samples


def _write_chunk(root: str, clips: list[Clip], seed: int) -> int:
    """Render and write the clips not written yet (runs in a worker); returns how many clips
    are done. Each file is written aside and renamed, so a file present is complete."""
    for clip in clips:
        path = Path(root, clip.relpath)
        if _file_size(path) == _clip_bytes(clip):
            continue
        partial = path.with_name(f".{path.name}.partial")
        sf.write(partial, render(clip, seed), SAMPLE_RATE, subtype="PCM_16", format="WAV")
        os.replace(partial, path)
    return len(clips)


def _file_size(path: Path) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------
# Tables and manifest.


def _csv_text(rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _attributes_table(clips: list[Clip]) -> str:
    """``attributes_00.csv`` of one machine: train and test clips with their attribute pairs."""
    listed = [c for c in clips if c.split in ("train", "test")]
    if listed[0].attributes_hidden:
        return "".join(line + "\n" for line in ["file_name", *(c.relpath for c in listed)])
    rows = [[c.relpath, *c.attributes.split("_")] for c in listed]
    width = max(len(row) for row in rows) // 2
    header = ["file_name", *(f"d{i}{kind}" for i in range(1, width + 1) for kind in "pv")]
    return "".join(",".join(row) + "\n" for row in [header, *rows])


def _correspondence_table(clips: list[Clip]) -> str:
    """Ground truth of an attribute-less machine: published name -> name with true attributes."""
    rows = [f"{c.relpath},{c.machine}/{c.split}/{c.true_name}"
            for c in clips if c.split in ("train", "test")]
    return "".join(line + "\n" for line in ["source_file_name,target_file_name", *rows])


def truth_table(clips: list[Clip]) -> str:
    """``truth.csv``: every clip with its true attributes (hidden ones too), fault and
    severity; ``file`` is the path relative to ``dev_data/raw``."""
    return _csv_text([TRUTH_COLUMNS, *(
        (c.relpath, c.machine, SECTION, c.split, c.domain, c.label, c.attributes, c.anomaly,
         f"{c.severity:.3f}") for c in clips)])


def _counts(clips: list[Clip]) -> dict[str, int]:
    return dict(Counter(
        f"{c.split}_{c.label}" if c.split == "supplemental" else f"{c.split}_{c.domain}_{c.label}"
        for c in clips))


def _manifest(preset: SynthPreset, seed: int, family: Family, machines: tuple[str, ...],
              clips: list[Clip]) -> dict:
    # the demo family's manifest names no family, as before families existed
    named = {} if family.name == "demo" else {"family": family.name}
    return {
        "generator": GENERATOR_NAME,
        **named,
        "version": family.version,
        "preset": preset.name,
        "seed": seed,
        "machines": list(machines),
        "sample_rate": SAMPLE_RATE,
        "preset_parameters": asdict(preset),
        "counts": {m: _counts([c for c in clips if c.machine == m]) for m in machines},
        "total_clips": len(clips),
        # bytes of every clip file per machine (all of a machine's clips have one length), so
        # a missing or truncated clip is found by its size without reading any audio
        "clip_bytes": {m: _clip_bytes(next(c for c in clips if c.machine == m))
                       for m in machines},
        "complete": True,
    }


def read_manifest(out: str | os.PathLike) -> dict | None:
    """The manifest of a dataset written by this module, or None when there is none."""
    try:
        manifest = json.loads(Path(out, MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ours = isinstance(manifest, dict) and manifest.get("generator") == GENERATOR_NAME
    return manifest if ours and manifest.get("complete") is True else None


def manifest_family(manifest: dict) -> Family | None:
    """The family of a manifest's dataset (the demo when it names none), None if unknown."""
    return FAMILIES.get(str(manifest.get("family", "demo")))


def _manifest_machines(manifest: dict) -> tuple[str, ...]:
    """The machines a manifest's dataset holds (all of its family's before the choice
    existed)."""
    family = manifest_family(manifest)
    if family is None:
        return ()
    listed = manifest.get("machines")
    if not isinstance(listed, list):
        return family.machines
    return tuple(m for m in family.machines if m in listed)


def damaged_clips(out: str | os.PathLike, manifest: dict | None = None) -> list[str]:
    """The clips (paths relative to ``dev_data/raw``) of the dataset in ``out`` that are
    missing or not of the size its manifest records (truncated, replaced...). Only sizes are
    compared (one ``stat`` per clip, about 10 ms for the demo), never the audio. An empty list
    when the manifest records no sizes (datasets written before it did) or names no preset."""
    manifest = read_manifest(out) if manifest is None else manifest
    sizes = (manifest or {}).get("clip_bytes")
    preset = PRESETS.get(str((manifest or {}).get("preset")))
    family = manifest_family(manifest or {})
    if not isinstance(sizes, dict) or preset is None or family is None:
        return []
    raw, damaged = Path(out, "dev_data", "raw"), []
    for machine in _manifest_machines(manifest):
        expected = sizes.get(machine)
        if not isinstance(expected, int):
            continue
        damaged += [clip.relpath for clip in plan_machine(machine, preset, family.name)
                    if _file_size(raw / clip.relpath) != expected]
    return damaged


def _chosen_machines(machines: Sequence[str] | None, family: Family) -> tuple[str, ...]:
    if not machines:
        return family.machines
    unknown = sorted(set(machines) - set(family.machines))
    if unknown:
        raise ASDError(f"Unknown machine type {unknown[0]!r}; choose among "
                       f"{', '.join(family.machines)}.")
    return tuple(m for m in family.machines if m in machines)


def is_dataset(out: str | os.PathLike, preset: str, seed: int, check_clips: bool = True,
               machines: Sequence[str] | None = None, family: str = "demo") -> bool:
    """Whether ``out`` holds the complete dataset ``preset``/``seed`` of ``family`` (of
    ``machines``, default all) of the family's current version, with (``check_clips``) every
    clip file present at its recorded size. A dataset of another family is not it."""
    spec = family_of(family)
    existing = read_manifest(out)
    if not existing or (existing.get("preset"), existing.get("seed"), existing.get("version"),
                        existing.get("family", "demo")) != (preset, seed, spec.version, family):
        return False
    if _manifest_machines(existing) != _chosen_machines(machines, spec):
        return False
    return not (check_clips and damaged_clips(out, existing))


# ---------------------------------------------------------------------------------------------
# Generation.

CLIPS_PER_CHUNK = 8
# Below this much audio, starting worker threads costs more than it saves.
PARALLEL_MIN_SECONDS = 1000.0


def _default_workers(clips: list[Clip]) -> int:
    if sum(clip.samples for clip in clips) < PARALLEL_MIN_SECONDS * SAMPLE_RATE:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def generate(out: str | os.PathLike, preset: str = "demo", seed: int = 0,
             progress: ProgressFn | None = None, cancel: CancelFn | None = None,
             workers: int | None = None, managed: bool = False,
             machines: Sequence[str] | None = None, family: str = "demo") -> Path:
    """Write the synthetic dataset ``preset`` of ``family`` (`plan.FAMILIES`: "demo", the
    seven DCASE 2025 machine types, or "plant", five plant machines in reverberant halls) into
    the folder ``out`` and return ``out``.

    Writes ``out/dev_data/raw/<machine>/{train,test,supplemental}/*.wav`` for ``machines``
    (default all of the family's), each machine's ``attributes_00.csv`` (and, for the attribute-less
    machines, the ground truth ``attributes_correspondence.csv``), ``dev_data/raw/truth.csv``
    (every clip's true attributes, fault and severity) and the manifest ``out/asd_demo.json``,
    which records the size of every clip file.

    What happens to an existing ``out``:

    - it holds this very dataset (family, preset, seed, machines, version, every clip at its
      recorded size): nothing is done;
    - its manifest is this generator's (another family, preset, seed, machine list or version,
      or clips missing or truncated): it is replaced;
    - it is empty: it is filled;
    - anything else (no manifest, or a damaged one) is refused, so a folder of the user's own
      is never touched, even one laid out like a DCASE dataset (real DCASE data is). Only with
      ``managed`` (the app's own demo in ``cache/demo/``, `workspace.ensure_demo`; never the
      command line's ``demo OUT``) is such a folder replaced too, and only when it holds
      nothing but what generation writes (``dev_data/raw/<machine>`` folders of this
      generator's machine names, ``truth.csv`` and the manifest), no symbolic link at its top.

    The new tree is built in a hidden staging folder beside ``out`` and swapped in, so ``out``
    is never half written. The staging folder is named after what is generated, and each clip
    file in it is complete once present: a generation that was killed is resumed by the next
    one of the same dataset (clips already written are kept), while staging folders of other
    generations of ``out`` are removed. Generation holds a lock on ``out``. ``workers`` threads
    render the clips (default: the available cores for large presets, one for small ones); the
    bytes written do not depend on it.
    """
    out = Path(out)
    if preset not in PRESETS:
        raise ASDError(f"Unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ASDError(f"The seed must be a non-negative integer, not {seed!r}.")
    spec, seed, kind = PRESETS[preset], int(seed), family_of(family)
    chosen = _chosen_machines(machines, kind)
    if is_dataset(out, preset, seed, machines=chosen, family=family):
        return out
    # Several app sessions (browser tabs) may ask for the demo at once: one generates it, the
    # others wait and then find it complete.
    with _exclusive_lock(out, progress):
        staging = out.parent / f".{out.name}.partial-{_staging_key(spec, seed, kind, chosen)}"
        _remove_leftovers(out, keep=staging)
        if is_dataset(out, preset, seed, machines=chosen, family=family):
            return out
        return _generate_unlocked(out, staging, spec, seed, kind, chosen, progress, cancel,
                                  workers, managed)


def _staging_key(spec: SynthPreset, seed: int, family: Family,
                 machines: tuple[str, ...]) -> str:
    """8 characters naming what a generation writes, so a killed one can be resumed."""
    named = [] if family.name == "demo" else [family.name]
    what = json.dumps([*named, family.version, asdict(spec), seed, machines])
    return hashlib.sha256(what.encode("utf-8")).hexdigest()[:8]


def _leftover_pattern(out: Path) -> re.Pattern:
    """Names of the hidden folders generation of ``out`` makes beside it (`tempfile.mkdtemp`
    adds 8 characters; so does `_staging_key`)."""
    return re.compile(rf"\.{re.escape(out.name)}\.(partial|old)-[a-z0-9_]{{8}}")


def _remove_leftovers(out: Path, keep: Path | None = None) -> None:
    """Remove what a killed generation of ``out`` left beside it: its staging folder
    (``.<name>.partial-*``) or the retired older dataset (``.<name>.old-*``), except ``keep``
    (the staging folder of the generation about to resume). Call only while holding
    `_exclusive_lock`: then no live generator of ``out`` exists to own them."""
    pattern = _leftover_pattern(out)
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return
    for entry in entries:
        if keep is not None and entry.name == keep.name:
            continue
        if pattern.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)


def _only_generated_content(out: Path) -> bool:
    """Whether the folder ``out`` holds nothing but what generation writes: the manifest,
    ``truth.csv`` and ``dev_data/raw/<machine>`` folders of the generator's machines (any
    files inside those: a damaged dataset may miss some or hold stray ones). Not for a
    symbolic link."""
    if out.is_symlink():
        return False
    allowed = {out: {"dev_data", MANIFEST_NAME}, out / "dev_data": {"raw"},
               out / "dev_data" / "raw": {*ALL_MACHINES, TRUTH_NAME}}
    for folder, names in allowed.items():
        if not folder.exists():
            continue
        if folder.is_symlink() or not folder.is_dir():
            return False
        if any(entry.name not in names for entry in os.scandir(folder)):
            return False
    return True


@contextlib.contextmanager
def _exclusive_lock(out: Path, progress: ProgressFn | None):
    """Hold the lock of generations into ``out``. Its file lives in the temporary folder, named
    by a digest of the resolved path, so nothing is left beside the dataset."""
    out.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(str(out.resolve()).encode("utf-8")).hexdigest()[:32]
    lock = FileLock(Path(tempfile.gettempdir()) / f"asd-generation-{digest}.lock")
    try:
        lock.acquire(blocking=False)
    except Timeout:
        report(progress, 0, 1, "waiting for another process generating a dataset here")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _generate_unlocked(out: Path, staging: Path, spec: SynthPreset, seed: int, family: Family,
                       machines: tuple[str, ...], progress: ProgressFn | None,
                       cancel: CancelFn | None, workers: int | None,
                       managed: bool = False) -> Path:
    existing = read_manifest(out)
    if out.exists() and not out.is_dir():
        raise ASDError(f"{out} exists and is not a folder.")
    if out.is_dir() and existing is None and any(out.iterdir()):
        if not managed:
            raise ASDError(f"{out} is not empty and does not hold a generated demo dataset; "
                           "choose an empty or new folder.")
        if not _only_generated_content(out):
            raise ASDError(f"{out} holds files the demo generator did not write, so it is not "
                           "rebuilt; move them elsewhere or delete the folder.")

    clips = [clip for machine in machines for clip in plan_machine(machine, spec, family.name)]
    raw = staging / "dev_data" / "raw"
    for machine in machines:
        for split in ("train", "test", "supplemental"):
            (raw / machine / split).mkdir(parents=True, exist_ok=True)
    staging.chmod(0o755)
    _render_all(raw, clips, seed, workers or _default_workers(clips), progress, cancel)
    for machine in machines:
        own = [c for c in clips if c.machine == machine]
        write_text(raw / machine / "attributes_00.csv", _attributes_table(own))
        if machine in family.hidden_attribute_machines:
            write_text(raw / machine / "attributes_correspondence.csv",
                       _correspondence_table(own))
    write_text(raw / TRUTH_NAME, truth_table(clips))
    write_json(staging / MANIFEST_NAME, _manifest(spec, seed, family, machines, clips))
    check_cancel(cancel)
    _move_into_place(staging, out)
    return out


def _render_all(raw: Path, clips: list[Clip], seed: int, workers: int,
                progress: ProgressFn | None, cancel: CancelFn | None) -> None:
    chunks = [clips[i:i + CLIPS_PER_CHUNK] for i in range(0, len(clips), CLIPS_PER_CHUNK)]
    done, total = 0, len(clips)
    report(progress, done, total, "generating demo audio")
    check_cancel(cancel)
    if workers <= 1:
        for chunk in chunks:
            done += _write_chunk(str(raw), chunk, seed)
            report(progress, done, total, chunk[-1].machine)
            check_cancel(cancel)
        return
    # Threads, not processes: numpy's FFTs and filters release the GIL, and a process pool
    # would have to re-import the caller's main module (a Streamlit script, a test runner),
    # which is fragile.
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="synth") as pool:
        futures = {pool.submit(_write_chunk, str(raw), chunk, seed): chunk for chunk in chunks}
        try:
            for future in concurrent.futures.as_completed(futures):
                done += future.result()
                report(progress, done, total, futures[future][-1].machine)
                check_cancel(cancel)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _move_into_place(staging: Path, out: Path) -> None:
    """Rename the finished tree onto ``out``, replacing an empty folder or an older demo."""
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if out.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, retired / "data")
        os.replace(staging, out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, out)

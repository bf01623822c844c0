"""How fast `asdcore.dataset.scan` reads a full-size DCASE tree (file headers only).

Builds a 15,000-file tree in a temporary folder (12 machine types x 1,000 train, 200 test and
50 supplemental clips under DCASE 2025 names) by hard-linking a handful of real clips from
../shared/real-samples (synthetic 10 s clips when those are absent), then times:

- the first scan, in a fresh process ("cold-ish": the files' data pages are evicted with
  posix_fadvise, but the kernel's directory and inode caches may still be warm);
- warm scans in this process (best and median of a few), with the default thread pool and with
  a single header-reading thread for comparison.

Appends the figures to bench/RESULTS.md. Usage: ``python bench/bench_scan.py [--files N]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from asdcore import dataset  # noqa: E402
from asdcore.dataset import discover  # noqa: E402
from bench import results  # noqa: E402

REAL_SAMPLES = PROJECT.parent / "shared" / "real-samples" / "dcase2023_dev"
MACHINES = ["ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve",
            "AutoTrash", "HomeCamera", "Polisher", "ScrewFeeder", "ToyPet"]
PER_MACHINE = {"train": 1000, "test": 200, "supplemental": 50}


def source_clips(folder: Path) -> list[Path]:
    """A handful of real clips copied next to the tree (hard links need one file system)."""
    folder.mkdir(parents=True)
    real = sorted(REAL_SAMPLES.glob("*/*/*.wav"))[:8]
    if real:
        return [Path(shutil.copy2(p, folder / p.name)) for p in real]
    rng = np.random.default_rng(0)
    clips = []
    for i in range(4):
        path = folder / f"clip{i}.wav"
        sf.write(path, 0.1 * rng.standard_normal(160000), 16000, subtype="PCM_16")
        clips.append(path)
    return clips


def build_tree(root: Path, n_files: int) -> tuple[int, int, int]:
    """DCASE 2025 dev-style tree of about ``n_files`` hard links.

    Returns the number of files, machine folders and distinct source clips.
    """
    sources = source_clips(root / "sources")
    per_machine = sum(PER_MACHINE.values())
    n_machines = max(1, round(n_files / per_machine))
    made = 0
    for m in range(n_machines):
        suffix = f"_{m // len(MACHINES)}" if m >= len(MACHINES) else ""
        machine = MACHINES[m % len(MACHINES)] + suffix
        folder = root / "dcase2025t2" / "dev_data" / "raw" / machine
        for split, count in PER_MACHINE.items():
            (folder / split).mkdir(parents=True)
            for i in range(count):
                domain = "target" if i % 100 == 99 else "source"
                if split == "supplemental":
                    kind = "clean" if i % 2 else "noise"
                    name = f"section_00_source_supplemental_{kind}_{i:04d}_noAttribute.wav"
                else:
                    label = "anomaly" if split == "test" and i % 2 else "normal"
                    name = (f"section_00_{domain}_{split}_{label}_{i:04d}"
                            f"_car_A{i % 3}_spd_{i % 7}_mic_1.wav")
                os.link(sources[made % len(sources)], folder / split / name)
                made += 1
    return made, n_machines, len(sources)


def evict(paths: list[Path]) -> None:
    """Drop the clips' data pages from the page cache (only these files; no privileges)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed_scan(data: Path) -> tuple[float, int]:
    start = time.perf_counter()
    ds = dataset.scan(data)
    return time.perf_counter() - start, len(ds.clips)


def first_scan_in_fresh_process(data: Path) -> float:
    code = ("import sys, time; sys.path.insert(0, sys.argv[2]); from asdcore import dataset; "
            "t = time.perf_counter(); dataset.scan(sys.argv[1]); print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code, str(data), str(PROJECT)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=15000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dry-run", action="store_true", help="print, do not append to RESULTS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_scan_") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        n_files, n_machines, n_sources = build_tree(root, args.files)
        build_s = time.perf_counter() - start
        data = root / "dcase2025t2"
        evict(sorted((root / "sources").glob("*.wav")))
        cold_s = first_scan_in_fresh_process(data)

        warm = []
        for _ in range(args.repeats):
            seconds, n_clips = timed_scan(data)
            warm.append(seconds)
        assert n_clips == n_files, (n_clips, n_files)

        default_threads = discover.HEADER_THREADS
        discover.HEADER_THREADS = 1
        single = [timed_scan(data)[0] for _ in range(args.repeats)]
        discover.HEADER_THREADS = default_threads

    rows = [
        ("first scan, fresh process (cold-ish)", cold_s),
        (f"warm scan, {default_threads} header threads (best)", min(warm)),
        (f"warm scan, {default_threads} header threads (median)", statistics.median(warm)),
        ("warm scan, 1 header thread (best)", min(single)),
        ("warm scan, 1 header thread (median)", statistics.median(single)),
    ]
    origin = "real" if REAL_SAMPLES.is_dir() else "synthetic"
    lines = [f"{n_files} WAV files (hard links to {n_sources} {origin} clips) in {n_machines} "
             f"machine folders; tree built in {build_s:.1f} s; "
             f"{os.cpu_count()} CPU cores visible.", "",
             "| scan | seconds | files/s |", "|---|---|---|"]
    lines += [f"| {label} | {seconds:.2f} | {n_files / seconds:,.0f} |" for label, seconds in rows]
    body = "\n".join(lines)
    print(body)
    if not args.dry_run:
        results.append("bench_scan.py: dataset scan", body)


if __name__ == "__main__":
    main()

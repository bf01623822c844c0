"""Append a benchmark's figures to bench/RESULTS.md, stamped with the date and the machine."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from pathlib import Path

from filelock import FileLock

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine_description() -> str:
    """CPU model, core count, memory and GPU (if any), in one line."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        pass
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, {gpu}"


def append(title: str, body: str) -> None:
    """Append a dated section to RESULTS.md; safe against two benchmarks appending at once."""
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    text = f"\n## {title}\n\n{stamp}, {machine_description()}\n\n{body.rstrip()}\n"
    with FileLock(RESULTS.with_name(".RESULTS.md.lock")):
        with open(RESULTS, "a", encoding="utf-8") as fh:
            fh.write(text)

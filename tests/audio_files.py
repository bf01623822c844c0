"""Audio files for tests: an hour-long clip written in blocks, a clip the scan accepts but no
decoder can read, and the peak memory a piece of work adds, measured in a child process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000

# Python source for a child process: ``extra_mb(work)`` runs ``work()`` and returns its value and
# the peak resident memory (MB) it added; Linux only (/proc/self/clear_refs resets VmHWM).
PEAK_MEMORY_PRELUDE = """
def status_mb(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith(field))

def extra_mb(work):  # the peak memory ``work`` adds to what the process holds
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets the peak (VmHWM) to the current size
    before = status_mb("VmRSS:")
    value = work()
    return value, status_mb("VmHWM:") - before
"""


def write_long(path: Path, like: Path, seconds: int) -> None:
    """``seconds`` of a real clip repeated, written in 10 s blocks (16 kHz mono PCM16), so the
    test itself never holds the whole recording."""
    y, sr = sf.read(like, dtype="float32")
    assert sr == SR and seconds % 10 == 0
    block = np.tile(y, -(-10 * SR // len(y)))[:10 * SR]
    with sf.SoundFile(path, "w", SR, 1, "PCM_16") as out:
        for _ in range(seconds // 10):
            out.write(block)


def write_truncated_flac(path: Path, like: Path) -> None:
    """A FLAC file whose header is intact (the scan accepts it) but whose audio stops half-way:
    decoding it fails ("flac decoder lost sync")."""
    y, _ = sf.read(like, dtype="float32")
    sf.write(path, y, SR, format="FLAC")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

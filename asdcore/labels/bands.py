"""Named frequency bands per machine: the bands a user picked on the Spectra page, offered for
envelope labelling.

They are the user's work, so they live in the workspace beside the machine's label store
(``workspace/labels/<dataset key>/<machine>/bands.json``), replaced atomically under a lock so
two browser tabs saving at once never lose a band.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterator

from filelock import FileLock

from asdcore.atomic import write_json
from asdcore.audio import SAMPLE_RATE
from asdcore.dsp import Band
from asdcore.errors import ASDError
from asdcore.labels.store import LabelStore, single_machine_folder

BAND_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.+-]{0,39}")


def check_band(band: tuple[float, float], sr: int = SAMPLE_RATE) -> Band:
    """``band`` as floats when it lies within 0..sr/2 with its low edge below its high edge;
    else `ASDError` saying what is wrong."""
    low, high = float(band[0]), float(band[1])
    nyquist = sr / 2
    if not (math.isfinite(low) and math.isfinite(high) and 0 <= low < high <= nyquist):
        raise ASDError(f"The band {low:g}-{high:g} Hz is not usable: it must lie within "
                       f"0-{nyquist:g} Hz (half the sample rate), its low edge below its high edge.")
    return low, high


def check_band_name(name: str) -> str:
    """``name`` stripped, when it is 1 to 40 letters, digits, spaces, '_', '.', '+' or '-'."""
    name = name.strip() if isinstance(name, str) else name
    if not isinstance(name, str) or not BAND_NAME.fullmatch(name):
        raise ASDError(f"Invalid band name {name!r}: use 1 to 40 letters, digits, spaces, '_', "
                       "'.', '+' or '-', starting with a letter or digit.")
    return name


class BandStore:
    """The named bands of one machine folder. Nothing is cached: every call reads the file."""

    def __init__(self, machine_folder: str | os.PathLike, sr: int = SAMPLE_RATE):
        self.sr = sr
        self.path = LabelStore(machine_folder).path / "bands.json"

    @classmethod
    def open(cls, data: str | os.PathLike, machine: str) -> BandStore:
        """The bands of ``machine`` in the dataset folder ``data`` (any level, as `scan`)."""
        return cls(single_machine_folder(data, machine))

    def bands(self) -> dict[str, Band]:
        """Name -> ``(low, high)`` in Hz, in the order they were first saved."""
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ASDError(f"The band file {self.path} is unreadable: {err}.") from err
        return {name: (float(low), float(high)) for name, (low, high) in stored.items()}

    def save(self, name: str, band: tuple[float, float]) -> Band:
        """Save ``band`` under ``name`` (replacing a band of that name); returns the band."""
        name, band = check_band_name(name), check_band(band, self.sr)
        with self._locked() as bands:
            bands[name] = band
            write_json(self.path, {n: list(b) for n, b in bands.items()})
        return band

    def delete(self, name: str) -> None:
        """Forget the band ``name`` (nothing happens when there is none)."""
        with self._locked() as bands:
            if bands.pop(name, None) is not None:
                write_json(self.path, {n: list(b) for n, b in bands.items()})

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Band]]:
        """The current bands, read under the file's lock, held until the block ends."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(self.path.parent / ".bands.lock"):
            yield self.bands()

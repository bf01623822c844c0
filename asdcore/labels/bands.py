"""Named frequency bands per machine (the bands a user picked on the Spectra page, offered for
envelope labelling) and named bearings (geometry or fault-frequency multipliers).

They are the user's work, so they live in the workspace beside the machine's label store
(``workspace/labels/<dataset key>/<machine>/bands.json``, ``bearings.json``), replaced
atomically under a lock so two browser tabs saving at once never lose one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterator, Mapping

from filelock import FileLock

from asdcore import dsp
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
                       f"0-{nyquist:g} Hz (half the sample rate), its low edge below its high "
                       "edge.")
    return low, high


def check_band_name(name: str) -> str:
    """``name`` stripped, when it is 1 to 40 letters, digits, spaces, '_', '.', '+' or '-'."""
    name = name.strip() if isinstance(name, str) else name
    if not isinstance(name, str) or not BAND_NAME.fullmatch(name):
        raise ASDError(f"Invalid band name {name!r}: use 1 to 40 letters, digits, spaces, '_', "
                       "'.', '+' or '-', starting with a letter or digit.")
    return name


class _NamedStore:
    """Named entries of one machine folder in ``<label store>/<file_name>``, replaced
    atomically under a lock. Nothing is cached: every call reads the file."""

    file_name = ""
    what = ""  # what the entries are, for messages

    def __init__(self, machine_folder: str | os.PathLike, sr: int = SAMPLE_RATE):
        self.sr = sr
        self.path = LabelStore(machine_folder).path / self.file_name

    @classmethod
    def open(cls, data: str | os.PathLike, machine: str):
        """The entries of ``machine`` in the dataset folder ``data`` (any level, as `scan`)."""
        return cls(single_machine_folder(data, machine))

    def _stored(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ASDError(f"The {self.what} file {self.path} is unreadable: {err}.") from err

    def _save(self, name: str, value) -> None:
        name = check_band_name(name)
        with self._locked() as stored:
            stored[name] = value
            write_json(self.path, stored)

    def delete(self, name: str) -> None:
        """Forget the entry ``name`` (nothing happens when there is none)."""
        with self._locked() as stored:
            if stored.pop(name, None) is not None:
                write_json(self.path, stored)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict]:
        """The stored entries, read under the file's lock, held until the block ends."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(self.path.parent / f".{self.path.stem}.lock"):
            yield self._stored()


class BandStore(_NamedStore):
    """The named bands of one machine folder."""

    file_name, what = "bands.json", "band"

    def bands(self) -> dict[str, Band]:
        """Name -> ``(low, high)`` in Hz, in the order they were first saved."""
        return {name: (float(low), float(high)) for name, (low, high) in self._stored().items()}

    def save(self, name: str, band: tuple[float, float]) -> Band:
        """Save ``band`` under ``name`` (replacing a band of that name); returns the band."""
        band = check_band(band, self.sr)
        self._save(name, list(band))
        return band


def bearing_entry(multipliers: Mapping[str, float] | None = None,
                  geometry: Mapping[str, float] | None = None,
                  shaft_hz: float | None = None) -> dict:
    """A bearing as saved: its fault-frequency ``multipliers`` (per unit shaft rate; computed
    from ``geometry`` when that is given: ``n_elements``, ``ball_diameter``,
    ``pitch_diameter``, ``contact_angle_deg``), the geometry, and a shaft rate (None: given or
    detected at analysis)."""
    if geometry is not None:
        multipliers = dsp.bearing_multipliers(**geometry)
        geometry = {key: float(value) for key, value in geometry.items()}
    if not multipliers:
        raise ASDError("A bearing needs its geometry or its fault-frequency multipliers.")
    unknown = set(multipliers) - set(dsp.BEARING_LINES)
    if unknown:
        raise ASDError(f"Unknown bearing lines {sorted(unknown)}; use "
                       f"{', '.join(dsp.BEARING_LINES)}.")
    checked = {}
    for line, value in multipliers.items():
        value = float(value)
        if not (math.isfinite(value) and value > 0):
            raise ASDError(f"The {line} multiplier {value:g} is not usable: give a number "
                           "above 0 (the fault frequency per unit shaft rate).")
        checked[line] = value
    if shaft_hz is not None and not (math.isfinite(float(shaft_hz)) and float(shaft_hz) > 0):
        raise ASDError(f"The shaft speed {float(shaft_hz):g} Hz is not usable: give a rate "
                       "above 0.")
    return {"multipliers": checked, "geometry": geometry,
            "shaft_hz": None if shaft_hz is None else float(shaft_hz)}


class BearingStore(_NamedStore):
    """The named bearings (geometry sets or published multipliers) of one machine folder."""

    file_name, what = "bearings.json", "bearing"

    def bearings(self) -> dict[str, dict]:
        """Name -> `bearing_entry`, in the order they were first saved."""
        return self._stored()

    def save(self, name: str, **entry) -> dict:
        """Save a bearing (the arguments of `bearing_entry`) under ``name``; returns it."""
        saved = bearing_entry(**entry)
        self._save(name, saved)
        return saved

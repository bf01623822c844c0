"""The fault catalogue: what breaks in a machine and where it shows in the sound.

Each fault kind is a physical mechanism with a signature in the signal, most of them not a
plain change of band energy: impulse trains at bearing defect frequencies ringing a structural
resonance, shaft-order tones, sidebands around a mesh frequency, one impact per revolution,
random-phase rattle, a wobbling speed, broadband bursts, changed event timing, intermittent
friction. A machine model (`machines`) describes its kinematics as a `Rotor` and asks this
module for the fault's part of the sound.

``severity`` runs from 0 (the normal clip, bit for bit: faults draw from their own random
stream) through barely audible (an added component ``FAULT_LEVEL_DB[0]`` below the machine)
to clear (``FAULT_LEVEL_DB[1]``); kinematic faults (speed wobble, valve timing) scale their
depth with it instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from asdcore.synth.signals import (
    SAMPLE_RATE,
    band_noise,
    bursts,
    harmonics,
    impulses_on,
    once_per,
    resonate,
    rms,
    wander,
)

# Level of an added fault component relative to the normal machine sound (RMS, dB) at the
# smallest and the largest severity. Calibrated so the official AE baseline lands near its
# published DCASE 2025 development figures (bench/bench_calibration.py, bench/RESULTS.md).
FAULT_LEVEL_DB = (-40.0, -17.0)


@dataclass(frozen=True)
class FaultKind:
    name: str
    physics: str  # what is broken
    signature: str  # where it shows in the signal


CATALOGUE: dict[str, FaultKind] = {f.name: f for f in (
    FaultKind("outer_race", "a spall on a bearing's outer race",
              "impacts at the outer-race frequency (BPFO) ringing a structural resonance"),
    FaultKind("inner_race", "a spall on a bearing's inner race, turning with the shaft",
              "impacts at the inner-race frequency (BPFI), amplitude-modulated at the shaft "
              "rate (sidebands at BPFI +- 1x in the envelope spectrum)"),
    FaultKind("ball", "a damaged rolling element",
              "impacts at twice the ball-spin frequency, modulated at the cage rate"),
    FaultKind("imbalance", "mass off the rotation axis",
              "a 1x shaft tone and a once-per-revolution swell of the whole sound"),
    FaultKind("misalignment", "shafts of a coupling not in line",
              "2x and 3x shaft-order tones"),
    FaultKind("gear_wear", "worn or pitted tooth flanks",
              "sidebands at +-1x, 2x, 3x the shaft rate around the mesh frequency"),
    FaultKind("chipped_tooth", "one broken tooth", "one impact per shaft revolution"),
    FaultKind("flat_wheel", "a flat spot on a wheel", "one impact per wheel revolution"),
    FaultKind("blade_damage", "one bent or chipped blade",
              "sidebands at +-1x the rotation around the blade-pass frequency, and 1x"),
    FaultKind("looseness", "a loose part or mounting",
              "random-phase transients on some revolutions, ringing the part's own resonance"),
    FaultKind("belt_slip", "a slipping belt or drive",
              "the speed wobbles: every harmonic of the drive spreads and wanders"),
    FaultKind("cavitation", "vapour bubbles collapsing in the flow",
              "short broadband bursts at random times"),
    FaultKind("valve_sticking", "a valve that sticks",
              "openings late by a varying lag, some missed: changed event timing"),
    FaultKind("valve_leak", "a seat that no longer seals", "flow hiss between the events"),
    FaultKind("rub", "a rotating part touching a stationary one",
              "intermittent friction noise on some revolutions, at one phase of the turn"),
)}


@dataclass(frozen=True)
class BearingGeometry:
    """A rolling bearing: number of balls, ball-to-pitch diameter ratio, contact angle."""

    balls: int
    diameter_ratio: float
    contact_deg: float = 0.0

    @property
    def _dc(self) -> float:
        return self.diameter_ratio * np.cos(np.radians(self.contact_deg))

    @property
    def outer_race(self) -> float:
        """BPFO per shaft revolution."""
        return self.balls / 2 * (1 - self._dc)

    @property
    def inner_race(self) -> float:
        """BPFI per shaft revolution."""
        return self.balls / 2 * (1 + self._dc)

    @property
    def ball_spin(self) -> float:
        """BSF per shaft revolution (a ball defect hits both races: impacts at twice this)."""
        return (1 - self._dc ** 2) / (2 * self.diameter_ratio)

    @property
    def cage(self) -> float:
        """FTF per shaft revolution."""
        return (1 - self._dc) / 2


@dataclass(frozen=True)
class Rotor:
    """What a fault needs to know of a machine: its shaft, how its structure rings, its mesh."""

    shaft: np.ndarray  # running cycle count of the shaft (revolutions, per sample)
    ring: Callable[[np.ndarray], np.ndarray]  # the structure's response to an impulse train
    bearing: BearingGeometry = BearingGeometry(12, 0.25)
    mesh_teeth: int = 0  # teeth (or blades) per revolution whose mesh tone faults modulate
    part_hz: float = 2200.0  # resonance of the part that comes loose
    rub_band: tuple[float, float] = (2000.0, 6000.0)

    @property
    def n(self) -> int:
        return self.shaft.size


def fault_level(severity: float) -> float:
    """Linear amplitude of an added fault component relative to the machine (0 for 0)."""
    if severity <= 0:
        return 0.0
    low, high = FAULT_LEVEL_DB
    return 10 ** ((low + (high - low) * min(1.0, severity)) / 20)


def speed_factor(kind: str, severity: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """The drive's speed multiplier: a belt that slips wobbles by up to 2 %, else 1."""
    if kind != "belt_slip" or severity <= 0:
        return np.ones(n)
    return wander(n, rng, 0.02 * severity, knots_per_second=6.0)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / rms(x)


def _impact_train(rotor: Rotor, per_rev: float, rng: np.random.Generator,
                  modulation: np.ndarray | float = 1.0) -> np.ndarray:
    """Impacts ``per_rev`` times a shaft revolution (1 % slip scatter), ringing the structure."""
    impacts = impulses_on(rotor.shaft * per_rev, rng, jitter=0.0002, spread=0.1)
    return rotor.ring(impacts * modulation)


def signature(kind: str, rotor: Rotor, rng: np.random.Generator) -> np.ndarray:
    """The fault's added component at unit RMS (zeros for kinds that act otherwise)."""
    shaft, n = rotor.shaft, rotor.n
    if kind == "outer_race":
        return _unit(_impact_train(rotor, rotor.bearing.outer_race, rng))
    if kind == "inner_race":  # passes through the load zone once per revolution
        load_zone = 1 + 0.8 * np.cos(2 * np.pi * shaft)
        return _unit(_impact_train(rotor, rotor.bearing.inner_race, rng, load_zone))
    if kind == "ball":
        cage = 1 + 0.6 * np.cos(2 * np.pi * shaft * rotor.bearing.cage)
        return _unit(_impact_train(rotor, 2 * rotor.bearing.ball_spin, rng, cage))
    if kind == "imbalance":
        return _unit(harmonics(shaft, [1.0, 0.15], rng))
    if kind == "misalignment":
        return _unit(harmonics(shaft, [0.2, 1.0, 0.5], rng))
    if kind in ("gear_wear", "blade_damage"):
        teeth = rotor.mesh_teeth
        orders = (1, 2, 3) if kind == "gear_wear" else (1,)
        out = sum(0.6 ** (k - 1) * (harmonics(shaft * (teeth + k), [1.0], rng)
                                     + harmonics(shaft * (teeth - k), [1.0], rng))
                  for k in orders)
        if kind == "blade_damage":
            out = out + harmonics(shaft, [1.0], rng)
        return _unit(out)
    if kind in ("chipped_tooth", "flat_wheel"):
        return _unit(_impact_train(rotor, 1.0, rng))
    if kind == "looseness":  # knocks on about half of the revolutions, anywhere in the turn
        knocks = impulses_on(shaft, rng, jitter=0.15 / max(1.0, _rate(shaft)), spread=0.5)
        knocks *= rng.uniform(size=n) < 0.5
        part = rotor.part_hz * rng.uniform(0.9, 1.1)
        return _unit(resonate(knocks, part, 0.12 * part))
    if kind == "cavitation":
        return _unit(bursts(n, 6.0, 0.025, rng) * band_noise(n, rng, 1000, 7500))
    if kind == "rub":  # contact at one phase of the turn, on a fraction of the revolutions
        contact = once_per(shaft, 10) * bursts(n, 1.5, 0.4, rng)
        return _unit(contact * band_noise(n, rng, *rotor.rub_band))
    return np.zeros(n)


def _rate(shaft: np.ndarray) -> float:
    """Mean revolutions per second of a shaft's cycle count."""
    return float((shaft[-1] - shaft[0]) * SAMPLE_RATE / max(1, shaft.size - 1))


def add_fault(y: np.ndarray, kind: str, severity: float, rotor: Rotor,
              rng: np.random.Generator) -> np.ndarray:
    """``y`` (the normal machine) with the fault's component added at its severity's level;
    an imbalance also swells the whole sound once per revolution."""
    level = fault_level(severity)
    if not level or kind not in CATALOGUE:
        return y
    if kind == "imbalance":
        y = y * (1 + 1.5 * level * np.sin(2 * np.pi * rotor.shaft))
    return y + level * rms(y) * signature(kind, rotor, rng)

"""Deterministic synthetic data in the DCASE 2025 Task 2 layout: the workbench's built-in demo.

Seven physically motivated machine models (the 2025 development machine types) are recorded in
two simulated environments: the source domain (one factory, one microphone) and the target
domain (another factory noise, another microphone colouring, attribute values the source domain
never shows). Attributes change the sound measurably (speed moves frequencies and rates, load
moves levels and sidebands), and the hidden attributes of ToyTrain, bearing and slider can be
recovered from the audio, so pseudo-labelling has something real to find. Anomalies are mostly
subtle faults of varying severity.

Every clip draws its randomness from its own generator seeded by (seed, machine, split, domain,
label, index), so the bytes written do not depend on the number of worker processes or on the
order of work. The tree is built in a hidden sibling folder and renamed into place at the end:
a killed generation never leaves a half dataset behind, and the hidden folder it leaves is
removed by the next generation of that dataset.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import zlib
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from filelock import FileLock, Timeout
from scipy import signal

from asdcore.atomic import write_json, write_text
from asdcore.dataset import parse_attributes
from asdcore.errors import ASDError
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report

SAMPLE_RATE = 16_000
# Bump whenever the audio or the layout changes: an existing demo of another version is replaced.
GENERATOR_VERSION = "2"  # 2: the demo has 10 target training clips per machine, not 2
GENERATOR_NAME = "asdcore.synth"
MANIFEST_NAME = "asd_demo.json"
SECTION = "00"
NO_ATTRIBUTE = "noAttribute"
# Clips are recorded at a fixed gain (level differences would be a nuisance no real recording
# has) and limited to -1 dBFS peaks, so nothing ever clips.
RMS_LEVEL = 10 ** (-24 / 20)
PEAK_LEVEL = 10 ** (-1 / 20)

MACHINES: tuple[str, ...] = ("ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve")
HIDDEN_ATTRIBUTE_MACHINES = frozenset({"ToyTrain", "bearing", "slider"})
# Real ToyCar clips are 12 s against 10 s for the others; keep the proportion.
CLIP_LENGTH_FACTOR = {"ToyCar": 1.2}


@dataclass(frozen=True)
class SynthPreset:
    """How much data to write per machine type."""

    name: str
    n_train_source: int
    n_train_target: int
    n_test_per_cell: int  # per (source|target) x (normal|anomaly)
    n_supplemental_clean: int
    n_supplemental_noise: int
    seconds: float  # clip length (ToyCar clips are longer, see CLIP_LENGTH_FACTOR)


# The demo scales DCASE's 990 source training clips down to 200 but keeps its 10 target clips:
# the target domain is learned from a handful of clips whatever the data size, and 2 (one per
# target attribute, as before version 2) left every trained system next to nothing.
PRESETS: dict[str, SynthPreset] = {
    "tiny": SynthPreset("tiny", n_train_source=12, n_train_target=2, n_test_per_cell=4,
                        n_supplemental_clean=2, n_supplemental_noise=2, seconds=2.0),
    "demo": SynthPreset("demo", n_train_source=200, n_train_target=10, n_test_per_cell=20,
                        n_supplemental_clean=10, n_supplemental_noise=10, seconds=4.0),
}

# True attribute strings per machine and domain, cycled over clip indices so every combination
# is equally represented. Target-domain values never occur in the source domain.
ATTRIBUTES: dict[str, dict[str, tuple[str, ...]]] = {
    "ToyCar": {
        "source": tuple(f"car_{car}_spd_{spd}V_mic_1_noise_1"
                        for car in ("A1", "A2") for spd in (28, 31, 34)),
        "target": ("car_B1_spd_31V_mic_2_noise_2", "car_A1_spd_40V_mic_2_noise_2"),
    },
    "ToyTrain": {
        "source": tuple(f"car_A1_spd_{spd}_mic_1_noise_1" for spd in (5, 7, 9)),
        "target": ("car_A1_spd_6_mic_2_noise_2", "car_A1_spd_11_mic_2_noise_2"),
    },
    "bearing": {
        "source": tuple(f"vel_{vel}_loc_A" for vel in (6, 9, 13, 17)),
        "target": ("vel_9_loc_B", "vel_13_loc_B"),
    },
    "fan": {
        "source": tuple(f"m-n_{model}_spd_{spd}" for model in ("W", "X") for spd in (20, 25, 30)),
        "target": ("m-n_W_spd_36", "m-n_Y_spd_25"),
    },
    "gearbox": {
        "source": tuple(f"volt_{volt}_wt_{wt}"
                        for volt in ("1.0", "1.5", "2.0") for wt in (30, 80)),
        "target": ("volt_1.3_wt_150", "volt_2.3_wt_30"),
    },
    "slider": {
        "source": tuple(f"vel_{vel}_ac_0.10" for vel in (300, 500, 800)),
        "target": ("vel_400_ac_0.30", "vel_650_ac_0.30"),
    },
    "valve": {
        "source": tuple(f"v1pat_{p}_v2pat_00" for p in ("00", "01", "02")),
        "target": ("v1pat_00_v2pat_01", "v1pat_01_v2pat_02"),
    },
}

ANOMALIES: dict[str, tuple[str, ...]] = {
    "ToyCar": ("tyre_flat", "gear_chip", "bent_axle", "rub"),
    "ToyTrain": ("flat_wheel", "scrape", "brush_spark", "loose_part"),
    "bearing": ("outer_race", "inner_race", "imbalance", "rub"),
    "fan": ("imbalance", "blade_damage", "tip_rub", "clogging", "bearing_wear"),
    "gearbox": ("chipped_tooth", "wear", "misalignment", "loose_part"),
    "slider": ("rail_damage", "dry_rail", "loose_belt"),
    "valve": ("stuck", "chatter", "leak", "contamination", "slow_close"),
}


# ---------------------------------------------------------------------------------------------
# Signal building blocks. All work at SAMPLE_RATE on float64 arrays of n samples.


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x))) or 1.0


def wander(n: int, rng: np.random.Generator, depth: float, knots_per_second: float = 2.0):
    """A slowly drifting factor around 1 (relative std ``depth``): speed never stays exact."""
    knots = int(n / SAMPLE_RATE * knots_per_second) + 2
    values = rng.normal(0.0, depth, knots)
    return 1.0 + np.interp(np.linspace(0, knots - 1, n), np.arange(knots), values)


def cycles(freq, n: int, rng: np.random.Generator) -> np.ndarray:
    """Running cycle count of a rotation at ``freq`` Hz (scalar or per sample), random start."""
    freq = np.broadcast_to(np.asarray(freq, dtype=float), (n,))
    return rng.uniform() + np.cumsum(freq) / SAMPLE_RATE


def harmonics(cyc: np.ndarray, amplitudes, rng: np.random.Generator) -> np.ndarray:
    """Harmonic series on a rotation: amplitude ``amplitudes[k-1]`` at k times its rate.

    Harmonics that would pass the Nyquist frequency are left out (no aliasing).
    """
    top_rate = np.max(np.diff(cyc)) * SAMPLE_RATE if len(cyc) > 1 else 0.0
    out = np.zeros_like(cyc)
    for k, amplitude in enumerate(amplitudes, start=1):
        if amplitude and k * top_rate < 0.45 * SAMPLE_RATE:
            out += amplitude * np.sin(2 * np.pi * k * cyc + rng.uniform(0, 2 * np.pi))
    return out


def tone(n: int, freq: float, rng: np.random.Generator, drift: float = 0.003) -> np.ndarray:
    """A single slightly drifting tone (a whine, a whistle, a distant fan)."""
    return harmonics(cycles(freq * wander(n, rng, drift), n, rng), [1.0], rng)


def once_per(cyc: np.ndarray, sharpness: float) -> np.ndarray:
    """Envelope (0..1) with one short bump per cycle; larger ``sharpness`` = shorter bumps."""
    return np.maximum(0.0, np.sin(2 * np.pi * cyc)) ** sharpness


def impulses_on(cyc: np.ndarray, rng: np.random.Generator, jitter: float = 0.0,
                spread: float = 0.0) -> np.ndarray:
    """Unit impulses where the cycle count passes an integer (once per revolution, per pass...).

    ``jitter`` is the timing scatter in seconds, ``spread`` the relative amplitude scatter.
    """
    positions = np.flatnonzero(np.diff(np.floor(cyc))) + 1
    positions = positions + np.round(rng.normal(0.0, jitter * SAMPLE_RATE, positions.size))
    amplitudes = np.abs(1.0 + spread * rng.standard_normal(positions.size))
    keep = (positions >= 0) & (positions < cyc.size)
    out = np.zeros(cyc.size)
    np.add.at(out, positions[keep].astype(int), amplitudes[keep])
    return out


def random_impulses(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Impulses at random (Poisson) times, ``rate`` per second, random amplitudes."""
    count = rng.poisson(rate * n / SAMPLE_RATE)
    out = np.zeros(n)
    np.add.at(out, rng.integers(0, n, count), rng.uniform(0.3, 1.0, count))
    return out


def resonate(x: np.ndarray, freq: float, bandwidth: float) -> np.ndarray:
    """Excite a structural resonance: a unit impulse rings as a unit decaying sinusoid."""
    r = np.exp(-np.pi * bandwidth / SAMPLE_RATE)
    w = 2 * np.pi * freq / SAMPLE_RATE
    return signal.lfilter([np.sin(w)], [1.0, -2 * r * np.cos(w), r * r], x)


def shape_spectrum(x: np.ndarray, gain) -> np.ndarray:
    """Filter ``x`` by a zero-phase gain curve ``gain(freqs_hz) -> linear gain``."""
    freqs = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)
    return np.fft.irfft(np.fft.rfft(x) * gain(freqs), x.size)


def coloured_noise(n: int, rng: np.random.Generator, exponent: float = 0.0,
                   low: float = 20.0, high: float = SAMPLE_RATE / 2) -> np.ndarray:
    """Unit-RMS Gaussian noise with power spectrum ~ f**-exponent (0 white, 1 pink, 2 brown),
    band-limited to [low, high] Hz."""
    noise = shape_spectrum(
        rng.standard_normal(n),
        lambda f: np.where((f >= low) & (f <= high), np.maximum(f, low) ** (-exponent / 2), 0.0),
    )
    return noise / rms(noise)


def bursts(n: int, rate: float, duration: float, rng: np.random.Generator) -> np.ndarray:
    """Envelope (0..1) of random bursts, ``rate`` per second, each about ``duration`` s long."""
    window = np.hanning(max(3, int(duration * SAMPLE_RATE)))
    return np.minimum(1.0, signal.oaconvolve(random_impulses(n, rate, rng), window, mode="same"))


def lowpass_gain(corner: float, order: int = 1):
    return lambda f: 1.0 / np.sqrt(1.0 + (f / corner) ** (2 * order))
def delayed(x: np.ndarray, seconds: float) -> np.ndarray:
    """``x`` later by ``seconds`` (what falls off the end is lost)."""
    shift = int(round(seconds * SAMPLE_RATE))
    out = np.zeros_like(x)
    out[shift:] = x[: x.size - shift]
    return out


def smoothed(envelope: np.ndarray, seconds: float) -> np.ndarray:
    """Soften a gate's edges (a valve does not open in zero time)."""
    window = np.hanning(max(3, int(seconds * SAMPLE_RATE)))
    return signal.oaconvolve(envelope, window / window.sum(), mode="same")


def rattle(n: int, rate: float, freq: float, rng: np.random.Generator) -> np.ndarray:
    """A loose part knocking at random: irregular clicks ringing at the part's own resonance."""
    return resonate(random_impulses(n, rate, rng), freq, 0.15 * freq)


def band_noise(n: int, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    return coloured_noise(n, rng, 0.0, low, high)


# ---------------------------------------------------------------------------------------------
# Recording environments: factory background and microphone, one per domain.


@dataclass(frozen=True)
class Microphone:
    """A microphone's colouring: high-pass, a resonant presence peak, a high roll-off."""

    highpass_hz: float
    presence_hz: float
    presence_db: float
    rolloff_hz: float

    def gain(self, f: np.ndarray) -> np.ndarray:
        ratio = (f / self.highpass_hz) ** 2
        highpass = ratio / np.sqrt(1.0 + ratio * ratio)  # second order
        bump = np.exp(-0.5 * ((f - self.presence_hz) / (0.25 * self.presence_hz)) ** 2)
        return highpass * 10 ** (self.presence_db * bump / 20) * lowpass_gain(self.rolloff_hz)(f)


@dataclass(frozen=True)
class Environment:
    """A recording situation: the factory around the machine and the microphone hearing it."""

    floor_exponent: float  # spectral slope of the broadband floor (1 pink, 2 brown)
    hum: tuple[float, ...]  # amplitudes of the 50 Hz mains hum harmonics (floor RMS = 1)
    ventilation_hz: float  # a distant ventilation fan's tone; 0 for none
    impact_rate: float  # distant impacts per second
    impact_level: float
    snr_db: tuple[float, float]  # range of machine-to-background ratios
    microphone: Microphone


ENVIRONMENTS: dict[str, Environment] = {
    "source": Environment(floor_exponent=1.0, hum=(0.25, 0.1, 0.05), ventilation_hz=0.0,
                          impact_rate=0.5, impact_level=3.0, snr_db=(8.0, 12.0),
                          microphone=Microphone(40.0, 2500.0, 0.0, 7000.0)),
    "target": Environment(floor_exponent=1.6, hum=(0.2, 0.3, 0.15, 0.1), ventilation_hz=715.0,
                          impact_rate=1.0, impact_level=3.0, snr_db=(3.0, 6.0),
                          microphone=Microphone(150.0, 3200.0, 6.0, 4500.0)),
}


def background(n: int, env: Environment, rng: np.random.Generator) -> np.ndarray:
    """Factory background: coloured floor, mains hum, a ventilation tone, distant impacts."""
    out = coloured_noise(n, rng, env.floor_exponent)
    out += harmonics(cycles(50.0 * wander(n, rng, 0.0005), n, rng), env.hum, rng)
    if env.ventilation_hz:
        out += 0.3 * tone(n, env.ventilation_hz, rng)
    knocks = random_impulses(n, env.impact_rate, rng)
    out += env.impact_level * (resonate(knocks, 180.0, 60.0) + 0.5 * resonate(knocks, 900.0, 300.0))
    return out


# ---------------------------------------------------------------------------------------------
# Machine sound models: (n, attributes, anomaly, severity, rng) -> machine sound.
# ``anomaly`` is "" for a normal clip; ``severity`` in (0, 1] scales the fault.


def toy_car(n, attrs, anomaly, severity, rng):
    """Toy car on rollers: motor whine at harmonics of its speed (set by the supply voltage), the
    pinion mesh whine (teeth by car model), brush noise, and tyre rumble at the wheel rate."""
    pinion_teeth, tilt = {"A1": (8, 1.0), "A2": (10, 1.4), "B1": (12, 0.8)}[attrs["car"]]
    motor = cycles(9.5 * float(attrs["spd"].rstrip("V")) * wander(n, rng, 0.004), n, rng)
    wheel = motor / 30.0  # gear reduction to the wheels
    y = harmonics(motor, [k ** -tilt for k in range(1, 13)], rng)
    y += 0.3 * harmonics(motor * pinion_teeth, [1.0, 0.3], rng)
    y += 0.25 * band_noise(n, rng, 2000, 7000) * (1 + 0.5 * np.sin(4 * np.pi * motor))  # 2 brushes
    y += 0.8 * coloured_noise(n, rng, 2.0, 20, 600) * (1 + 0.3 * np.sin(2 * np.pi * wheel))
    if anomaly == "tyre_flat":
        y += 3.0 * severity * resonate(impulses_on(wheel, rng, 0.001, 0.2), 420.0, 120.0)
    elif anomaly == "gear_chip":  # sidebands at the motor rate around the mesh
        y += 0.25 * severity * harmonics(motor * (pinion_teeth - 1), [1.0], rng)
        y += 0.25 * severity * harmonics(motor * (pinion_teeth + 1), [1.0], rng)
    elif anomaly == "bent_axle":  # the car wobbles once per wheel revolution
        y *= 1 + 0.6 * severity * np.sin(2 * np.pi * wheel)
    elif anomaly == "rub":
        y += severity * bursts(n, 2.0, 0.15, rng) * band_noise(n, rng, 3000, 6000)
    return y


def toy_train(n, attrs, anomaly, severity, rng):
    """Toy train on a track: motor harmonics and rail-joint clicks (front and rear bogie), both at
    rates set by the speed setting, plus rail friction hiss growing with speed."""
    speed = float(attrs["spd"]) * wander(n, rng, 0.01)
    motor = cycles(28.0 * speed, n, rng)
    y = harmonics(motor, [k ** -1.2 for k in range(1, 16)], rng)
    y += 0.15 * speed / 7 * band_noise(n, rng, 1500, 5000) * wander(n, rng, 0.2, 4.0)
    joints = impulses_on(cycles(0.5 * speed, n, rng), rng, 0.002, 0.2)
    joints += 0.7 * delayed(joints, 0.63 / float(attrs["spd"]))  # the rear bogie follows
    y += 4.0 * (resonate(joints, 1200.0, 150.0) + 0.5 * resonate(joints, 3100.0, 400.0))
    if anomaly == "flat_wheel":
        y += 2.0 * severity * resonate(impulses_on(motor / 9.0, rng, 0.001, 0.2), 900.0, 200.0)
    elif anomaly == "scrape":
        y += 0.8 * severity * bursts(n, 1.5, 0.3, rng) * band_noise(n, rng, 3000, 6500)
    elif anomaly == "brush_spark":  # sparks once per commutation
        y += severity * band_noise(n, rng, 4000, 7000) * once_per(2 * motor, 8)
    elif anomaly == "loose_part":
        y += 1.5 * severity * rattle(n, 25.0, 2200.0, rng)
    return y


BALL_PASS_RATIO = 3.05  # ball passes per shaft revolution of the normal bearing
OUTER_RACE_RATIO = 5.1
INNER_RACE_RATIO = 7.4
ROTOR_SLOTS = 26


def bearing(n, attrs, anomaly, severity, rng):
    """Rolling-bearing rig: shaft harmonics at the rotation rate (set by the hidden velocity) and
    ball-pass impacts ringing a structural resonance whose frequency depends on the sensor
    location. The impact rate is a fixed multiple of the shaft rate, so the speed class is the
    fundamental of the resonance band's envelope spectrum."""
    res_hz, res_bw = {"A": (3000.0, 350.0), "B": (4300.0, 450.0)}[attrs["loc"]]

    def ring(impacts):
        second = resonate(impacts, 1.6 * res_hz, 1.5 * res_bw)
        return resonate(impacts, res_hz, res_bw) + 0.4 * second

    shaft = cycles(3.0 * float(attrs["vel"]) * wander(n, rng, 0.003), n, rng)
    y = harmonics(shaft, [0.8 ** k for k in range(30)], rng)
    y += 0.3 * harmonics(shaft * ROTOR_SLOTS, [1.0, 0.4], rng)  # the drive motor's slot whine
    y += 1.2 * ring(impulses_on(shaft * BALL_PASS_RATIO, rng, 0.0003, 0.25))
    y += 0.1 * band_noise(n, rng, res_hz - res_bw, res_hz + res_bw)
    if anomaly == "outer_race":
        y += 1.5 * severity * ring(impulses_on(shaft * OUTER_RACE_RATIO, rng, 0.0002, 0.1))
    elif anomaly == "inner_race":  # the defect turns with the shaft: impacts modulated at 1x
        impacts = impulses_on(shaft * INNER_RACE_RATIO, rng, 0.0002, 0.1)
        y += 1.5 * severity * ring(impacts * (1 + 0.8 * np.sin(2 * np.pi * shaft)))
    elif anomaly == "imbalance":
        y = y * (1 + 0.4 * severity * np.sin(2 * np.pi * shaft))
        y += severity * harmonics(shaft, [2.0, 1.0], rng)
    elif anomaly == "rub":
        y += 0.6 * severity * bursts(n, 2.0, 0.2, rng) * band_noise(n, rng, 1000, 5000)
    return y


def fan(n, attrs, anomaly, severity, rng):
    """Industrial fan: tones at the blade-pass frequency (blade count by model x rotation rate)
    and broadband airflow noise whose level and bandwidth grow with speed."""
    blades = {"W": 5, "X": 7, "Y": 9}[attrs["m-n"]]
    speed = float(attrs["spd"])
    rotation = cycles(speed * wander(n, rng, 0.002), n, rng)
    y = harmonics(rotation * blades, [0.7 ** k for k in range(6)], rng)
    y += 0.2 * harmonics(rotation, [1.0, 0.5], rng)  # residual imbalance
    airflow = shape_spectrum(coloured_noise(n, rng, 1.0), lowpass_gain(45.0 * speed, 2))
    y += 1.5 * (speed / 25) ** 2 * airflow / rms(airflow)
    y += 0.15 * harmonics(cycles(100.0, n, rng), [1.0, 0.3], rng)  # motor electrical hum
    if anomaly == "imbalance":  # once-per-revolution force shakes the housing
        y = y * (1 + 0.5 * severity * np.sin(2 * np.pi * rotation))
        y += 1.5 * severity * harmonics(rotation, [1.0, 0.8, 0.6, 0.4], rng)
    elif anomaly == "blade_damage":  # one odd blade: rotation harmonics beside the blade pass
        y += 0.8 * severity * (harmonics(rotation * (blades - 1), [1.0, 0.5], rng)
                               + harmonics(rotation * (blades + 1), [1.0, 0.5], rng))
    elif anomaly == "tip_rub":  # a blade tip touching the housing once per revolution
        y += 0.8 * severity * band_noise(n, rng, 2000, 6000) * once_per(rotation, 16)
    elif anomaly == "clogging":  # a clogged filter adds low turbulence
        turbulence = shape_spectrum(coloured_noise(n, rng, 1.0), lowpass_gain(25.0 * speed, 2))
        y += 0.8 * severity * turbulence
    elif anomaly == "bearing_wear":
        y += 0.12 * severity * (tone(n, 3300.0, rng, 0.005) + band_noise(n, rng, 3000, 3600))
    return y


INPUT_TEETH, OUTPUT_TEETH = 21, 37


def gearbox(n, attrs, anomaly, severity, rng):
    """Motor-driven gearbox lifting a weight: gear-mesh tone and harmonics at teeth x input-shaft
    rate (the rate follows the motor voltage and sags under load); the load raises the mesh level
    and the sidebands at the input and output shaft rates."""
    load = float(attrs["wt"]) / 100
    shaft = cycles(22.0 * float(attrs["volt"]) * (1 - 0.05 * load) * wander(n, rng, 0.003), n, rng)
    output = shaft * INPUT_TEETH / OUTPUT_TEETH
    mesh = harmonics(shaft * INPUT_TEETH, [1.0, 0.35 + 0.2 * load, 0.15, 0.08], rng)
    modulation = 1 + load * (0.2 * np.sin(2 * np.pi * shaft) + 0.1 * np.sin(2 * np.pi * output))
    y = (0.6 + 0.4 * load) * mesh * modulation
    y += 0.3 * harmonics(shaft * 2, [1.0, 0.5, 0.25], rng)  # motor torque ripple
    y += 0.3 * coloured_noise(n, rng, 1.0, 50)
    if anomaly == "chipped_tooth":  # a knock once per input revolution
        y += 1.2 * severity * resonate(impulses_on(shaft, rng, 0.0005, 0.2), 2600.0, 300.0)
    elif anomaly == "wear":  # rough flanks: stronger mesh harmonics, more noise
        y += 0.5 * severity * harmonics(shaft * INPUT_TEETH, [0.0, 0.4, 0.3, 0.2], rng)
        y += 0.15 * severity * coloured_noise(n, rng, 0.5, 500)
    elif anomaly == "misalignment":  # twice-per-revolution modulation
        y *= 1 + 0.3 * severity * np.sin(4 * np.pi * shaft)
    elif anomaly == "loose_part":
        y += 1.5 * severity * rattle(n, 20.0, 1700.0, rng)
    return y


STROKE_MM, SCREW_LEAD_MM, DWELL_S = 200.0, 5.0, 0.15


def slider(n, attrs, anomaly, severity, rng):
    """Linear slide on a ball screw, stroking back and forth: while moving, the motor whines at a
    rate proportional to the carriage velocity (the hidden attribute) and the rail hisses; each
    stop is a clunk. The acceleration attribute sets the ramp time."""
    velocity = float(attrs["vel"])
    move_s = STROKE_MM / velocity
    ramp_s = min(float(attrs["ac"]), move_s / 2)
    t = (np.arange(n) / SAMPLE_RATE + rng.uniform(0, 2 * move_s)) % (move_s + DWELL_S)
    profile = np.clip(np.minimum(t, move_s - t) / ramp_s, 0.0, 1.0)  # trapezoid, 0 while dwelling
    if anomaly == "loose_belt":  # the carriage jerks
        profile *= 1 + 0.15 * severity * np.sin(2 * np.pi * 7.0 * t)
    profile *= wander(n, rng, 0.01)
    screw = cycles(velocity / SCREW_LEAD_MM * profile, n, rng)
    friction = 0.3 * (1 + 0.8 * severity * (anomaly == "dry_rail"))
    y = profile * harmonics(screw, [1 / k for k in range(1, 21)], rng)
    y += friction * profile * coloured_noise(n, rng, 0.5, 800, 4000)
    stops = np.zeros(n)
    stops[np.flatnonzero(np.diff((t > move_s).astype(int)) == 1)] = 1.0
    y += 2.0 * (resonate(stops, 1500.0, 300.0) + resonate(stops, 420.0, 80.0))
    if anomaly == "rail_damage":  # a dent half-way along the rail
        dent = np.zeros(n)
        dent[np.flatnonzero(np.diff((t > move_s / 2).astype(int)) == 1)] = 1.0
        y += 6.0 * severity * resonate(dent, 2600.0, 150.0)
    elif anomaly == "dry_rail":  # squeal while moving
        y += 0.15 * severity * profile * tone(n, 2300.0, rng, 0.01)
    elif anomaly == "loose_belt":
        y += severity * profile * rattle(n, 20.0, 1900.0, rng)
    return y


# Valve open/closed cycles: (open seconds, closed seconds) repeated; valve 2 "00" never opens.
VALVE1_PATTERNS = {"00": ((0.25, 0.35),), "01": ((0.12, 0.12), (0.12, 0.5)), "02": ((0.5, 0.3),)}
VALVE2_PATTERNS = {"00": (), "01": ((0.2, 0.6),), "02": ((0.1, 0.3), (0.1, 0.5))}


def valve_events(n, pattern, rng, drop=0.0, stretch=1.0):
    """(open, close) sample indices of one valve following ``pattern`` from a random phase;
    each opening is missed with probability ``drop`` and lasts ``stretch`` times its nominal."""
    if not pattern:
        return []
    cycle_s = sum(open_s + closed_s for open_s, closed_s in pattern)
    t = -rng.uniform(0, cycle_s)
    events = []
    while t < n / SAMPLE_RATE:
        for open_s, closed_s in pattern:
            if rng.uniform() >= drop:
                events.append((int(t * SAMPLE_RATE), int((t + open_s * stretch) * SAMPLE_RATE)))
            t += open_s + closed_s
    return [(max(0, a), min(n - 1, b)) for a, b in events if b > 0 and a < n]


def valve(n, attrs, anomaly, severity, rng):
    """Two solenoid valves on a pumped line: each opening and closing clicks (different
    resonances per valve and direction) and flow hisses while open; the attributes set the
    open/close patterns. A pump hums underneath."""
    pump = cycles(24.5 * wander(n, rng, 0.003), n, rng)
    y = 0.4 * harmonics(pump, [1.0, 0.6, 0.4, 0.3, 0.2], rng)
    y += 0.2 * coloured_noise(n, rng, 1.0)
    valves = ((VALVE1_PATTERNS[attrs["v1pat"]], (2600.0, 5200.0, 1800.0), (1500, 6000)),
              (VALVE2_PATTERNS[attrs["v2pat"]], (3400.0, 6100.0, 1200.0), (800, 3000)))
    for pattern, (open_hz, open2_hz, close_hz), (hiss_low, hiss_high) in valves:
        events = valve_events(n, pattern, rng,
                              drop=(0.2 + 0.5 * severity) * (anomaly == "stuck"),
                              stretch=1 + 0.6 * severity * (anomaly == "slow_close"))
        opens, closes, gate = np.zeros(n), np.zeros(n), np.zeros(n)
        for start, stop in events:
            opens[start] += 1.0
            closes[stop] += 1.0
            gate[start:stop] = 1.0
        if anomaly == "chatter":  # the armature bounces a few times after some openings
            bouncing = opens * (rng.uniform(size=n) < severity)
            bounces = sum(0.8 ** k * delayed(bouncing, 0.02 * k) for k in (1, 2, 3, 4))
            y += 2.0 * resonate(bounces, open_hz, 250.0) + 2.0 * resonate(bounces, close_hz, 200.0)
        if anomaly == "leak" and events:
            gate = np.maximum(gate, 0.1 + 0.2 * severity)
        flow = smoothed(gate, 0.01)
        y += 0.5 * flow * band_noise(n, rng, hiss_low, hiss_high)
        y += 3.0 * resonate(opens, open_hz, 250.0) + 1.5 * resonate(opens, open2_hz, 600.0)
        y += 2.0 * resonate(closes, close_hz, 200.0)
        if anomaly == "contamination":  # debris in the seat whistles while flowing
            y += 0.3 * severity * flow * tone(n, 3700.0, rng, 0.005)
    return y


SOUND_MODELS = {"ToyCar": toy_car, "ToyTrain": toy_train, "bearing": bearing, "fan": fan,
                "gearbox": gearbox, "slider": slider, "valve": valve}


# ---------------------------------------------------------------------------------------------
# The plan: every clip with its name, domain, attributes and fault, decided before any audio.


@dataclass(frozen=True)
class Clip:
    machine: str
    split: str  # train | test | supplemental
    domain: str  # source | target (the recording situation; noise clips of both are named source)
    label: str  # normal | anomaly | clean | noise
    index: int
    attributes: str  # the true attribute string
    anomaly: str  # fault kind of an anomalous clip, else ""
    samples: int

    def _name(self, attributes: str) -> str:
        domain = "source" if self.split == "supplemental" else self.domain
        return (f"section_{SECTION}_{domain}_{self.split}_{self.label}_{self.index:04d}_"
                f"{attributes}.wav")

    @property
    def name(self) -> str:
        """The published file name: hidden attributes read ``noAttribute``."""
        hidden = self.machine in HIDDEN_ATTRIBUTE_MACHINES or self.label == "noise"
        return self._name(NO_ATTRIBUTE if hidden else self.attributes)

    @property
    def true_name(self) -> str:
        return self._name(self.attributes)

    @property
    def relpath(self) -> str:
        """Path relative to ``dev_data/raw``, as ``attributes_00.csv`` writes it."""
        return f"{self.machine}/{self.split}/{self.name}"


def plan_machine(machine: str, preset: SynthPreset) -> list[Clip]:
    """All clips of one machine type; attributes and fault kinds cycle so each is well covered."""
    samples = int(round(preset.seconds * CLIP_LENGTH_FACTOR.get(machine, 1.0) * SAMPLE_RATE))
    kinds = ANOMALIES[machine]
    clips = []

    def add(split, domain, label, count):
        combos = ATTRIBUTES[machine][domain]
        for i in range(count):
            attributes = NO_ATTRIBUTE if label == "noise" else combos[i % len(combos)]
            anomaly = kinds[(i // len(combos)) % len(kinds)] if label == "anomaly" else ""
            clips.append(Clip(machine, split, domain, label, i, attributes, anomaly, samples))

    add("train", "source", "normal", preset.n_train_source)
    add("train", "target", "normal", preset.n_train_target)
    for domain in ("source", "target"):
        for label in ("normal", "anomaly"):
            add("test", domain, label, preset.n_test_per_cell)
    add("supplemental", "source", "clean", preset.n_supplemental_clean)
    for i in range(preset.n_supplemental_noise):  # noise of both recording situations
        domain = ("source", "target")[i % 2]
        clips.append(Clip(machine, "supplemental", domain, "noise", i, NO_ATTRIBUTE, "", samples))
    return clips


def clip_rng(seed: int, clip: Clip) -> np.random.Generator:
    """The clip's own random stream: independent of worker count and order of work."""
    keys = (clip.machine, clip.split, clip.domain, clip.label)
    return np.random.default_rng(np.random.SeedSequence(
        [seed, *(zlib.crc32(key.encode()) for key in keys), clip.index]))


def render(clip: Clip, seed: int) -> np.ndarray:
    """The clip's audio as 16-bit samples, peak-normalised."""
    rng = clip_rng(seed, clip)
    env = ENVIRONMENTS[clip.domain]
    if clip.label == "noise":
        y = background(clip.samples, env, rng)
    else:
        severity = rng.uniform(0.05, 1.0) if clip.anomaly else 0.0
        y = SOUND_MODELS[clip.machine](clip.samples, parse_attributes(clip.attributes),
                                       clip.anomaly, severity, rng)
        y /= rms(y)
        if clip.label != "clean":
            snr_db = rng.uniform(*env.snr_db)
            noise = background(clip.samples, env, rng)
            y += 10 ** (-snr_db / 20) * noise / rms(noise)
    y = shape_spectrum(y, env.microphone.gain)
    y *= min(RMS_LEVEL / rms(y), PEAK_LEVEL / np.max(np.abs(y)))
    return np.round(y * 32767).astype(np.int16)


def _write_chunk(root: str, clips: list[Clip], seed: int) -> int:
    """Render and write some clips (runs in a worker process); returns how many."""
    for clip in clips:
        path = Path(root, clip.relpath)
        sf.write(path, render(clip, seed), SAMPLE_RATE, subtype="PCM_16")
    return len(clips)


# ---------------------------------------------------------------------------------------------
# Tables and manifest.


def _attributes_table(clips: list[Clip]) -> str:
    """``attributes_00.csv`` of one machine: train and test clips with their attribute pairs."""
    listed = [c for c in clips if c.split in ("train", "test")]
    if listed[0].machine in HIDDEN_ATTRIBUTE_MACHINES:
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


def _counts(clips: list[Clip]) -> dict[str, int]:
    return dict(Counter(
        f"{c.split}_{c.label}" if c.split == "supplemental" else f"{c.split}_{c.domain}_{c.label}"
        for c in clips))


def _manifest(preset: SynthPreset, seed: int, clips: list[Clip], raw: Path) -> dict:
    return {
        "generator": GENERATOR_NAME,
        "version": GENERATOR_VERSION,
        "preset": preset.name,
        "seed": seed,
        "sample_rate": SAMPLE_RATE,
        "preset_parameters": asdict(preset),
        "counts": {m: _counts([c for c in clips if c.machine == m]) for m in MACHINES},
        "total_clips": len(clips),
        # bytes of every clip file per machine (all of a machine's clips have one length), so
        # a missing or truncated clip is found by its size without reading any audio
        "clip_bytes": {m: _uniform_size(raw, [c for c in clips if c.machine == m])
                       for m in MACHINES},
        "complete": True,
    }


def _uniform_size(raw: Path, clips: list[Clip]) -> int | None:
    """The size in bytes shared by the files of ``clips``, or None when they differ."""
    sizes = {(raw / c.relpath).stat().st_size for c in clips}
    return sizes.pop() if len(sizes) == 1 else None


def read_manifest(out: str | os.PathLike) -> dict | None:
    """The manifest of a dataset written by this module, or None when there is none."""
    try:
        manifest = json.loads(Path(out, MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ours = isinstance(manifest, dict) and manifest.get("generator") == GENERATOR_NAME
    return manifest if ours and manifest.get("complete") is True else None


def damaged_clips(out: str | os.PathLike, manifest: dict | None = None) -> list[str]:
    """The clips (paths relative to ``dev_data/raw``) of the dataset in ``out`` that are
    missing or not of the size its manifest records (truncated, replaced...). Only sizes are
    compared (one ``stat`` per clip, about 10 ms for the demo), never the audio. An empty list
    when the manifest records no sizes (datasets written before it did) or names no preset."""
    manifest = read_manifest(out) if manifest is None else manifest
    sizes = (manifest or {}).get("clip_bytes")
    preset = PRESETS.get(str((manifest or {}).get("preset")))
    if not isinstance(sizes, dict) or preset is None:
        return []
    raw, damaged = Path(out, "dev_data", "raw"), []
    for machine in MACHINES:
        expected = sizes.get(machine)
        if not isinstance(expected, int):
            continue
        for clip in plan_machine(machine, preset):
            try:
                if os.stat(raw / clip.relpath).st_size != expected:
                    damaged.append(clip.relpath)
            except OSError:
                damaged.append(clip.relpath)
    return damaged


def is_dataset(out: str | os.PathLike, preset: str, seed: int, check_clips: bool = True) -> bool:
    """Whether ``out`` holds the complete dataset ``preset``/``seed`` of this generator version,
    with (``check_clips``) every clip file present at its recorded size."""
    existing = read_manifest(out)
    if not existing or (existing.get("preset"), existing.get("seed"),
                        existing.get("version")) != (preset, seed, GENERATOR_VERSION):
        return False
    return not (check_clips and damaged_clips(out, existing))


# ---------------------------------------------------------------------------------------------
# Generation.

CLIPS_PER_CHUNK = 8
# Below this much audio, starting worker processes costs more than it saves.
PARALLEL_MIN_SECONDS = 1000.0


def _default_workers(clips: list[Clip]) -> int:
    if sum(clip.samples for clip in clips) < PARALLEL_MIN_SECONDS * SAMPLE_RATE:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def generate(out: str | os.PathLike, preset: str = "demo", seed: int = 0,
             progress: ProgressFn | None = None, cancel: CancelFn | None = None,
             workers: int | None = None, managed: bool = False) -> Path:
    """Write the synthetic dataset ``preset`` into the folder ``out`` and return ``out``.

    Writes ``out/dev_data/raw/<machine>/{train,test,supplemental}/*.wav``, each machine's
    ``attributes_00.csv`` (and, for the attribute-less machines, the ground truth
    ``attributes_correspondence.csv``) and the manifest ``out/asd_demo.json``, which records
    the size of every clip file.

    What happens to an existing ``out``:

    - it holds this very dataset (preset, seed, generator version, every clip at its recorded
      size): nothing is done;
    - its manifest is this generator's (another preset, seed or version, or clips missing or
      truncated): it is replaced;
    - it is empty: it is filled;
    - anything else (no manifest, or a damaged one) is refused, so a folder of the user's own
      is never touched, even one laid out like a DCASE dataset (real DCASE data is). Only with
      ``managed`` (the app's own demo in ``cache/demo/``, `workspace.ensure_demo`; never the
      command line's ``demo OUT``) is such a folder replaced too, and only when it holds
      nothing but what generation writes (``dev_data/raw/<machine>`` folders of this
      generator's machine names and the manifest), no symbolic link at its top.

    Replacing builds the new tree beside ``out`` and swaps it in, so ``out`` is never half
    written. Generation holds a lock on ``out``'s parent folder; holding it, it first removes
    the hidden staging folders (``.<name>.partial-*``, ``.<name>.old-*``) that a killed
    generation of ``out`` left behind (no live generator can own them). ``workers`` threads
    render the clips (default: the available cores for large presets, one for small ones); the
    bytes written do not depend on it.
    """
    out = Path(out)
    if preset not in PRESETS:
        raise ASDError(f"Unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ASDError(f"The seed must be a non-negative integer, not {seed!r}.")
    spec, seed = PRESETS[preset], int(seed)
    if is_dataset(out, preset, seed):
        return out
    # Several app sessions (browser tabs) may ask for the demo at once: one generates it, the
    # others wait and then find it complete.
    with _exclusive_lock(out, progress):
        _remove_leftovers(out)
        if is_dataset(out, preset, seed):
            return out
        return _generate_unlocked(out, spec, preset, seed, progress, cancel, workers, managed)


def _leftover_pattern(out: Path) -> re.Pattern:
    """Names of the hidden folders generation of ``out`` makes beside it (`tempfile.mkdtemp`
    adds 8 characters)."""
    return re.compile(rf"\.{re.escape(out.name)}\.(partial|old)-[a-z0-9_]{{8}}")


def _remove_leftovers(out: Path) -> None:
    """Remove what a killed generation of ``out`` left beside it: its staging folder
    (``.<name>.partial-*``) or the retired older dataset (``.<name>.old-*``). Call only while
    holding `_exclusive_lock`: then no live generator of ``out`` exists to own them."""
    pattern = _leftover_pattern(out)
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return
    for entry in entries:
        if pattern.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)


def _only_generated_content(out: Path) -> bool:
    """Whether the folder ``out`` holds nothing but what generation writes: the manifest and
    ``dev_data/raw/<machine>`` folders of this generator's machines (any files inside those:
    a damaged dataset may miss some or hold stray ones). Not for a symbolic link."""
    if out.is_symlink():
        return False
    allowed = {out: {"dev_data", MANIFEST_NAME}, out / "dev_data": {"raw"},
               out / "dev_data" / "raw": set(MACHINES)}
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


def _generate_unlocked(out: Path, spec: SynthPreset, preset: str, seed: int,
                       progress: ProgressFn | None, cancel: CancelFn | None,
                       workers: int | None, managed: bool = False) -> Path:
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

    clips = [clip for machine in MACHINES for clip in plan_machine(machine, spec)]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the dataset is an ordinary folder
    try:
        raw = staging / "dev_data" / "raw"
        for machine in MACHINES:
            for split in ("train", "test", "supplemental"):
                (raw / machine / split).mkdir(parents=True)
        _render_all(raw, clips, seed, workers or _default_workers(clips), progress, cancel)
        for machine in MACHINES:
            own = [c for c in clips if c.machine == machine]
            write_text(raw / machine / "attributes_00.csv", _attributes_table(own))
            if machine in HIDDEN_ATTRIBUTE_MACHINES:
                write_text(raw / machine / "attributes_correspondence.csv",
                           _correspondence_table(own))
        write_json(staging / MANIFEST_NAME, _manifest(spec, seed, clips, raw))
        check_cancel(cancel)
        _move_into_place(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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
    # which is fragile. The serial path alone renders the demo in about a minute.
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

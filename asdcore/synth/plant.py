"""The "plant" family: five machine models of a process plant (pumps, a reciprocating
compressor, a roots blower, a conveyor, a motor) heard in a reverberant hall.

It differs from the demo family in its machines and in its room and noise model, so that a
default chosen on one family can be checked on another: the machine sound is convolved with a
synthetic room impulse response (exponentially decaying noise; RT60 0.5 s in the source hall,
1.1 s in the target hall), and the background is non-stationary: distant machinery passing,
a forklift engine, a reverse beeper, compressed-air bursts and band-limited babble over a
floor. The models follow the demo's conventions (`machines`) and the fault catalogue
(`faults`): ``(n, attrs, fault, severity, rng, fault_rng) -> machine sound``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asdcore.synth.faults import BearingGeometry, Rotor, add_fault, speed_factor
from asdcore.synth.machines import Microphone
from asdcore.synth.signals import (
    SAMPLE_RATE,
    band_noise,
    bursts,
    coloured_noise,
    cycles,
    harmonics,
    impulses_on,
    lowpass_gain,
    resonate,
    shape_spectrum,
    smoothed,
    wander,
)

# ---------------------------------------------------------------------------------------------
# Recording environments: a hall with reverberation and intermittent background sources.


@dataclass(frozen=True)
class Hall:
    """A recording situation in a plant hall: its reverberation, its background sources (event
    rates per second or chances per clip) and the microphone."""

    rt60_s: float  # reverberation time (60 dB decay)
    reverb_db: float  # reverberant energy relative to the direct sound
    floor_exponent: float
    passing_rate: float  # distant machines passing by
    forklift_chance: float  # a forklift engine idling or driving somewhere in the clip
    beeper_chance: float  # a reversing vehicle's beeper
    air_burst_rate: float  # compressed-air blow-offs
    babble_level: float  # distant voices (floor RMS = 1)
    snr_db: tuple[float, float]
    microphone: Microphone

    def background(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return hall_background(n, self, rng)

    def room(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``y`` reverberated; ``rng`` is the room's stream (`plan.room_rng`), one per machine
        and domain, so all clips of a machine in a domain share one room response."""
        return reverberate(y, self, rng)


# The target hall is larger and busier, heard through another microphone at a lower
# machine-to-noise ratio: with the operating conditions the source never shows, the domain
# shift moves the normal sound more than most faults do, as in the demo family.
HALLS: dict[str, Hall] = {
    "source": Hall(rt60_s=0.5, reverb_db=-6.0, floor_exponent=1.3, passing_rate=0.15,
                   forklift_chance=0.3, beeper_chance=0.15, air_burst_rate=0.2,
                   babble_level=0.3, snr_db=(7.0, 11.0),
                   microphone=Microphone(60.0, 5500.0, 3.0, 7500.0)),
    "target": Hall(rt60_s=1.1, reverb_db=-2.0, floor_exponent=0.8, passing_rate=0.3,
                   forklift_chance=0.6, beeper_chance=0.35, air_burst_rate=0.5,
                   babble_level=0.6, snr_db=(2.0, 6.0),
                   microphone=Microphone(110.0, 1800.0, 5.0, 5500.0)),
}


def room_response(hall: Hall, rng: np.random.Generator) -> np.ndarray:
    """The reverberant tail of a room impulse response (direct sound excluded): exponentially
    decaying noise after a 10 ms pre-delay, high frequencies dying faster (air absorption)."""
    length = int(hall.rt60_s * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    tail = rng.standard_normal(length) * np.exp(-6.91 * t / hall.rt60_s)
    tail[: int(0.01 * SAMPLE_RATE)] = 0.0
    tail = shape_spectrum(tail, lowpass_gain(4000.0))
    return tail * np.sqrt(10 ** (hall.reverb_db / 10) / np.sum(tail * tail))


def reverberate(y: np.ndarray, hall: Hall, rng: np.random.Generator) -> np.ndarray:
    """The machine as heard in the hall: direct sound plus its reverberation. The convolution
    is circular (one FFT each way): the machine runs before the clip starts, so its beginning
    already carries the reverberation of what came before."""
    tail = room_response(hall, rng)
    size = max(y.size, tail.size)
    wet = np.fft.irfft(np.fft.rfft(y, size) * np.fft.rfft(tail, size), size)[: y.size]
    return y + wet


def _event(n: int, rng: np.random.Generator, min_s: float, max_s: float,
           sound) -> np.ndarray:
    """``sound(m, rng)`` (m samples) rising and falling once over a random stretch of the clip
    (zeros elsewhere; only the stretch inside the clip is rendered)."""
    length = int(rng.uniform(min_s, max_s) * SAMPLE_RATE)
    start = int(rng.integers(-length // 2, n))
    lo, hi = max(0, start), min(n, start + length)
    out = np.zeros(n)
    if hi - lo > 1:
        out[lo:hi] = np.hanning(length)[lo - start: hi - start] * sound(hi - lo, rng)
    return out


def _distant_machine(m: int, rng: np.random.Generator) -> np.ndarray:
    rotation = cycles(rng.uniform(35.0, 90.0) * wander(m, rng, 0.01), m, rng)
    return rng.uniform(0.5, 1.5) * harmonics(rotation, [0.7 ** k for k in range(6)], rng)


def _forklift(m: int, rng: np.random.Generator) -> np.ndarray:
    """A diesel engine: firing pulses (its rate wandering with the throttle) ringing the exhaust
    and the body, with some combustion roar."""
    firing = cycles(rng.uniform(22.0, 40.0) * wander(m, rng, 0.08, 1.0), m, rng)
    pulses = impulses_on(firing, rng, 0.0005, 0.2)
    return (0.8 * resonate(pulses, 110.0, 60.0) + 0.3 * resonate(pulses, 420.0, 150.0)
            + 0.3 * coloured_noise(m, rng, 1.5, 40.0, 2000.0))


def _beeper(m: int, rng: np.random.Generator) -> np.ndarray:
    """A reversing vehicle's beeper: about 1 kHz, half a second on, half a second off."""
    gate = ((np.arange(m) / SAMPLE_RATE + rng.uniform()) % 1.0) < 0.5
    return 0.6 * smoothed(gate.astype(float), 0.01) * harmonics(
        cycles(rng.uniform(950.0, 1250.0), m, rng), [1.0, 0.3], rng)


def hall_background(n: int, hall: Hall, rng: np.random.Generator) -> np.ndarray:
    """Plant background: a floor, distant machines passing, maybe a forklift engine and a
    reverse beeper, compressed-air bursts, babble."""
    out = coloured_noise(n, rng, hall.floor_exponent, 30.0)
    for _ in range(rng.poisson(hall.passing_rate * n / SAMPLE_RATE) + 1):
        out += _event(n, rng, 2.0, 6.0, _distant_machine)
    if rng.uniform() < hall.forklift_chance:
        out += _event(n, rng, 3.0, 10.0, _forklift)
    if rng.uniform() < hall.beeper_chance:
        out += _event(n, rng, 2.0, 5.0, _beeper)
    out += 1.5 * bursts(n, hall.air_burst_rate, 0.2, rng) * band_noise(n, rng, 2500.0, 7500.0)
    syllables = np.maximum(0.0, wander(n, rng, 0.7, knots_per_second=8.0) - 0.6)
    out += hall.babble_level * syllables * band_noise(n, rng, 300.0, 3000.0)
    return out


def _ringing(freq: float, bandwidth: float, second: float = 0.5):
    """A casing with two resonances (``freq`` and 1.7 times it)."""
    return lambda impacts: (resonate(impacts, freq, bandwidth)
                            + second * resonate(impacts, 1.7 * freq, 1.5 * bandwidth))


# ---------------------------------------------------------------------------------------------
# Machine sound models.

PUMP_VANES = 6
PUMP_BEARING = BearingGeometry(balls=8, diameter_ratio=0.22)


def pump(n, attrs, fault, severity, rng, fault_rng):
    """Centrifugal pump (hidden: the shaft rate, ``rate`` Hz): shaft harmonics whose relative
    strengths change from clip to clip (flow, mounting), the vane-pass tone at 6x shaft and its
    harmonics, and flow noise rising with speed and swirling at the vane pass."""
    rate = float(attrs["rate"])
    shaft = cycles(rate * wander(n, rng, 0.004) * speed_factor(fault, severity, n, fault_rng),
                   n, rng)
    strengths = np.exp(rng.normal(0.0, 0.6, 10)) * np.array([k ** -0.7 for k in range(1, 11)])
    y = harmonics(shaft, strengths, rng)
    y += rng.uniform(0.6, 1.2) * harmonics(shaft * PUMP_VANES, [1.0, 0.45, 0.2], rng)
    flow = coloured_noise(n, rng, 1.0, 150.0, 4000.0)
    y += 0.5 * (rate / 25) ** 2 * flow * (1 + 0.2 * np.sin(2 * np.pi * shaft * PUMP_VANES))
    y += 0.2 * harmonics(cycles(100.0, n, rng), [1.0, 0.4], rng)  # motor hum, 2x line
    rotor = Rotor(shaft, _ringing(1900.0, 250.0), bearing=PUMP_BEARING, mesh_teeth=PUMP_VANES,
                  part_hz=2600.0, rub_band=(1500.0, 5000.0))
    return add_fault(y, fault, severity, rotor, fault_rng)


CRANK_PER_MOTOR = 0.5  # belt reduction from the 4-pole motor to the crankshaft


def compressor(n, attrs, fault, severity, rng, fault_rng):
    """Two-cylinder reciprocating compressor (hidden: the load, ``load`` %): piston knocks at the
    crank rate exciting the casing, suction and discharge valve clicks, low-frequency discharge
    pulsation at twice the crank rate. The load raises the knocks (+40 % at full load) and the
    pulsation (+50 %) and the motor slip (1 to 4 %)."""
    load = float(attrs["load"]) / 100
    motor_rate = 25.0 * (1 - 0.01 - 0.03 * load) * wander(n, rng, 0.002)
    crank = cycles(CRANK_PER_MOTOR * motor_rate * speed_factor(fault, severity, n, fault_rng),
                   n, rng)
    casing = _ringing(850.0, 120.0)
    knocks = impulses_on(crank, rng, 0.0005, 0.15) + impulses_on(crank + 0.5, rng, 0.0005, 0.15)
    y = (0.8 + 0.3 * load) * 3.0 * casing(knocks)
    for phase, freq in ((0.12, 3600.0), (0.38, 5100.0)):  # suction, discharge valve
        clicks = impulses_on(crank + phase, rng, 0.001, 0.3)
        clicks += impulses_on(crank + phase + 0.5, rng, 0.001, 0.3)
        y += 1.2 * resonate(clicks, freq * rng.uniform(0.97, 1.03), 400.0)
    y += (0.6 + 0.3 * load) * harmonics(crank * 2, [1.0, 0.6, 0.35, 0.2, 0.1], rng)
    y += 0.25 * harmonics(cycles(motor_rate, n, rng), [0.5, 1.0], rng)
    y += 0.2 * coloured_noise(n, rng, 1.0, 60.0)
    rotor = Rotor(crank, casing, bearing=BearingGeometry(9, 0.3), part_hz=1800.0,
                  rub_band=(1200.0, 4000.0))
    return add_fault(y, fault, severity, rotor, fault_rng)


LOBES, TIMING_TEETH = 2, 36


def blower(n, attrs, fault, severity, rng, fault_rng):
    """Roots blower with two bi-lobe rotors (hidden: the shaft rate, ``rate`` Hz): pulsation at
    the lobe pass (4x shaft) rich in harmonics, broadband air noise swelling with each pulse,
    the timing gears' faint mesh."""
    rate = float(attrs["rate"])
    shaft = cycles(rate * wander(n, rng, 0.003) * speed_factor(fault, severity, n, fault_rng),
                   n, rng)
    lobe_pass = shaft * 2 * LOBES
    # the pulsation's harmonics depend on the discharge piping's resonances, which shift with
    # the process: their strengths vary from clip to clip
    strengths = rng.uniform(0.6, 0.9) ** np.arange(12) * np.exp(rng.normal(0.0, 0.5, 12))
    y = harmonics(lobe_pass, strengths, rng)
    air = coloured_noise(n, rng, 0.7, 200.0, 7000.0)
    back_pressure = rng.uniform(0.7, 1.3)  # varies with the process: the air noise with it
    y += 0.9 * back_pressure * rate / 40 * air * (1 + 0.4 * np.sin(2 * np.pi * lobe_pass))
    y += 0.1 * harmonics(shaft * TIMING_TEETH, [1.0, 0.3], rng)
    rotor = Rotor(shaft, _ringing(1400.0, 200.0), bearing=BearingGeometry(10, 0.2),
                  mesh_teeth=TIMING_TEETH, part_hz=2100.0, rub_band=(2500.0, 6500.0))
    return add_fault(y, fault, severity, rotor, fault_rng)


ROLLER_DIAMETER_M, CHAIN_PITCH_M = 0.06, 0.0127


def conveyor(n, attrs, fault, severity, rng, fault_rng):
    """Chain-driven belt conveyor (``speed`` m/s, ``load`` kg per metre): roller bearings
    ticking at their ball-pass rate, chain mesh ticks at speed / pitch (stronger under load),
    belt hiss rising with speed, the drive's gear hum. Load slows the belt by up to 3 %."""
    load = float(attrs["load"])
    speed = float(attrs["speed"]) * (1 - 0.0004 * load) * wander(n, rng, 0.005)
    speed = speed * speed_factor(fault, severity, n, fault_rng)
    roller = cycles(speed / (np.pi * ROLLER_DIAMETER_M), n, rng)
    bearing = BearingGeometry(8, 0.25)
    ring = _ringing(3100.0, 400.0)
    y = 0.8 * ring(impulses_on(roller * bearing.outer_race, rng, 0.0005, 0.4))
    chain = cycles(speed / CHAIN_PITCH_M, n, rng)
    y += (0.8 + load / 60) * resonate(impulses_on(chain, rng, 0.0003, 0.2), 1500.0, 250.0)
    y += 0.4 * float(attrs["speed"]) * band_noise(n, rng, 2000.0, 6500.0)
    y += 0.3 * harmonics(chain * 0.5, [1.0, 0.5], rng)  # drive gears
    y += 0.2 * coloured_noise(n, rng, 1.5, 30.0)
    rotor = Rotor(roller, ring, bearing=bearing, part_hz=1300.0, rub_band=(1500.0, 5000.0))
    return add_fault(y, fault, severity, rotor, fault_rng)


POLE_PAIRS, ROTOR_BARS, FAN_BLADES = 2, 28, 9


def motor(n, attrs, fault, severity, rng, fault_rng):
    """Induction motor (supply ``hz`` 50 or 60, ``load`` %): magnetostriction hum at twice the
    line frequency and its harmonics (louder under load), rotor slot harmonics at bars x shaft
    rate +- 2x line, the cooling fan's blade pass and air noise. Load sets the slip (1-5 %)."""
    line, load = float(attrs["hz"]), float(attrs["load"]) / 100
    hum = harmonics(cycles(2 * line, n, rng), [1.0, 0.5, 0.3, 0.15], rng)
    y = (0.7 + 0.4 * load) * hum
    slip = 0.01 + 0.04 * load
    rate = line / POLE_PAIRS * (1 - slip) * wander(n, rng, 0.001)
    shaft = cycles(rate * speed_factor(fault, severity, n, fault_rng), n, rng)
    slots = shaft * ROTOR_BARS
    line_cycles = np.arange(n) * line / SAMPLE_RATE
    y += 0.3 * (harmonics(slots + 2 * line_cycles, [1.0], rng)
                + harmonics(slots - 2 * line_cycles, [1.0], rng))
    y += 0.4 * harmonics(shaft * FAN_BLADES, [1.0, 0.4], rng)
    y += 0.5 * (line / 50) ** 2 * shape_spectrum(coloured_noise(n, rng, 0.5, 100.0),
                                                 lowpass_gain(3000.0, 2))
    rotor = Rotor(shaft, _ringing(2400.0, 300.0), bearing=BearingGeometry(8, 0.28),
                  part_hz=1700.0, rub_band=(2000.0, 6000.0))
    return add_fault(y, fault, severity, rotor, fault_rng)


SOUND_MODELS = {"pump": pump, "compressor": compressor, "blower": blower,
                "conveyor": conveyor, "motor": motor}
MACHINES: tuple[str, ...] = tuple(SOUND_MODELS)
HIDDEN_ATTRIBUTE_MACHINES = frozenset({"pump", "compressor", "blower"})

# As in the demo family, the target domain shows attribute values the source never does.
ATTRIBUTES: dict[str, dict[str, tuple[str, ...]]] = {
    "pump": {"source": tuple(f"rate_{r}" for r in (20, 25, 30, 36)),
             "target": ("rate_22", "rate_33")},
    "compressor": {"source": ("load_60", "load_100"), "target": ("load_40", "load_80")},
    "blower": {"source": ("rate_30", "rate_38"), "target": ("rate_34", "rate_44")},
    "conveyor": {"source": tuple(f"speed_{s}_load_{w}" for s in ("0.5", "1.0") for w in (10, 40)),
                 "target": ("speed_1.5_load_40", "speed_0.75_load_80")},
    "motor": {"source": tuple(f"hz_50_load_{w}" for w in (25, 50, 75)),
              "target": ("hz_60_load_50", "hz_60_load_100")},
}

ANOMALIES: dict[str, tuple[str, ...]] = {
    "pump": ("cavitation", "imbalance", "outer_race", "blade_damage", "misalignment"),
    "compressor": ("looseness", "outer_race", "rub", "belt_slip", "misalignment"),
    "blower": ("gear_wear", "outer_race", "imbalance", "rub", "looseness"),
    "conveyor": ("outer_race", "flat_wheel", "looseness", "belt_slip", "rub"),
    "motor": ("outer_race", "inner_race", "imbalance", "misalignment", "looseness", "rub"),
}

__all__ = ["ANOMALIES", "ATTRIBUTES", "HALLS", "HIDDEN_ATTRIBUTE_MACHINES", "MACHINES",
           "SOUND_MODELS", "Hall", "hall_background", "reverberate", "room_response"]

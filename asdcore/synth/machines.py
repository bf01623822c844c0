"""Machine sound models (the DCASE 2025 development machine types) and recording environments.

A model is ``(n, attrs, fault, severity, rng, fault_rng) -> machine sound``: ``fault`` is ""
for a normal clip, ``severity`` in [0, 1] scales it (`faults`), ``fault_rng`` is the fault's own
random stream, so the normal part of a faulty clip is the normal clip drawn from ``rng``.
Attributes change the sound measurably (speed moves frequencies and rates, load moves levels
and sidebands), and the hidden attributes of ToyTrain, bearing and slider can be recovered
from the audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asdcore.synth.faults import BearingGeometry, Rotor, add_fault, fault_level, speed_factor
from asdcore.synth.signals import (
    SAMPLE_RATE,
    band_noise,
    coloured_noise,
    cycles,
    delayed,
    harmonics,
    impulses_on,
    lowpass_gain,
    random_impulses,
    resonate,
    rms,
    shape_spectrum,
    smoothed,
    tone,
    wander,
)

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

    def background(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return background(n, self, rng)

    def room(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The machine as the microphone hears it: the demo's machines are heard close up,
        with no reverberation (the plant family's halls reverberate, `plant.Hall`)."""
        return y


# The target domain is another factory and another microphone, at a lower machine-to-noise
# ratio: together with the operating conditions the source never shows (plan.ATTRIBUTES) it
# moves the normal sound more than most faults do, as DCASE's domain shifts do. How far the
# noise and microphone move it is calibrated on the official AE baseline (bench/RESULTS.md,
# "Calibration of the demo, step 5").
ENVIRONMENTS: dict[str, Environment] = {
    "source": Environment(floor_exponent=1.0, hum=(0.25, 0.1, 0.05), ventilation_hz=0.0,
                          impact_rate=0.5, impact_level=3.0, snr_db=(8.0, 12.0),
                          microphone=Microphone(40.0, 2500.0, 0.0, 7000.0)),
    "target": Environment(floor_exponent=1.6, hum=(0.2, 0.3, 0.15, 0.1), ventilation_hz=715.0,
                          impact_rate=1.0, impact_level=3.0, snr_db=(5.0, 9.0),
                          microphone=Microphone(150.0, 3200.0, 4.0, 5500.0)),
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


def _ringing(freq: float, bandwidth: float, second: float = 0.4):
    """A structure with two resonances (``freq`` and 1.6 times it): how impacts sound on it."""
    return lambda impacts: (resonate(impacts, freq, bandwidth)
                            + second * resonate(impacts, 1.6 * freq, 1.5 * bandwidth))


# ---------------------------------------------------------------------------------------------
# Machine sound models.


def toy_car(n, attrs, fault, severity, rng, fault_rng):
    """Toy car on rollers: motor whine at harmonics of its speed (set by the supply voltage), the
    pinion mesh whine (teeth by car model), brush noise, and tyre rumble at the wheel rate."""
    pinion_teeth, tilt = {"A1": (8, 1.0), "A2": (10, 1.4), "B1": (12, 0.8)}[attrs["car"]]
    speed = 9.5 * float(attrs["spd"].rstrip("V")) * wander(n, rng, 0.004)
    motor = cycles(speed * speed_factor(fault, severity, n, fault_rng), n, rng)
    wheel = motor / 30.0  # gear reduction to the wheels
    y = harmonics(motor, [k ** -tilt for k in range(1, 13)], rng)
    y += 0.3 * harmonics(motor * pinion_teeth, [1.0, 0.3], rng)
    y += 0.25 * band_noise(n, rng, 2000, 7000) * (1 + 0.5 * np.sin(4 * np.pi * motor))  # 2 brushes
    y += 0.8 * coloured_noise(n, rng, 2.0, 20, 600) * (1 + 0.3 * np.sin(2 * np.pi * wheel))
    on_wheel = fault in ("imbalance", "flat_wheel")  # a bent axle, a flat tyre turn with it
    rotor = Rotor(wheel if on_wheel else motor, _ringing(420.0 if on_wheel else 2800.0, 150.0),
                  mesh_teeth=pinion_teeth, part_hz=1900.0, rub_band=(3000.0, 6000.0))
    return add_fault(y, fault, severity, rotor, fault_rng)


def toy_train(n, attrs, fault, severity, rng, fault_rng):
    """Toy train on a track: motor harmonics and rail-joint clicks (front and rear bogie), both at
    rates set by the speed setting, plus rail friction hiss growing with speed."""
    speed = float(attrs["spd"]) * wander(n, rng, 0.01)
    motor = cycles(28.0 * speed * speed_factor(fault, severity, n, fault_rng), n, rng)
    y = harmonics(motor, [k ** -1.2 for k in range(1, 16)], rng)
    y += 0.15 * speed / 7 * band_noise(n, rng, 1500, 5000) * wander(n, rng, 0.2, 4.0)
    joints = impulses_on(cycles(0.5 * speed, n, rng), rng, 0.002, 0.2)
    joints += 0.7 * delayed(joints, 0.63 / float(attrs["spd"]))  # the rear bogie follows
    y += 4.0 * (resonate(joints, 1200.0, 150.0) + 0.5 * resonate(joints, 3100.0, 400.0))
    wheel = motor / 9.0
    rotor = Rotor(wheel if fault == "flat_wheel" else motor, _ringing(900.0, 200.0),
                  part_hz=2200.0, rub_band=(3000.0, 6500.0))
    return add_fault(y, fault, severity, rotor, fault_rng)


# The rig's support bearing (not the one under test) ticks at its own ball-pass rate: the
# healthy sound's impact rate, a fixed multiple of the shaft rate, so the hidden speed class is
# the fundamental of the resonance band's envelope spectrum.
BALL_PASS_RATIO = 3.05
TEST_BEARING = BearingGeometry(balls=12, diameter_ratio=0.25)
ROTOR_SLOTS = 26


def bearing(n, attrs, fault, severity, rng, fault_rng):
    """Rolling-bearing rig: shaft harmonics at the rotation rate (set by the hidden velocity) and
    support-bearing ticks ringing a structural resonance whose frequency depends on the sensor
    location. The bearing under test has 12 balls at a quarter of the pitch diameter."""
    res_hz, res_bw = {"A": (3000.0, 350.0), "B": (4300.0, 450.0)}[attrs["loc"]]
    ring = _ringing(res_hz, res_bw)
    shaft = cycles(3.0 * float(attrs["vel"]) * wander(n, rng, 0.003), n, rng)
    y = harmonics(shaft, [0.8 ** k for k in range(30)], rng)
    y += 0.3 * harmonics(shaft * ROTOR_SLOTS, [1.0, 0.4], rng)  # the drive motor's slot whine
    y += 1.2 * ring(impulses_on(shaft * BALL_PASS_RATIO, rng, 0.0003, 0.25))
    y += 0.1 * band_noise(n, rng, res_hz - res_bw, res_hz + res_bw)
    rotor = Rotor(shaft, ring, bearing=TEST_BEARING, part_hz=1800.0, rub_band=(1000.0, 5000.0))
    return add_fault(y, fault, severity, rotor, fault_rng)


def fan(n, attrs, fault, severity, rng, fault_rng):
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
    rotor = Rotor(rotation, _ringing(3300.0, 400.0), mesh_teeth=blades, part_hz=1500.0)
    return add_fault(y, fault, severity, rotor, fault_rng)


INPUT_TEETH, OUTPUT_TEETH = 21, 37


def gearbox(n, attrs, fault, severity, rng, fault_rng):
    """Motor-driven gearbox lifting a weight: gear-mesh tone and harmonics at teeth x input-shaft
    rate (the rate follows the motor voltage and sags under load); the load raises the mesh level
    and the sidebands at the input and output shaft rates."""
    load = float(attrs["wt"]) / 100
    rate = 22.0 * float(attrs["volt"]) * (1 - 0.05 * load) * wander(n, rng, 0.003)
    shaft = cycles(rate, n, rng)
    output = shaft * INPUT_TEETH / OUTPUT_TEETH
    mesh = harmonics(shaft * INPUT_TEETH, [1.0, 0.35 + 0.2 * load, 0.15, 0.08], rng)
    modulation = 1 + load * (0.2 * np.sin(2 * np.pi * shaft) + 0.1 * np.sin(2 * np.pi * output))
    y = (0.6 + 0.4 * load) * mesh * modulation
    y += 0.3 * harmonics(shaft * 2, [1.0, 0.5, 0.25], rng)  # motor torque ripple
    y += 0.3 * coloured_noise(n, rng, 1.0, 50)
    rotor = Rotor(shaft, _ringing(2600.0, 300.0), bearing=BearingGeometry(9, 0.3),
                  mesh_teeth=INPUT_TEETH, part_hz=1700.0)
    return add_fault(y, fault, severity, rotor, fault_rng)


STROKE_MM, SCREW_LEAD_MM, DWELL_S = 200.0, 5.0, 0.15


def slider(n, attrs, fault, severity, rng, fault_rng):
    """Linear slide on a ball screw, stroking back and forth: while moving, the motor whines at a
    rate proportional to the carriage velocity (the hidden attribute) and the rail hisses; each
    stop is a clunk. The acceleration attribute sets the ramp time."""
    velocity = float(attrs["vel"])
    move_s = STROKE_MM / velocity
    ramp_s = min(float(attrs["ac"]), move_s / 2)
    t = (np.arange(n) / SAMPLE_RATE + rng.uniform(0, 2 * move_s)) % (move_s + DWELL_S)
    profile = np.clip(np.minimum(t, move_s - t) / ramp_s, 0.0, 1.0)  # trapezoid, 0 while dwelling
    profile *= wander(n, rng, 0.01)
    screw = cycles(velocity / SCREW_LEAD_MM * profile * speed_factor(fault, severity, n,
                                                                     fault_rng), n, rng)
    y = profile * harmonics(screw, [1 / k for k in range(1, 21)], rng)
    y += 0.3 * profile * coloured_noise(n, rng, 0.5, 800, 4000)
    stops = np.zeros(n)
    stops[np.flatnonzero(np.diff((t > move_s).astype(int)) == 1)] = 1.0
    y += 2.0 * (resonate(stops, 1500.0, 300.0) + resonate(stops, 420.0, 80.0))
    rotor = Rotor(screw, _ringing(2600.0, 300.0), bearing=BearingGeometry(8, 0.2),
                  part_hz=1900.0, rub_band=(2000.0, 4500.0))
    faulty = add_fault(y, fault, severity, rotor, fault_rng)
    if fault in ("rub", "looseness", "ball"):  # only while the carriage moves
        faulty = y + (profile > 0.05) * (faulty - y)
    return faulty


# Valve open/closed cycles: (open seconds, closed seconds) repeated; valve 2 "00" never opens.
VALVE1_PATTERNS = {"00": ((0.25, 0.35),), "01": ((0.12, 0.12), (0.12, 0.5)), "02": ((0.5, 0.3),)}
VALVE2_PATTERNS = {"00": (), "01": ((0.2, 0.6),), "02": ((0.1, 0.3), (0.1, 0.5))}


def valve_events(n, pattern, rng, lag_s=None):
    """(open, close) sample indices of one valve following ``pattern`` from a random phase.
    ``lag_s`` (a sticking valve) draws each opening's delay in seconds, None when on time."""
    if not pattern:
        return []
    cycle_s = sum(open_s + closed_s for open_s, closed_s in pattern)
    t = -rng.uniform(0, cycle_s)
    events = []
    while t < n / SAMPLE_RATE:
        for open_s, closed_s in pattern:
            lag = lag_s() if lag_s else 0.0
            if lag < open_s:  # a lag longer than the opening misses it
                events.append((int((t + lag) * SAMPLE_RATE), int((t + open_s) * SAMPLE_RATE)))
            t += open_s + closed_s
    return [(max(0, a), min(n - 1, b)) for a, b in events if b > 0 and a < n]


def valve(n, attrs, fault, severity, rng, fault_rng):
    """Two solenoid valves on a pumped line: each opening and closing clicks (different
    resonances per valve and direction) and flow hisses while open; the attributes set the
    open/close patterns. A pump hums underneath. A sticking valve opens late (the lag grows
    with the severity, up to 0.25 s), a leaking one hisses between events."""
    pump = cycles(24.5 * wander(n, rng, 0.003), n, rng)
    y = 0.4 * harmonics(pump, [1.0, 0.6, 0.4, 0.3, 0.2], rng)
    y += 0.2 * coloured_noise(n, rng, 1.0)
    sticking = fault == "valve_sticking" and severity > 0
    valves = ((VALVE1_PATTERNS[attrs["v1pat"]], (2600.0, 5200.0, 1800.0), (1500, 6000)),
              (VALVE2_PATTERNS[attrs["v2pat"]], (3400.0, 6100.0, 1200.0), (800, 3000)))
    leak = np.zeros(n)
    for pattern, (open_hz, open2_hz, close_hz), (hiss_low, hiss_high) in valves:
        # the normal timing draws the same numbers whatever the fault: phase from ``rng``
        events = valve_events(n, pattern, np.random.default_rng(rng.integers(2 ** 63)),
                              (lambda: fault_rng.exponential(0.25 * severity)) if sticking
                              else None)
        opens, closes, gate = np.zeros(n), np.zeros(n), np.zeros(n)
        for start, stop in events:
            opens[start] += 1.0
            closes[stop] += 1.0
            gate[start:stop] = 1.0
        hiss = band_noise(n, rng, hiss_low, hiss_high)
        y += 0.5 * smoothed(gate, 0.01) * hiss
        y += 3.0 * resonate(opens, open_hz, 250.0) + 1.5 * resonate(opens, open2_hz, 600.0)
        y += 2.0 * resonate(closes, close_hz, 200.0)
        if events:
            leak += smoothed(1.0 - gate, 0.01) * hiss
    if fault == "valve_leak":
        return y + fault_level(severity) * rms(y) * leak / rms(leak) if leak.any() else y
    if fault == "valve_sticking":
        return y
    rotor = Rotor(pump, _ringing(2200.0, 300.0), part_hz=2400.0)
    return add_fault(y, fault, severity, rotor, fault_rng)


SOUND_MODELS = {"ToyCar": toy_car, "ToyTrain": toy_train, "bearing": bearing, "fan": fan,
                "gearbox": gearbox, "slider": slider, "valve": valve}

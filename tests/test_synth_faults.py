"""The synthetic fault catalogue: each fault kind is where it claims to be in the signal.

Machine models are called directly (no background, no microphone), with the same random
streams for the normal and the faulty clip, so what differs is the fault alone.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from asdcore import synth
from asdcore.dataset import parse_attributes
from asdcore.synth.machines import INPUT_TEETH, valve_events

SR = synth.SAMPLE_RATE


def clips(machine: str, attributes: str, kind: str, severity: float = 1.0,
          seconds: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """(normal, faulty) machine sound, same random streams."""
    model, attrs, n = synth.SOUND_MODELS[machine], parse_attributes(attributes), int(seconds * SR)
    normal = model(n, attrs, "", 0.0, np.random.default_rng(1), np.random.default_rng(2))
    faulty = model(n, attrs, kind, severity, np.random.default_rng(1), np.random.default_rng(2))
    return normal, faulty


def envelope_spectrum(y: np.ndarray, low: float, high: float):
    """Spectrum of the Hilbert envelope of one band: where impacts repeat."""
    sos = signal.butter(4, [low, high], "bandpass", fs=SR, output="sos")
    envelope = np.abs(signal.hilbert(signal.sosfiltfilt(sos, y)))
    return signal.welch(envelope - envelope.mean(), SR, nperseg=16384)


def spectrum(y: np.ndarray):
    return signal.welch(y, SR, nperseg=32768)


def power_near(freqs, power, freq: float, width: float = 1.5) -> float:
    return float(power[np.abs(freqs - freq) <= width].sum())


def db(ratio: float) -> float:
    return 10 * np.log10(ratio)


def test_the_catalogue_covers_the_demo():
    used = {kind for kinds in synth.ANOMALIES.values() for kind in kinds}
    assert used <= set(synth.CATALOGUE)
    assert len(used) >= 6
    assert all(len(kinds) >= 4 for kinds in synth.ANOMALIES.values())
    # most are not a change of band energy: impulses, orders, sidebands, timing, modulation
    band_energy = {"cavitation", "valve_leak", "rub"}
    assert len(used - band_energy) > 2 * len(used & band_energy)


@pytest.mark.parametrize("machine", synth.MACHINES)
def test_severity_zero_gives_the_normal_clip_and_severity_grows_the_fault(machine):
    attributes = synth.ATTRIBUTES[machine]["source"][0]
    for kind in synth.ANOMALIES[machine]:
        normal, silent = clips(machine, attributes, kind, 0.0, seconds=2.0)
        assert np.array_equal(normal, silent), kind
        if kind in ("belt_slip", "valve_sticking"):  # timing faults: see their own tests
            continue
        changes = [synth.rms(clips(machine, attributes, kind, s, seconds=2.0)[1] - normal)
                   for s in (0.1, 0.5, 1.0)]
        assert 0 < changes[0] < changes[1] < changes[2], kind


@pytest.mark.parametrize("kind, per_revolution", [
    ("outer_race", synth.TEST_BEARING.outer_race),
    ("inner_race", synth.TEST_BEARING.inner_race),
    ("ball", 2 * synth.TEST_BEARING.ball_spin),
])
def test_a_bearing_fault_peaks_in_the_envelope_spectrum_at_its_fault_frequency(
        kind, per_revolution):
    shaft_hz = 3.0 * 6  # vel_6: the shaft turns at 3 Hz per velocity step
    normal, faulty = clips("bearing", "vel_6_loc_A", kind)
    freqs, before = envelope_spectrum(normal, 2600, 3400)
    freqs, after = envelope_spectrum(faulty, 2600, 3400)
    band = (freqs > 20) & (freqs < 500)
    expected = per_revolution * shaft_hz
    assert freqs[band][np.argmax(after[band])] == pytest.approx(expected, rel=0.02)
    assert after[band].max() > 10 * before[np.abs(freqs - expected) < 1].max()
    if kind == "inner_race":  # modulated at the shaft rate: sidebands at BPFI +- 1x
        for side in (expected - shaft_hz, expected + shaft_hz):
            assert db(power_near(freqs, after, side) / power_near(freqs, before, side)) > 10


def test_gear_wear_shows_sidebands_around_the_mesh_frequency():
    normal, faulty = clips("gearbox", "volt_1.0_wt_30", "gear_wear")
    shaft_hz = 22.0 * 1.0 * (1 - 0.05 * 0.3)
    mesh = INPUT_TEETH * shaft_hz
    freqs, before = spectrum(normal)
    freqs, after = spectrum(faulty)
    for k in (1, 2):
        for side in (mesh - k * shaft_hz, mesh + k * shaft_hz):
            assert db(power_near(freqs, after, side, 3) / power_near(freqs, before, side, 3)) > 6
    assert abs(db(power_near(freqs, after, mesh, 3) / power_near(freqs, before, mesh, 3))) < 1


@pytest.mark.parametrize("machine, attributes, kind, rate_hz, ringing", [
    ("gearbox", "volt_2.0_wt_30", "chipped_tooth", 22.0 * 2.0 * (1 - 0.05 * 0.3), (2000, 3200)),
    ("ToyTrain", "car_A1_spd_9_mic_1_noise_1", "flat_wheel", 28.0 * 9 / 9.0, (700, 1100)),
])
def test_one_impact_per_revolution(machine, attributes, kind, rate_hz, ringing):
    normal, faulty = clips(machine, attributes, kind)
    freqs, before = envelope_spectrum(normal, *ringing)
    freqs, after = envelope_spectrum(faulty, *ringing)
    # the envelope line at the revolution rate grows at least fourfold
    assert db(power_near(freqs, after, rate_hz, 1) / power_near(freqs, before, rate_hz, 1)) > 6


def test_imbalance_is_1x_and_misalignment_2x():
    """What each adds to the sound lies at its shaft order."""
    shaft_hz = 3.0 * 9
    orders = {}
    for kind in ("imbalance", "misalignment"):
        normal, faulty = clips("bearing", "vel_9_loc_A", kind)
        freqs, added = spectrum(faulty - normal)
        orders[kind] = [power_near(freqs, added, k * shaft_hz) for k in (1, 2, 3)]
    assert orders["imbalance"][0] > 3 * max(orders["imbalance"][1:])
    assert orders["misalignment"][1] > 2 * orders["misalignment"][2] > 2 * orders[
        "misalignment"][0]


def speed_wobble(y: np.ndarray, freq: float) -> float:
    """Relative spread of a harmonic's instantaneous frequency (50 ms averages)."""
    sos = signal.butter(4, [0.9 * freq, 1.1 * freq], "bandpass", fs=SR, output="sos")
    phase = np.unwrap(np.angle(signal.hilbert(signal.sosfiltfilt(sos, y))))
    window = int(0.05 * SR)
    instant = np.convolve(np.diff(phase) * SR / (2 * np.pi), np.ones(window) / window, "valid")
    return float(np.std(instant) / freq)


def test_belt_slip_makes_the_drive_speed_wobble():
    motor_hz = 28.0 * 7
    normal, faulty = clips("ToyTrain", "car_A1_spd_7_mic_1_noise_1", "belt_slip")
    _, slight = clips("ToyTrain", "car_A1_spd_7_mic_1_noise_1", "belt_slip", 0.3)
    for harmonic in (1, 3):
        wobbles = [speed_wobble(y, harmonic * motor_hz) for y in (normal, slight, faulty)]
        assert wobbles[0] < wobbles[1] < wobbles[2]
        assert wobbles[2] > 2 * wobbles[0]


def test_a_sticking_valve_opens_late_or_not_at_all():
    pattern = synth.machines.VALVE1_PATTERNS["00"]
    on_time = valve_events(8 * SR, pattern, np.random.default_rng(3))
    lags = np.random.default_rng(4)
    late = valve_events(8 * SR, pattern, np.random.default_rng(3),
                        lambda: lags.exponential(0.1))
    assert 0 < len(late) < len(on_time)
    closes = {stop: start for start, stop in on_time}
    assert all(start >= closes[stop] for start, stop in late)
    assert sum(start > closes[stop] for start, stop in late) == len(late)


def test_a_leaking_valve_hisses_between_events():
    normal, faulty = clips("valve", "v1pat_02_v2pat_00", "valve_leak")
    quiet = np.abs(signal.sosfiltfilt(signal.butter(4, [1500, 6000], "bandpass", fs=SR,
                                                    output="sos"), normal))
    closed = quiet < np.percentile(quiet, 20)  # the stretches without flow
    assert synth.rms((faulty - normal)[closed]) > 0.5 * synth.rms(faulty - normal)


def test_cavitation_is_broadband_bursts():
    normal, faulty = clips("valve", "v1pat_00_v2pat_00", "cavitation")
    added = faulty - normal
    frames = added[: added.size // 160 * 160].reshape(-1, 160)
    energy = np.mean(frames ** 2, axis=1)
    assert np.mean(energy > 0.1 * energy.max()) < 0.5  # bursts, not a steady noise
    freqs, power = spectrum(added)
    assert power[(freqs > 1000) & (freqs < 3000)].sum() > 0.1 * power.sum()
    assert power[(freqs > 5000) & (freqs < 7500)].sum() > 0.1 * power.sum()

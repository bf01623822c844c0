"""Characteristic frequencies, kurtogram band suggestion and markers on signals whose answer is
known: amplitude-modulated resonances, impact trains ringing a resonance."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from asdcore import dsp
from asdcore.errors import ASDError

SR = 16000


def time_axis(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * SR)) / SR


def modulated_resonance(f0: float, amplitudes, seconds=4.0, noise=0.5, seed=0) -> np.ndarray:
    """A 3 kHz carrier whose envelope holds harmonics of f0 with the given amplitudes."""
    rng = np.random.default_rng(seed)
    t = time_axis(seconds)
    modulation = sum(a * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6))
                     for k, a in enumerate(amplitudes, start=1))
    return (2 + modulation) * np.sin(2 * np.pi * 3000 * t) + noise * rng.standard_normal(len(t))


def ringing_impacts(rate: float, resonance=3000.0, seconds=4.0, noise=0.05, seed=0) -> np.ndarray:
    """Impacts at ``rate`` per second ringing a resonance, in white noise."""
    rng = np.random.default_rng(seed)
    impacts = np.zeros(round(seconds * SR))
    impacts[(np.arange(0, seconds, 1 / rate) * SR).astype(int)] = 1.0
    r, w = np.exp(-np.pi * 300 / SR), 2 * np.pi * resonance / SR
    rings = scipy.signal.lfilter([np.sin(w)], [1, -2 * r * np.cos(w), r * r], impacts)
    return rings + noise * rng.standard_normal(len(impacts))


def envelope_f0(y, band=(2500, 3500), fmin=10.0, fmax=200.0):
    spectrum, freqs = dsp.envelope_spectrum(y, SR, band, fmax=5 * fmax + 1)
    return dsp.characteristic_frequency(spectrum, freqs, fmin, fmax)


@pytest.mark.parametrize("f0", [23.0, 54.9, 118.95, 155.55])
def test_impact_rate_is_found_within_a_bin(f0):
    found, salience = envelope_f0(ringing_impacts(f0))
    assert salience > 0
    assert found == pytest.approx(f0, abs=0.25)  # bins are 0.25 Hz


def test_a_dominant_second_harmonic_does_not_double_the_answer():
    # The envelope line at 2 f0 is ten times the fundamental's: a plain peak pick says 2 f0.
    y = modulated_resonance(37.3, [0.1, 1.0, 0.05, 0.3])
    spectrum, freqs = dsp.envelope_spectrum(y, SR, (2500, 3500), fmax=1001)
    in_range = (freqs >= 10) & (freqs <= 200)
    assert freqs[in_range][np.argmax(spectrum[in_range])] == pytest.approx(74.6, abs=0.5)
    found, _ = envelope_f0(y)
    assert found == pytest.approx(37.3, abs=0.2)


def test_half_the_fundamental_is_not_chosen_when_few_harmonics_survive():
    # Two harmonics only: half of f0 reaches them just as well; the octave check must win.
    found, _ = envelope_f0(modulated_resonance(90.0, [1.0, 0.6]), fmin=20.0)
    assert found == pytest.approx(90.0, abs=0.3)


def test_salience_peaks_at_the_fundamental_and_noise_has_none():
    salience, f0s = dsp.harmonic_salience(*envelope_spectrum_of(ringing_impacts(50.0)), 10, 200)
    assert f0s[np.argmax(salience)] == pytest.approx(50.0, abs=0.6)
    noise = np.random.default_rng(3).standard_normal(4 * SR)
    _, salience_of_noise = envelope_f0(noise)
    _, salience_of_impacts = envelope_f0(ringing_impacts(50.0, noise=0.2))
    assert salience_of_noise < 0.1 * salience_of_impacts


def envelope_spectrum_of(y):
    spectrum, freqs = dsp.envelope_spectrum(y, SR, (2500, 3500), fmax=1001)
    return spectrum, freqs


def test_characteristic_frequency_rejects_a_short_spectrum_and_bad_ranges():
    spectrum, freqs = envelope_spectrum_of(ringing_impacts(50.0))
    with pytest.raises(ASDError, match="harmonic 5"):
        dsp.characteristic_frequency(spectrum, freqs, 10, 400)
    with pytest.raises(ASDError, match="fmin < fmax"):
        dsp.characteristic_frequency(spectrum, freqs, 100, 50)


def test_kurtogram_points_at_the_ringing_resonance_not_at_a_tone():
    t = time_axis(4.0)
    y = ringing_impacts(40.0, resonance=4200.0, noise=0.2) + 2.0 * np.sin(2 * np.pi * 800 * t)
    kurtosis, freqs, bandwidths = dsp.kurtogram(y, SR)
    assert kurtosis.shape == (len(dsp.KURTOGRAM_WINDOWS), len(freqs))
    assert np.all(np.diff(bandwidths) < 0)
    low, high = dsp.best_band(kurtosis, freqs, bandwidths)
    assert low < 4200 < high and high - low <= 2000
    tone_row = kurtosis[-1, np.argmin(np.abs(freqs - 800))]
    assert tone_row < 0  # a steady tone is less impulsive than noise


def test_kurtogram_in_blocks_equals_the_whole_signal_at_once_in_bounded_memory(monkeypatch):
    import tracemalloc

    y = ringing_impacts(40.0, resonance=4200.0, noise=0.2)
    whole = dsp.kurtogram(y, SR)[0]  # a 4 s signal fits in one block
    monkeypatch.setattr(dsp, "_KURTOGRAM_BLOCK_BYTES", 20_000)  # many blocks per window
    np.testing.assert_allclose(dsp.kurtogram(y, SR)[0], whole, rtol=1e-9, atol=1e-12)
    monkeypatch.undo()

    minute = np.random.default_rng(0).normal(size=60 * SR)  # 7.7 MB of float64
    tracemalloc.start()
    dsp.kurtogram(minute, SR)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 40e6  # all frames at once peaked at 120 MB


def test_best_band_respects_limits_and_short_signals_are_refused():
    kurtosis, freqs, bandwidths = dsp.kurtogram(ringing_impacts(40.0, noise=0.2), SR)
    low, high = dsp.best_band(kurtosis, freqs, bandwidths, fmin=5000)
    assert (low + high) / 2 >= 5000
    with pytest.raises(ASDError, match="too short"):
        dsp.kurtogram(np.zeros(40), SR)


def test_harmonic_and_sideband_markers():
    np.testing.assert_allclose(dsp.harmonic_markers(55.0, 300.0), [55, 110, 165, 220, 275])
    np.testing.assert_allclose(dsp.harmonic_markers(55.0, 300.0, count=2), [55, 110])
    assert dsp.harmonic_markers(0.0, 100.0).size == 0
    np.testing.assert_allclose(dsp.sideband_markers(1000.0, 30.0, 2), [940, 970, 1030, 1060])
    np.testing.assert_allclose(dsp.sideband_markers(50.0, 30.0, 2), [20, 80, 110])


def test_envelope_characteristic_is_the_envelope_spectrum_and_its_fundamental():
    y = ringing_impacts(37.0)
    found = dsp.envelope_characteristic(y, SR, (2000.0, 4000.0), 5.0, 250.0)
    spectrum, freqs = dsp.envelope_spectrum(y, SR, (2000.0, 4000.0), fmax=5 * 250.0 + 1.0)
    np.testing.assert_array_equal(found.spectrum, spectrum)
    np.testing.assert_array_equal(found.freqs, freqs)
    assert found.salience > 0 and found.f0 == pytest.approx(37.0, rel=0.01)


@pytest.mark.parametrize("fmin, fmax", [(250.0, 5.0), (5.0, 5.0), (0.0, 250.0),
                                        (float("nan"), 250.0)])
def test_characteristic_range_checks_refuse_unusable_ranges(fmin, fmax):
    with pytest.raises(ASDError, match="search range"):
        dsp.check_characteristic_range(fmin, fmax)
    assert dsp.check_characteristic_range(5, 250) == (5.0, 250.0)

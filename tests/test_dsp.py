"""dsp on signals whose answer is known: tones, amplitude modulation, periodic impacts."""

from __future__ import annotations

import numpy as np
import pytest

from asdcore import dsp
from asdcore.errors import ASDError

SR = 16000


def time_axis(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * SR)) / SR


def test_welch_of_a_tone_peaks_at_the_tone():
    rng = np.random.default_rng(0)
    t = time_axis(5.0)
    y = np.sin(2 * np.pi * 1234.0 * t) + 0.01 * rng.standard_normal(len(t))
    psd, freqs = dsp.welch_spectrum(y, SR)
    assert freqs[1] == pytest.approx(SR / 4096)
    assert abs(freqs[np.argmax(psd)] - 1234.0) <= SR / 4096
    linear, _ = dsp.welch_spectrum(y, SR, db=False)
    np.testing.assert_allclose(psd, 10 * np.log10(linear), rtol=1e-9)


def test_welch_of_a_short_signal_and_silence_is_finite():
    psd, freqs = dsp.welch_spectrum(np.zeros(1000), SR)
    assert len(psd) == len(freqs) == 501 and np.isfinite(psd).all()


def test_bandpass_keeps_the_band_and_removes_the_rest():
    t = time_axis(2.0)
    inside, outside = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 100 * t)
    filtered = dsp.bandpass(inside + outside, SR, 500, 2000)
    middle = slice(SR // 2, -SR // 2)  # away from the edges
    np.testing.assert_allclose(filtered[middle], inside[middle], atol=0.02)  # zero phase


def test_bandpass_clamps_the_band_and_rejects_an_empty_one():
    t = time_axis(1.0)
    y = np.sin(2 * np.pi * 6000 * t)
    assert np.abs(dsp.bandpass(y, SR, 0, 1000)[2000:-2000]).max() < 1e-3  # low-pass
    assert np.abs(dsp.bandpass(y, SR, 3000, 20000)[2000:-2000]).max() > 0.99  # high-pass
    np.testing.assert_array_equal(dsp.bandpass(y, SR, -5, SR), y)
    with pytest.raises(ASDError, match="empty"):
        dsp.bandpass(y, SR, 9000, 12000)
    with pytest.raises(ASDError, match="empty"):
        dsp.bandpass(y, SR, 2000, 1000)


def test_envelope_spectrum_of_amplitude_modulation_peaks_at_the_modulation():
    t = time_axis(10.0)
    rng = np.random.default_rng(1)
    y = (1 + 0.5 * np.sin(2 * np.pi * 37 * t)) * np.sin(2 * np.pi * 3000 * t)
    y += 0.3 * rng.standard_normal(len(t))
    spectrum, freqs = dsp.envelope_spectrum(y, SR, band=(2500, 3500), fmax=200)
    assert freqs[-1] <= 200
    assert freqs[np.argmax(spectrum)] == pytest.approx(37.0, abs=0.1)
    # Amplitude scaling: the 37 Hz line reads the modulation depth (0.5 of a unit carrier).
    assert spectrum.max() == pytest.approx(0.5, rel=0.1)
    envelope = dsp.envelope(y, SR, (2500, 3500))
    assert envelope.shape == y.shape and abs(envelope.mean()) < 1e-9


def test_periodic_impacts_on_a_resonance_give_the_impact_rate():
    rng = np.random.default_rng(2)
    rate, resonance = 23.0, 4000.0
    y = np.zeros(10 * SR)
    y[(np.arange(0, 10, 1 / rate) * SR).astype(int)] = 1.0
    ringing = np.exp(-time_axis(0.01) * 800) * np.sin(2 * np.pi * resonance * time_axis(0.01))
    y = np.convolve(y, ringing)[: len(y)] + 0.05 * rng.standard_normal(len(y))
    y += 2.0 * np.sin(2 * np.pi * 120 * time_axis(10.0))  # a loud hum outside the band
    for squared in (False, True):
        spectrum, freqs = dsp.envelope_spectrum(y, SR, band=(3000, 5000), squared=squared,
                                                fmax=100)
        low = freqs >= 5  # ignore the drift near 0 Hz
        assert freqs[low][np.argmax(spectrum[low])] == pytest.approx(rate, abs=0.15)
    linear, _ = dsp.envelope_spectrum(y, SR, band=(3000, 5000), fmax=100)
    in_db, _ = dsp.envelope_spectrum(y, SR, band=(3000, 5000), fmax=100, db=True)
    np.testing.assert_allclose(in_db, dsp.to_db(linear, "magnitude"))


def test_band_metrics_on_a_known_spectrum():
    freqs = np.arange(0.0, 100.0, 10.0)  # 0, 10, ..., 90 Hz
    power = np.array([1, 2, 3, 4, 10, 4, 3, 2, 1, 1], dtype=float)
    metrics = dsp.band_metrics(power, freqs, (20, 60), scale="power")  # bins 20..60 Hz
    assert metrics == pytest.approx({"peak_freq": 40.0, "peak_level": 10.0,
                                     "band_power": 10 * np.log10(24), "mean_level": 4.8})
    in_db = dsp.band_metrics(10 * np.log10(power), freqs, (20, 60))
    assert in_db["peak_freq"] == 40.0 and in_db["peak_level"] == pytest.approx(10.0)
    assert in_db["band_power"] == pytest.approx(10 * np.log10(24))
    assert in_db["mean_level"] == pytest.approx(np.mean(10 * np.log10(power[2:7])))
    magnitude = dsp.band_metrics(np.sqrt(power), freqs, (20, 60), scale="magnitude")
    assert magnitude["band_power"] == pytest.approx(10 * np.log10(24))
    assert magnitude["peak_level"] == pytest.approx(np.sqrt(10))


def test_band_metrics_rejects_an_empty_band_and_an_unknown_scale():
    freqs = np.arange(0.0, 100.0, 10.0)
    with pytest.raises(ASDError, match="no spectrum bins"):
        dsp.band_metrics(np.ones(10), freqs, (41, 49))
    with pytest.raises(ValueError, match="scale"):
        dsp.band_metrics(np.ones(10), freqs, (0, 50), scale="linear")

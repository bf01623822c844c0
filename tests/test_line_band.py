"""The envelope-line band suggestion: a machine whose speed shows as modulated noise (a pump's
flow) in a hall with clicks elsewhere gets the band of its modulation, where the kurtogram picks
the clicks; the grid and the prominence measure it rests on."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from asdcore import dsp
from asdcore.errors import ASDError
from asdcore.labels import suggest_band, suggest_line_band

SR = 16000
RATE = 25.0  # Hz: the flow's pulsation


def envelope_peak(path, band):
    y, sr = sf.read(path)
    spectrum, freqs = dsp.envelope_spectrum(y, sr, band, fmax=200.0)
    in_range = freqs >= 10.0
    return float(freqs[in_range][np.argmax(spectrum[in_range])])


@pytest.fixture(scope="module")
def pulsing_flow_with_clicks(tmp_path_factory):
    """Noise in 1-4 kHz, amplitude-modulated at 25 Hz, and a few 7 kHz clicks per clip."""
    root = tmp_path_factory.mktemp("flow")
    rng = np.random.default_rng(0)
    sos = scipy.signal.butter(4, [1000, 4000], "bandpass", fs=SR, output="sos")
    n, ring = 4 * SR, np.arange(800) / SR
    paths = []
    for i in range(4):
        t = np.arange(n) / SR
        y = 0.1 * scipy.signal.sosfilt(sos, rng.standard_normal(n)) * (
            1 + 0.8 * np.cos(2 * np.pi * RATE * t)) + 0.01 * rng.standard_normal(n)
        for start in rng.integers(0, n - ring.size, 6):
            y[start:start + ring.size] += 0.5 * np.sin(2 * np.pi * 7000 * ring) * np.exp(
                -200 * ring)
        paths.append(str(root / f"clip_{i}.wav"))
        sf.write(paths[-1], y, SR)
    return paths


def test_the_line_band_shows_the_pulsation_the_kurtogram_band_misses(pulsing_flow_with_clicks):
    paths = pulsing_flow_with_clicks
    lines = suggest_line_band(paths, sr=SR)
    kurtogram = suggest_band(paths, sr=SR)
    assert envelope_peak(paths[0], lines) == pytest.approx(RATE, abs=0.5)
    # the premise: the clicks are the most impulsive thing, and their band has no pulsation
    assert kurtogram[0] > 4000
    assert envelope_peak(paths[0], kurtogram) != pytest.approx(RATE, abs=0.5)


def test_line_bands_tile_the_spectrum_at_each_width():
    bands = dsp.line_bands(16000, widths=(1000.0, 4000.0))
    assert all(0 <= low < high <= 8000 for low, high in bands)
    narrow = [b for b in bands if b[1] - b[0] == 1000]
    wide = [b for b in bands if b[1] - b[0] == 4000]
    assert narrow[0] == (0.0, 1000.0) and narrow[1] == (500.0, 1500.0)
    assert narrow[-1] == (7000.0, 8000.0) and len(narrow) == 15
    assert wide == [(0.0, 4000.0), (2000.0, 6000.0), (4000.0, 8000.0)]
    assert dsp.line_bands(1000, widths=(4000.0,)) == []


def test_line_prominence_is_a_peak_in_noise_deviations():
    rng = np.random.default_rng(1)
    freqs = np.arange(0, 500, 0.5)
    noise = 1.0 + 0.1 * np.abs(rng.standard_normal(freqs.size))
    peaked = noise.copy()
    peaked[np.argmin(np.abs(freqs - 100))] += 5.0
    flat = dsp.line_prominence(noise, freqs, 10, 400, 10)
    assert dsp.line_prominence(peaked, freqs, 10, 400, 10) > 10 * flat
    # a peak outside [fmin, fmax] does not count; no bin in range gives 0
    assert dsp.line_prominence(peaked, freqs, 200, 400, 10) < 2 * flat
    assert dsp.line_prominence(peaked, freqs, 600, 700, 10) == 0.0


def test_no_usable_clip_is_one_clear_error(tmp_path):
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(SR // 100), SR)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    with pytest.raises(ASDError, match="No clip could be read or measured for the envelope"):
        suggest_line_band([str(short), str(broken)], sr=SR)
    with pytest.raises(ASDError, match="no clips"):
        suggest_line_band([], sr=SR)

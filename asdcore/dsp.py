"""Signal analysis for machine sounds: spectra, band-pass envelopes, envelope spectra, band figures.

Every function is array in, array out: ``(y, sr, **params) -> (values, axis)``, no I/O and no
plotting. Levels in dB are ``10 * log10`` of a power or ``20 * log10`` of a magnitude, so dB
values of either kind convert back to power the same way (``10 ** (dB / 10)``).

The envelope spectrum is the classic bearing/gear diagnostic: band-pass around a structural
resonance that impacts excite, take the Hilbert envelope, and the envelope's spectrum shows the
impact rate (a characteristic frequency) and its harmonics.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.fft
import scipy.signal

from asdcore.errors import ASDError

Band = tuple[float, float]
Scale = Literal["db", "power", "magnitude"]
_TINY = 1e-20  # floor before a log, far below any real signal level
_TO_POWER = {
    "db": lambda values: 10.0 ** (values / 10.0),
    "power": lambda values: values,
    "magnitude": lambda values: values ** 2,
}


def to_db(values: np.ndarray, kind: Literal["power", "magnitude"] = "power") -> np.ndarray:
    """``10 * log10`` of a power, ``20 * log10`` of a magnitude (floored, so silence is finite)."""
    factor = 10.0 if kind == "power" else 20.0
    return factor * np.log10(np.maximum(values, _TINY))


def welch_spectrum(y: np.ndarray, sr: int, nperseg: int = 4096, overlap: float = 0.5,
                   db: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density (Hann window): ``(psd, freqs)``, psd in dB when ``db``."""
    nperseg = min(nperseg, len(y))
    freqs, psd = scipy.signal.welch(y, fs=sr, nperseg=nperseg, noverlap=int(nperseg * overlap))
    return (to_db(psd) if db else psd), freqs


def bandpass(y: np.ndarray, sr: int, low: float, high: float, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass (forward-backward SOS, so the roll-off doubles).

    The band is clamped to (0, sr/2): a band starting at 0 is a low-pass, one reaching Nyquist a
    high-pass, and one covering everything returns ``y`` unchanged.
    """
    nyquist = sr / 2
    low, high = max(low, 0.0), min(high, nyquist)
    if low >= high:
        raise ASDError(f"The band {low:g}-{high:g} Hz is empty at a sample rate of {sr} Hz; "
                       f"pick a low edge below the high edge and below {nyquist:g} Hz.")
    if low == 0 and high == nyquist:
        return np.array(y, dtype=np.float64)
    if low == 0:
        sos = scipy.signal.butter(order, high, btype="lowpass", fs=sr, output="sos")
    elif high == nyquist:
        sos = scipy.signal.butter(order, low, btype="highpass", fs=sr, output="sos")
    else:
        sos = scipy.signal.butter(order, [low, high], btype="bandpass", fs=sr, output="sos")
    return scipy.signal.sosfiltfilt(sos, y)


def envelope(y: np.ndarray, sr: int, band: Band | None, squared: bool = False) -> np.ndarray:
    """Hilbert envelope of ``y`` band-passed to ``band`` (None: the whole signal), mean removed.

    ``squared`` gives the squared envelope, which favours impulsive content over noise.
    """
    if band is not None:
        y = bandpass(y, sr, *band)
    n = len(y)
    # hilbert's FFT at a fast length: a 10 s clip at an odd length would otherwise be slow.
    env = np.abs(scipy.signal.hilbert(y, N=scipy.fft.next_fast_len(n))[:n])
    if squared:
        env = env ** 2
    return env - env.mean()


def envelope_spectrum(y: np.ndarray, sr: int, band: Band | None, squared: bool = False,
                      fmax: float | None = None, db: bool = False
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude spectrum of the envelope up to ``fmax``: ``(spectrum, freqs)``.

    Hann-windowed and scaled so a sinusoidal envelope component of amplitude A reads A (or
    ``20 log10 A`` with ``db``).
    """
    env = envelope(y, sr, band, squared)
    window = np.hanning(len(env))
    spectrum = np.abs(np.fft.rfft(env * window)) * (2.0 / window.sum())
    freqs = np.fft.rfftfreq(len(env), 1.0 / sr)
    if fmax is not None:
        keep = freqs <= fmax
        spectrum, freqs = spectrum[keep], freqs[keep]
    return (to_db(spectrum, "magnitude") if db else spectrum), freqs


def band_metrics(spectrum: np.ndarray, freqs: np.ndarray, band: Band,
                 scale: Scale = "db") -> dict[str, float]:
    """Figures of ``spectrum`` within ``band`` (edges included).

    ``scale`` says what the values are: dB (the default, as `welch_spectrum` returns), linear
    power, or linear magnitude. Returns ``peak_freq`` (Hz), ``peak_level`` and ``mean_level``
    (in the input's unit) and ``band_power``: the sum of the bins' power in dB (multiply by the
    bin width for an integrated PSD).
    """
    spectrum, freqs = np.asarray(spectrum), np.asarray(freqs)
    in_band = (freqs >= band[0]) & (freqs <= band[1])
    if not in_band.any():
        raise ASDError(f"The band {band[0]:g}-{band[1]:g} Hz contains no spectrum bins.")
    values, band_freqs = spectrum[in_band], freqs[in_band]
    peak = int(np.argmax(values))
    if scale not in _TO_POWER:
        raise ValueError(f"scale must be one of {sorted(_TO_POWER)}, not {scale!r}")
    power = _TO_POWER[scale](values)
    return {
        "peak_freq": float(band_freqs[peak]),
        "peak_level": float(values[peak]),
        "band_power": float(to_db(power.sum())),
        "mean_level": float(values.mean()),
    }

"""Signal analysis for machine sounds: spectra, band-pass envelopes, envelope spectra, band figures.

Every function is array in, array out: ``(y, sr, **params) -> (values, axis)``, no I/O and no
plotting. Levels in dB are ``10 * log10`` of a power or ``20 * log10`` of a magnitude, so dB
values of either kind convert back to power the same way (``10 ** (dB / 10)``).

The envelope spectrum is the classic bearing/gear diagnostic: band-pass around a structural
resonance that impacts excite, take the Hilbert envelope, and the envelope's spectrum shows the
impact rate (a characteristic frequency) and its harmonics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.fft
import scipy.ndimage
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


# ---------------------------------------------------------------------------------------------
# Characteristic frequencies: the fundamental of a harmonic family in an (envelope) spectrum.


def spectral_baseline(spectrum: np.ndarray, freqs: np.ndarray, width_hz: float) -> np.ndarray:
    """Running median of ``spectrum`` over ``width_hz``: the broadband floor under narrow peaks."""
    df = float(freqs[1] - freqs[0]) if len(freqs) > 1 else 1.0
    size = max(3, int(round(width_hz / df)) | 1)  # odd, so the median is centred
    return scipy.ndimage.median_filter(np.asarray(spectrum, dtype=np.float64), size=size,
                                       mode="nearest")


# When twice the winner is nearly as salient, the winner is half the true fundamental: it
# reaches the same harmonics (and noise in between). The true fundamental's own octave error
# reads well below this even with a dominant second harmonic (about 0.8 in the worst cases).
OCTAVE_RATIO = 0.9


def harmonic_salience(spectrum: np.ndarray, freqs: np.ndarray, fmin: float, fmax: float,
                      n_harmonics: int = 5, tolerance: float = 0.01
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic-sum salience of every candidate fundamental in [fmin, fmax]: ``(salience, f0s)``.

    ``spectrum`` is a linear magnitude (an envelope spectrum, say) on the evenly spaced
    ``freqs``. Only what rises above the floor counts (the running median over ``fmin`` Hz:
    wider than any peak, narrower than any candidate's harmonic spacing). The salience of ``f``
    is the sum of the peak heights at ``f, 2f, ... n f`` minus the heights half-way between them
    (each height the maximum within ``tolerance`` of the nominal frequency, at least one bin,
    since speeds drift). Equal weights and the subtraction make the true fundamental beat twice
    itself even when the second harmonic is the strongest line: ``2 f0`` misses the odd
    harmonics and is charged for them in between.
    """
    on, between, f0s, _ = _harmonic_terms(spectrum, freqs, fmin, fmax, n_harmonics, tolerance)
    return on.sum(axis=1) - between.sum(axis=1), f0s


def _harmonic_terms(spectrum, freqs, fmin, fmax, n_harmonics, tolerance):
    """Peak heights on the harmonics ``[n_f0s, n]`` and half-way between, the f0s, the peaks."""
    spectrum, freqs = np.asarray(spectrum, dtype=np.float64), np.asarray(freqs, dtype=np.float64)
    if len(freqs) < 2 or not 0 < fmin < fmax:
        raise ASDError(f"Cannot search {fmin:g}-{fmax:g} Hz for a fundamental: give "
                       "0 < fmin < fmax "
                       "and a spectrum with at least two bins.")
    df = freqs[1] - freqs[0]
    if n_harmonics * fmax > freqs[-1] + df:
        raise ASDError(f"The spectrum ends at {freqs[-1]:g} Hz, below harmonic {n_harmonics} "
                       f"of {fmax:g} Hz; compute it up to {n_harmonics * fmax:g} Hz or lower fmax.")
    peaks = np.maximum(spectrum - spectral_baseline(spectrum, freqs, fmin), 0.0)
    f0s = np.arange(fmin, fmax + df / 4, df / 2)  # half-bin steps: no peak falls between two
    harmonic = np.arange(1, n_harmonics + 1, dtype=np.float64)
    on = _window_max(peaks, freqs, np.outer(f0s, harmonic), tolerance)
    between = _window_max(peaks, freqs, np.outer(f0s, harmonic - 0.5), tolerance)
    return on, between, f0s, peaks


def _window_max(values: np.ndarray, freqs: np.ndarray, centres: np.ndarray,
                tolerance: float) -> np.ndarray:
    """Maximum of ``values`` within ``centres * (1 +- tolerance)`` (at least +-1 bin), per
    centre."""
    df = freqs[1] - freqs[0]
    half = np.maximum(centres * tolerance, df)
    lo = np.clip(np.floor((centres - half - freqs[0]) / df), 0, len(freqs) - 1).astype(np.intp)
    hi = np.clip(np.ceil((centres + half - freqs[0]) / df) + 1, 1, len(freqs)).astype(np.intp)
    # reduceat over interleaved (lo, hi) pairs reduces each [lo, hi); a sentinel keeps hi valid.
    padded = np.append(values, 0.0)
    bounds = np.stack([lo.ravel(), np.maximum(hi.ravel(), lo.ravel() + 1)], axis=1).ravel()
    return np.maximum.reduceat(padded, bounds)[0::2].reshape(centres.shape)


def characteristic_frequency(spectrum: np.ndarray, freqs: np.ndarray, fmin: float, fmax: float,
                             n_harmonics: int = 5, tolerance: float = 0.01) -> tuple[float, float]:
    """The fundamental in [fmin, fmax] with the largest `harmonic_salience`: ``(f0, salience)``.

    Half the true fundamental reaches the same harmonics, so when the best candidate near
    twice the winner scores at least `OCTAVE_RATIO` of it (and lies in range), that one is
    taken. ``f0`` is then refined from where its harmonics' peaks actually lie (each peak's
    frequency over its harmonic number, weighted by height), finer than the search grid.
    Salience 0 or less: no harmonic family was found and ``f0`` means nothing.
    """
    on, between, f0s, peaks = _harmonic_terms(spectrum, freqs, fmin, fmax, n_harmonics, tolerance)
    salience = on.sum(axis=1) - between.sum(axis=1)
    best = int(np.argmax(salience))
    while 2 * f0s[best] <= fmax:
        near_double = np.flatnonzero(np.abs(f0s - 2 * f0s[best]) <= 2 * f0s[best] * tolerance)
        double = int(near_double[np.argmax(salience[near_double])])
        if salience[double] < OCTAVE_RATIO * salience[best]:
            break
        best = double
    return _refined_f0(peaks, np.asarray(freqs, dtype=np.float64), f0s[best], on[best],
                       tolerance), float(salience[best])


N_HARMONICS = 5  # harmonics of a characteristic frequency that count towards its salience


def check_characteristic_range(fmin: float, fmax: float) -> tuple[float, float]:
    """``(fmin, fmax)`` as floats when ``0 < fmin < fmax``; else `ASDError` saying so."""
    fmin, fmax = float(fmin), float(fmax)
    if not (np.isfinite(fmin) and np.isfinite(fmax) and 0 < fmin < fmax):
        raise ASDError(f"The characteristic frequency search range {fmin:g}-{fmax:g} Hz is not "
                       "usable: the lowest frequency must be above 0 and below the highest.")
    return fmin, fmax


@dataclass(frozen=True)
class Characteristic:
    """A band's envelope spectrum (``spectrum`` over ``freqs``) and the characteristic
    frequency ``f0`` found in it with its ``salience`` (0 or less: none found)."""

    spectrum: np.ndarray
    freqs: np.ndarray
    f0: float
    salience: float


def envelope_characteristic(y: np.ndarray, sr: int, band: Band, fmin: float, fmax: float,
                            n_harmonics: int = N_HARMONICS) -> Characteristic:
    """The envelope spectrum of ``band``, up to the ``n_harmonics``-th harmonic of ``fmax``,
    and its `characteristic_frequency` in [fmin, fmax]."""
    spectrum, freqs = envelope_spectrum(y, sr, band, fmax=n_harmonics * fmax + 1.0)
    f0, salience = characteristic_frequency(spectrum, freqs, fmin, fmax, n_harmonics)
    return Characteristic(spectrum, freqs, f0, salience)


def _refined_f0(peaks: np.ndarray, freqs: np.ndarray, f0: float, heights: np.ndarray,
                tolerance: float) -> float:
    """Height-weighted mean of (peak frequency / harmonic number) over the harmonics of ``f0``."""
    if not heights.any():
        return float(f0)
    located = np.empty(len(heights))
    for k in range(1, len(heights) + 1):
        half_width = max(k * f0 * tolerance, freqs[1] - freqs[0])
        window = np.flatnonzero(np.abs(freqs - k * f0) <= half_width)
        located[k - 1] = freqs[window[np.argmax(peaks[window])]] / k
    return float(np.average(located, weights=heights))


def harmonic_markers(f0: float, fmax: float, count: int | None = None) -> np.ndarray:
    """``f0, 2 f0, 3 f0 ...`` up to ``fmax`` (at most ``count`` of them): where harmonics fall."""
    if f0 <= 0:
        return np.empty(0)
    n = int(fmax // f0)
    return f0 * np.arange(1, (n if count is None else min(n, count)) + 1)


def sideband_markers(carrier: float, spacing: float, count: int = 3) -> np.ndarray:
    """``carrier -+ k spacing`` for k = 1..count, ascending, positive frequencies only.

    Modulation at ``spacing`` (a shaft rate, say) of a ``carrier`` (a mesh or resonance
    frequency) puts lines there.
    """
    offsets = spacing * np.arange(1, count + 1)
    markers = np.concatenate([carrier - offsets[::-1], carrier + offsets])
    return markers[markers > 0]


# ---------------------------------------------------------------------------------------------
# Band suggestion: where is the signal most impulsive?

KURTOGRAM_WINDOWS = (16, 32, 64, 128, 256, 512, 1024)


def kurtogram(y: np.ndarray, sr: int, windows: tuple[int, ...] = KURTOGRAM_WINDOWS
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """STFT-based kurtogram: ``(kurtosis [len(windows), n_freqs], freqs, bandwidths)``.

    For each window length N the spectral kurtosis of every STFT bin,
    ``mean|X|^4 / (mean|X|^2)^2 - 2`` over time: about 0 for stationary noise, -1 for a steady
    tone, large for impacts (Antoni and Randall 2006). Row i describes bands of
    ``bandwidths[i] = 2 sr / N`` Hz (the Hann main lobe) centred on ``freqs``, the bin centres
    of the longest window (shorter windows are interpolated onto them). Bins at DC and Nyquist,
    which no band-pass can isolate, read 0.
    """
    y = np.asarray(y, dtype=np.float64)
    windows = tuple(w for w in windows if w <= len(y) // 4)
    if not windows:
        raise ASDError(f"The signal is too short ({len(y)} samples) for a kurtogram.")
    freqs = np.fft.rfftfreq(max(windows), 1.0 / sr)
    rows = []
    for n in windows:
        f, power_sum, square_sum, n_frames = _stft_power_moments(y, sr, n)
        mean_power, mean_square = power_sum / n_frames, square_sum / n_frames
        kurt = np.where(mean_power > _TINY,
                        mean_square / np.maximum(mean_power, _TINY) ** 2 - 2.0, 0.0)
        kurt[[0, -1]] = 0.0
        rows.append(np.interp(freqs, f, kurt))
    return np.array(rows), freqs, 2.0 * sr / np.array(windows, dtype=np.float64)


_KURTOGRAM_BLOCK_BYTES = 4 * 2**20  # STFT values held at once: bounded memory on long clips


def _stft_power_moments(y: np.ndarray, sr: int, n: int):
    """Sums over time of |X|^2 and |X|^4 of the Hann STFT of window ``n`` (hop n/4, frames
    wholly inside ``y``): ``(freqs, sum_power, sum_power_squared, n_frames)``, computed over
    blocks of frames so memory stays bounded however long ``y`` is."""
    hop = n - 3 * n // 4
    n_frames = (len(y) - n) // hop + 1
    block = max(1, _KURTOGRAM_BLOCK_BYTES // (16 * (n // 2 + 1)))
    power_sum = square_sum = 0.0
    for first in range(0, n_frames, block):
        last = min(first + block, n_frames)  # frames first .. last-1
        segment = y[first * hop:(last - 1) * hop + n]
        f, _, stft = scipy.signal.stft(segment, fs=sr, window="hann", nperseg=n,
                                       noverlap=n - hop, boundary=None, padded=False)
        power = np.abs(stft) ** 2
        power_sum = power_sum + power.sum(axis=1)
        square_sum = square_sum + (power ** 2).sum(axis=1)
    return f, power_sum, square_sum, n_frames


def best_band(kurtosis: np.ndarray, freqs: np.ndarray, bandwidths: np.ndarray,
              fmin: float = 0.0, fmax: float | None = None) -> Band:
    """The band ``(low, high)`` of the kurtogram's maximum, its centre within [fmin, fmax]."""
    allowed = (freqs >= fmin) & (freqs <= (freqs[-1] if fmax is None else fmax))
    if not allowed.any():
        raise ASDError(f"No kurtogram bins lie between {fmin:g} and {fmax:g} Hz.")
    masked = np.where(allowed[None, :], kurtosis, -np.inf)
    level, column = np.unravel_index(int(np.argmax(masked)), masked.shape)
    centre, half = float(freqs[column]), float(bandwidths[level]) / 2
    return max(centre - half, 0.0), min(centre + half, float(freqs[-1]))

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
    on = window_max(peaks, freqs, np.outer(f0s, harmonic), tolerance)
    between = window_max(peaks, freqs, np.outer(f0s, harmonic - 0.5), tolerance)
    return on, between, f0s, peaks


def window_max(values: np.ndarray, freqs: np.ndarray, centres: np.ndarray,
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
    harmonics: tuple[int, ...] = ()  # harmonic numbers of f0 whose lines are seen
    line_threshold: float = 0.0  # height over the floor that makes a peak a line


def envelope_characteristic(y: np.ndarray, sr: int, band: Band, fmin: float, fmax: float,
                            n_harmonics: int = N_HARMONICS) -> Characteristic:
    """The envelope spectrum of ``band``, up to the ``n_harmonics``-th harmonic of ``fmax``,
    and the fundamental of its `envelope_family` in [fmin, fmax]."""
    spectrum, freqs = envelope_spectrum(y, sr, band, fmax=n_harmonics * fmax + 1.0)
    family = envelope_family(spectrum, freqs, fmin, fmax, n_harmonics)
    return Characteristic(spectrum, freqs, family.f0, family.salience, family.harmonics,
                          family.line_threshold)


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


# A line stands this many robust noise deviations above the spectrum's floor.
LINE_SNR = 5.0
MAX_HARMONIC = 64  # highest harmonic number a family's line may have
# A line fits harmonic n of f0 within the relative tolerance, but never further than this
# share of f0: at high n the relative window would otherwise fit any line at all.
MAX_HARMONIC_OFFSET = 0.1
# A family's fundamental explains at least this share of a clip's line heights: the largest
# candidate that does wins (a lower one explains as much by fitting any line at some harmonic).
EXPLAINED_SHARE = 0.8
LINE_RELATIVE = 0.05  # ... and at least this share of the strongest line (-26 dB)
# A family shows its fundamental or second harmonic: one seen only from its 7th harmonic up
# is a common divisor of unrelated lines, not a fundamental.
FAMILY_LOWEST_HARMONIC = 2
LINE_WEIGHT_CAP = 4.0  # a line weighs its height above the threshold, at most this many of it


@dataclass(frozen=True)
class Family:
    """The harmonic family of a spectrum's lines: the fundamental ``f0``, the harmonic numbers
    of the lines seen (empty: no line, ``f0`` is the harmonic-sum estimate) and the height
    over the floor a peak needed to count as a line (`spectral_lines`)."""

    f0: float
    harmonics: tuple[int, ...]
    salience: float
    line_threshold: float


def spectral_lines(spectrum: np.ndarray, freqs: np.ndarray, fmin: float, fmax: float,
                   width_hz: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Lines of a linear spectrum in [fmin, fmax]: local maxima above the running-median floor
    (over ``width_hz``) by at least the line threshold, the larger of `LINE_SNR` robust noise
    deviations and `LINE_RELATIVE` of the strongest peak (the skirts and intermodulation
    products of strong lines are no family members).

    Returns ``(line freqs, heights over the floor, threshold)``.
    """
    above, in_range, noise = _above_floor(spectrum, freqs, fmin, fmax, width_hz)
    if not in_range.any():
        return np.empty(0), np.empty(0), _TINY
    threshold = max(LINE_SNR * noise, LINE_RELATIVE * float(above[in_range].max()), _TINY)
    found, _ = scipy.signal.find_peaks(above, height=threshold)
    found = found[in_range[found]]
    return freqs[found], above[found], threshold


def line_prominence(spectrum: np.ndarray, freqs: np.ndarray, fmin: float, fmax: float,
                    width_hz: float) -> float:
    """The strongest peak of a linear spectrum in [fmin, fmax] above its running-median floor
    (over ``width_hz``), in robust noise deviations of that floor (0 with no bin in range)."""
    above, in_range, noise = _above_floor(spectrum, freqs, fmin, fmax, width_hz)
    if not in_range.any():
        return 0.0
    return float(above[in_range].max()) / max(noise, _TINY)


def _above_floor(spectrum, freqs, fmin, fmax, width_hz):
    """``(spectrum over its running-median floor, the bins in [fmin, fmax], the robust noise
    deviation there)``: the floor's median absolute deviation scaled to a standard deviation."""
    above = np.asarray(spectrum, dtype=np.float64) - spectral_baseline(spectrum, freqs, width_hz)
    in_range = (freqs >= fmin) & (freqs <= fmax)
    noise = 1.4826 * float(np.median(np.abs(above[in_range]))) if in_range.any() else 0.0
    return above, in_range, noise


def line_bands(sr: float, widths: tuple[float, ...] = (500.0, 1000.0, 2000.0, 4000.0)
               ) -> list[Band]:
    """Candidate bands for envelope analysis: each width, centres half a width apart, every band
    inside (0, sr/2)."""
    nyquist = sr / 2
    bands = []
    for width in widths:
        low = 0.0
        while low + width <= nyquist:
            bands.append((low, low + width))
            low += width / 2
    return bands


def family_fundamental(line_freqs: np.ndarray, heights: np.ndarray, fmin: float, fmax: float,
                       threshold: float, tolerance: float = 0.01
                       ) -> tuple[float, tuple[int, ...]]:
    """The fundamental in [fmin, fmax] of a family of lines and the harmonic numbers seen.

    Each line weighs its height above the line ``threshold``, at most `LINE_WEIGHT_CAP`
    thresholds (a clear line counts fully however strong; one that barely passed, often noise,
    hardly at all). Candidates are every line over 1..`MAX_HARMONIC`; the largest whose
    harmonics (within ``tolerance``, one of them at most the `FAMILY_LOWEST_HARMONIC`-th)
    hold `EXPLAINED_SHARE` of the weight wins (a
    subharmonic-sum approximate greatest common divisor), refined as the weighted mean of
    line / harmonic number. ``(0.0, ())`` when no candidate explains enough.
    """
    line_freqs, heights = np.asarray(line_freqs, float), np.asarray(heights, float)
    weights = np.clip(heights - threshold, 0.0, LINE_WEIGHT_CAP * threshold)
    if not len(line_freqs) or weights.sum() <= 0:
        return 0.0, ()
    candidates = (line_freqs[:, None] / np.arange(1, MAX_HARMONIC + 1)[None, :]).ravel()
    candidates = np.sort(candidates[(candidates >= fmin) & (candidates <= fmax)])[::-1]
    total = weights.sum()
    for f0 in candidates:
        numbers, fits = _harmonic_fit(line_freqs, f0, tolerance)
        if (weights[fits].sum() >= EXPLAINED_SHARE * total
                and numbers[fits].min() <= FAMILY_LOWEST_HARMONIC):
            refined = float(np.average(line_freqs[fits] / numbers[fits],
                                       weights=weights[fits] + _TINY))
            return refined, tuple(sorted({int(n) for n in numbers[fits]}))
    return 0.0, ()


def _harmonic_fit(line_freqs: np.ndarray, f0: float, tolerance: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Nearest harmonic number of each line and whether the line lies within tolerance of it."""
    numbers = np.maximum(np.round(line_freqs / f0), 1)
    offset = np.abs(line_freqs - numbers * f0)
    fits = (offset <= np.minimum(tolerance * line_freqs, MAX_HARMONIC_OFFSET * f0)) & (
        numbers <= MAX_HARMONIC)
    return numbers, fits


def envelope_family(spectrum: np.ndarray, freqs: np.ndarray, fmin: float, fmax: float,
                    n_harmonics: int = N_HARMONICS, tolerance: float = 0.01) -> Family:
    """The harmonic family of an envelope spectrum's lines (`family_fundamental` of the
    `spectral_lines` up to the spectrum's end); without lines, the harmonic-sum
    `characteristic_frequency` and no harmonic numbers."""
    f0, salience = characteristic_frequency(spectrum, freqs, fmin, fmax, n_harmonics, tolerance)
    lines, heights, threshold = spectral_lines(spectrum, freqs, fmin, float(freqs[-1]), fmin)
    family_f0, numbers = family_fundamental(lines, heights, fmin, fmax, threshold, tolerance)
    if numbers:
        f0 = family_f0
    return Family(float(f0), numbers, float(salience), threshold)


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


# ---------------------------------------------------------------------------------------------
# Bearing fault frequencies (as MATLAB's bearingFaultFrequencies / bearingFaultBands).

BEARING_LINES = ("BPFO", "BPFI", "BSF", "FTF")


def bearing_multipliers(n_elements: int, ball_diameter: float, pitch_diameter: float,
                        contact_angle_deg: float = 0.0) -> dict[str, float]:
    """Fault frequencies per unit shaft rate from a bearing's geometry (outer race fixed):
    ball pass outer and inner race, ball spin (1x: a defect striking both races shows at 2x)
    and cage (fundamental train). Diameters in any one unit."""
    n, d, pd_ = int(n_elements), float(ball_diameter), float(pitch_diameter)
    angle = float(contact_angle_deg)
    if not (n >= 1 and 0 < d < pd_ and np.isfinite(pd_) and 0 <= angle < 90):
        raise ASDError(f"The bearing geometry is not usable ({n} elements, ball {d:g}, pitch "
                       f"{pd_:g}, contact angle {angle:g} deg): give at least one element, a "
                       "ball diameter above 0 and below the pitch diameter, and an angle 0-90.")
    ratio = d / pd_ * np.cos(np.radians(angle))
    return {"BPFO": n / 2 * (1 - ratio), "BPFI": n / 2 * (1 + ratio),
            "BSF": pd_ / (2 * d) * (1 - ratio ** 2), "FTF": 0.5 * (1 - ratio)}


def fault_bands(shaft_hz: float, multipliers: dict[str, float], n_harmonics: int = 3,
                n_sidebands: int = 1, width: float = 0.02) -> list[dict]:
    """Bands around each fault frequency's harmonics and their shaft-rate sidebands.

    One row per line: ``line`` (BPFO ...), ``harmonic``, ``sideband`` (0: the line itself,
    -1/+1 ...: shaft rate below/above; the cage, FTF, has none), ``centre``, ``low``, ``high``
    (``centre -+ width * centre``, at least a tenth of the shaft rate each side).
    """
    if not (np.isfinite(shaft_hz) and shaft_hz > 0):
        raise ASDError(f"The shaft speed {shaft_hz:g} Hz is not usable: give a rate above 0.")
    rows = []
    for line, multiplier in multipliers.items():
        sidebands = 0 if line == "FTF" else n_sidebands
        for harmonic in range(1, n_harmonics + 1):
            for sideband in range(-sidebands, sidebands + 1):
                centre = harmonic * multiplier * shaft_hz + sideband * shaft_hz
                if centre <= 0:
                    continue
                half = max(width * centre, 0.1 * shaft_hz)
                rows.append({"line": line, "harmonic": harmonic, "sideband": sideband,
                             "centre": centre, "low": centre - half, "high": centre + half})
    return rows


def fault_band_metrics(spectrum: np.ndarray, freqs: np.ndarray, bands: list[dict]
                       ) -> list[dict]:
    """`band_metrics` of a linear magnitude (envelope) spectrum in each of `fault_bands`' bands
    within the spectrum, with the band's share of the spectrum's total power (as MATLAB's
    faultBandMetrics)."""
    freqs = np.asarray(freqs)
    total = float(np.sum(np.asarray(spectrum, dtype=np.float64) ** 2)) or _TINY
    rows = []
    for band in bands:
        if band["low"] < freqs[0] or band["high"] > freqs[-1]:
            continue
        figures = band_metrics(spectrum, freqs, (band["low"], band["high"]), "magnitude")
        power = 10.0 ** (figures["band_power"] / 10.0)
        rows.append({**band, **figures, "power_share": power / total})
    return rows

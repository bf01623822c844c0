"""Signal building blocks of the synthetic machines: rotations, harmonic series, impulse
trains, resonances, coloured noise, envelopes. All work at SAMPLE_RATE on float64 arrays."""

from __future__ import annotations

import numpy as np
from scipy import signal

SAMPLE_RATE = 16_000


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

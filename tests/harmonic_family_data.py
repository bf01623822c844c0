"""A small machine dataset whose envelope lines are one harmonic family at several speeds, each
clip's strongest line a different member (shaft rate, vane-pass at five times it, its second
harmonic): what makes a clip-by-clip strongest-line estimate split every speed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

SR = 16000
SPEEDS = (21.0, 26.5, 31.0, 37.5)  # shaft rates, Hz; no two a whole multiple of each other
MEMBERS = (1, 5, 10)  # harmonic numbers of the family: shaft, vane pass, its second harmonic
CARRIER = 3000.0  # the resonance the impacts excite


def clip(speed: float, strongest: int, rng: np.random.Generator, seconds: float = 4.0,
         sr: int = SR, carrier: float = CARRIER) -> np.ndarray:
    """Noise around a resonance, struck by pulse trains at the family's rates (``strongest``
    four times the others), in white noise; the speed drifts by up to 0.5 % from clip to clip.
    """
    t = np.arange(round(seconds * sr)) / sr
    f0 = speed * (1 + rng.uniform(-0.005, 0.005))
    pulses = sum((1.0 if n == strongest else 0.25)
                 * (0.5 + 0.5 * np.cos(2 * np.pi * n * f0 * t + rng.uniform(0, 6))) ** 16
                 for n in MEMBERS)
    resonance = scipy.signal.butter(4, [carrier - 300, carrier + 300], btype="bandpass",
                                    fs=sr, output="sos")
    ringing = scipy.signal.sosfilt(resonance, rng.standard_normal(len(t)))
    return (0.5 * pulses * ringing + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def write_machine(root: Path, machine: str = "pump", clips_per_speed: int = 9,
                  seed: int = 0, speeds: tuple[float, ...] = SPEEDS, sr: int = SR,
                  carrier: float = CARRIER) -> dict[str, str]:
    """Write ``root/<machine>/train/section_00_source_train_normal_NNNN_.wav`` clips (attribute
    free names) and return file -> speed class, the hidden truth."""
    rng = np.random.default_rng(seed)
    folder = root / machine / "train"
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for s, speed in enumerate(speeds):
        for i in range(clips_per_speed):
            name = f"section_00_source_train_normal_{s * clips_per_speed + i:04d}_.wav"
            sf.write(folder / name, clip(speed, MEMBERS[i % len(MEMBERS)], rng, sr=sr,
                                         carrier=carrier), sr)
            truth[f"{machine}/train/{name}"] = f"speed{speed:g}"
    return truth

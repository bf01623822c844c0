"""Audio in: decode a file to a float32 mono array at the project rate, and fit it to a length.

`load` is the only function here that touches the disk; the others are array in, array out.
DCASE clips are 16 kHz 16-bit mono, but users bring anything soundfile reads (any PCM width,
float WAV, FLAC, stereo 2026 recordings, other rates), so decoding is lenient and every failure
becomes one `ASDError` sentence naming the file.
"""

from __future__ import annotations

import math
import os

import numpy as np
import soundfile as sf
import soxr

from asdcore.errors import ASDError

SAMPLE_RATE = 16000
MAX_SECONDS = 600.0  # refuse longer files: a whole decoded recording must fit in memory
_BLOCK_FRAMES = 1 << 16  # multichannel files are read in blocks so only one channel is kept


def load(path: str | os.PathLike, sr: int = SAMPLE_RATE, channel: int = 0,
         seconds: float | None = None, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Decode ``path`` to a float32 mono array at ``sr``.

    Takes ``channel`` of a multichannel file (0, the near microphone, for the stereo 2026 data),
    resamples other rates with soxr and replaces NaN/Inf samples by 0. With ``seconds`` only that
    many seconds from the start are read (any file length is fine); without it, files longer than
    ``max_seconds`` are refused so a stray hour-long recording cannot exhaust memory.
    """
    try:
        with sf.SoundFile(path) as f:
            file_sr, n_channels, n_frames = f.samplerate, f.channels, f.frames
            if not 0 <= channel < n_channels:
                raise ASDError(f"Cannot read {path}: it has {n_channels} channel(s), "
                               f"so there is no channel {channel}.")
            if seconds is not None:
                n_frames = min(n_frames, math.ceil(seconds * file_sr))
            elif n_frames > max_seconds * file_sr:
                raise ASDError(f"Cannot read {path}: it is {n_frames / file_sr:.0f} s long, "
                               f"more than the {max_seconds:.0f} s limit.")
            y = _read_channel(f, n_frames, channel)
    except (sf.LibsndfileError, OSError, RuntimeError, ValueError, TypeError) as exc:
        raise ASDError(f"Cannot read {path}: {_reason(path, exc)}.") from exc
    if y.size == 0:
        raise ASDError(f"Cannot read {path}: it holds no audio samples.")
    if not np.isfinite(y).all():
        np.nan_to_num(y, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return resample(y, file_sr, sr)


def resample(y: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """``y`` resampled from ``sr_from`` to ``sr_to`` (soxr high quality), float32."""
    if sr_from == sr_to:
        return y
    return soxr.resample(y, sr_from, sr_to).astype(np.float32, copy=False)


def fit_length(y: np.ndarray, n_samples: int) -> np.ndarray:
    """``y`` repeated end to end (short clips) or cropped (long clips) to ``n_samples``.

    Repeating rather than zero-padding is what the seed system does: a machine sound stays
    stationary, so a repeated clip looks like a longer recording to the model. Empty -> zeros.
    """
    if y.size == 0:
        return np.zeros(n_samples, dtype=np.float32)
    if y.size >= n_samples:
        return y[:n_samples]
    return np.tile(y, -(-n_samples // y.size))[:n_samples]


def load_clip(path: str | os.PathLike, sr: int = SAMPLE_RATE,
              seconds: float = 10.0) -> np.ndarray:
    """The first ``seconds`` of ``path`` (channel 0, at ``sr``), repeated to exactly that length.

    Reads only the frames it needs, so it is cheap and bounded even for very long files.
    """
    return fit_length(load(path, sr, seconds=seconds), round(seconds * sr))


def _read_channel(f: sf.SoundFile, n_frames: int, channel: int) -> np.ndarray:
    if f.channels == 1:
        return f.read(n_frames, dtype="float32")
    y = np.empty(n_frames, dtype=np.float32)
    done = 0
    while done < n_frames:
        block = f.read(min(_BLOCK_FRAMES, n_frames - done), dtype="float32", always_2d=True)
        if len(block) == 0:  # truncated file: fewer frames than its header claims
            break
        y[done:done + len(block)] = block[:, channel]
        done += len(block)
    return y[:done]


def _reason(path, exc: Exception) -> str:
    """The short cause of a decoding failure, without soundfile's repetition of the path."""
    if not os.path.exists(path):
        return "no such file"
    if os.path.isdir(path):
        return "it is a folder"
    if os.path.getsize(path) == 0:
        return "the file is empty"
    reason = (getattr(exc, "error_string", None) or str(exc) or type(exc).__name__).strip()
    reason = reason.rstrip(".")
    return reason[:1].lower() + reason[1:]

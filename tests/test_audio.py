"""audio.load / fit_length / load_clip on a small corpus of formats written by soundfile."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from asdcore import audio
from asdcore.errors import ASDError

SR = 16000


def tone(freq: float, seconds: float, sr: int = SR, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spectrum)])


def test_mono_pcm16_roundtrip(tmp_path):
    y = tone(440, 1.0)
    sf.write(tmp_path / "a.wav", y, SR, subtype="PCM_16")
    loaded = audio.load(tmp_path / "a.wav")
    assert loaded.dtype == np.float32 and loaded.shape == y.shape
    np.testing.assert_allclose(loaded, y, atol=1 / 32768)


@pytest.mark.parametrize("subtype, fmt, tol", [
    ("PCM_U8", "WAV", 1 / 128), ("PCM_24", "WAV", 1e-6), ("PCM_32", "WAV", 1e-6),
    ("FLOAT", "WAV", 0.0), ("PCM_16", "FLAC", 1 / 32768),
])
def test_sample_formats(tmp_path, subtype, fmt, tol):
    y = tone(440, 0.5)
    path = tmp_path / f"a.{fmt.lower()}"
    sf.write(path, y, SR, subtype=subtype, format=fmt)
    loaded = audio.load(path)
    assert loaded.dtype == np.float32
    np.testing.assert_allclose(loaded, y, atol=tol + 1e-7)


def test_stereo_takes_channel_0_unless_asked(tmp_path):
    near, far = tone(300, 0.5), tone(1200, 0.5, amplitude=0.1)
    # More frames than one read block, so the blockwise channel copy is exercised.
    near, far = np.tile(near, 20), np.tile(far, 20)
    sf.write(tmp_path / "s.wav", np.stack([near, far], axis=1), SR, subtype="FLOAT")
    np.testing.assert_array_equal(audio.load(tmp_path / "s.wav"), near)
    np.testing.assert_array_equal(audio.load(tmp_path / "s.wav", channel=1), far)
    with pytest.raises(ASDError, match="no channel 2"):
        audio.load(tmp_path / "s.wav", channel=2)


def test_44k1_is_resampled_keeping_length_and_pitch(tmp_path):
    sf.write(tmp_path / "hi.wav", tone(1000, 2.0, sr=44100), 44100, subtype="PCM_16")
    loaded = audio.load(tmp_path / "hi.wav")
    assert abs(len(loaded) - 2 * SR) <= 1
    assert dominant_frequency(loaded, SR) == pytest.approx(1000, abs=1)


def test_silence_and_non_finite_samples(tmp_path):
    sf.write(tmp_path / "silence.wav", np.zeros(SR, np.float32), SR, subtype="PCM_16")
    assert not audio.load(tmp_path / "silence.wav").any()
    y = tone(440, 0.1)
    y[[3, 10, 20]] = [np.nan, np.inf, -np.inf]
    sf.write(tmp_path / "nan.wav", y, SR, subtype="FLOAT")
    loaded = audio.load(tmp_path / "nan.wav")
    assert np.isfinite(loaded).all()
    assert loaded[[3, 10, 20]].tolist() == [0, 0, 0]
    assert loaded[4] == y[4]


@pytest.mark.parametrize("make", ["missing", "empty", "text", "no_samples", "truncated_header",
                                  "folder"])
def test_unreadable_files_raise_asderror_naming_the_file(tmp_path, make):
    path = tmp_path / f"{make}.wav"
    if make == "empty":
        path.write_bytes(b"")
    elif make == "text":
        path.write_text("this is not audio\n" * 50)
    elif make == "no_samples":
        sf.write(path, np.zeros(0, np.float32), SR)
    elif make == "truncated_header":
        sf.write(path, tone(440, 0.5), SR)
        path.write_bytes(path.read_bytes()[:30])
    elif make == "folder":
        path.mkdir()
    with pytest.raises(ASDError, match=rf"^Cannot read {path}: .+\.$") as info:
        audio.load(path)
    assert "\n" not in str(info.value)


def test_long_files_are_refused_unless_only_a_prefix_is_read(tmp_path):
    sf.write(tmp_path / "long.wav", np.zeros(30 * SR, np.float32), SR, subtype="PCM_16")
    with pytest.raises(ASDError, match="more than the 20 s limit"):
        audio.load(tmp_path / "long.wav", max_seconds=20)
    assert len(audio.load(tmp_path / "long.wav", seconds=2.0, max_seconds=20)) == 2 * SR


def test_fit_length_repeats_crops_and_fills_empty():
    y = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(audio.fit_length(y, 10), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
    np.testing.assert_array_equal(audio.fit_length(y, 3), [0, 1, 2])
    np.testing.assert_array_equal(audio.fit_length(y, 4), y)
    empty = audio.fit_length(np.zeros(0, np.float32), 5)
    assert empty.dtype == np.float32 and not empty.any() and len(empty) == 5


def test_load_clip_repeats_short_and_crops_long(tmp_path):
    short = tone(440, 3.0)
    sf.write(tmp_path / "short.wav", short, SR, subtype="FLOAT")
    clip = audio.load_clip(tmp_path / "short.wav", seconds=10.0)
    assert clip.shape == (10 * SR,)
    np.testing.assert_array_equal(clip[3 * SR:6 * SR], short)
    sf.write(tmp_path / "long.wav", tone(440, 12.0), SR, subtype="FLOAT")
    assert audio.load_clip(tmp_path / "long.wav", seconds=10.0).shape == (10 * SR,)


def test_load_clip_reads_only_the_frames_it_needs(tmp_path, monkeypatch):
    sf.write(tmp_path / "long.wav", tone(440, 60.0), SR, subtype="PCM_16")
    requested = []
    real_read = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        requested.append(frames)
        return real_read(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    assert len(audio.load_clip(tmp_path / "long.wav", seconds=10.0)) == 10 * SR
    assert sum(requested) == 10 * SR


def test_real_clips_decode(real_samples):
    clips = sorted(real_samples.rglob("*.wav"))[:5]
    assert clips
    for path in clips:
        y = audio.load(path)
        assert y.dtype == np.float32 and y.ndim == 1 and len(y) >= 6 * SR
        assert np.isfinite(y).all() and 0 < np.abs(y).max() <= 1

"""Log-mel numbers against librosa, the high-pass, and `extract` with its feature cache."""

from __future__ import annotations

import sys

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from asdcore import audio, features
from asdcore.errors import ASDError, Cancelled
from asdcore.features import FeatureCache, LogMel, LogMelConfig, extract, logmel

SR = 16000
SHORT = LogMelConfig(seconds=2.0)  # 63 frames: keeps extract tests fast


def noise(seconds: float, seed: int) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(round(seconds * SR))).astype(
        np.float32)


def tone(freq: float, seconds: float) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(round(seconds * SR)) / SR)).astype(
        np.float32)


def librosa_logmel(y: np.ndarray, config: LogMelConfig) -> np.ndarray:
    """The official baseline's front end, with the config's band limits."""
    mel = librosa.feature.melspectrogram(y=y, sr=config.sr, n_fft=config.n_fft,
                                         hop_length=config.hop_length, n_mels=config.n_mels,
                                         fmin=config.fmin, fmax=config.fmax, power=config.power)
    return 20.0 / config.power * np.log10(np.maximum(mel, sys.float_info.epsilon))


@pytest.fixture
def clips(tmp_path):
    """Six 2 s WAV clips of different lengths (one short, one long) and content."""
    paths = []
    for i, seconds in enumerate([2.0, 2.0, 1.3, 3.0, 2.0, 2.0]):
        path = tmp_path / "clips" / f"clip_{i}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, noise(seconds, i) + tone(300 + 100 * i, seconds), SR, subtype="PCM_16")
        paths.append(path)
    return paths


@pytest.mark.filterwarnings("ignore:Empty filters")
@pytest.mark.parametrize("config", [
    LogMelConfig(highpass_hz=None),
    LogMelConfig(highpass_hz=None, fmin=0.0, n_mels=64, power=1.0),
    # More mels than a 256-point FFT resolves: librosa leaves some filters empty.
    LogMelConfig(highpass_hz=None, n_fft=256, hop_length=128, n_mels=96, fmin=0.0),
])
@pytest.mark.slow
def test_matches_librosa_without_highpass(config):
    y = noise(10.0, 0) + tone(1000, 10.0)
    ours = logmel(y, SR, config)
    reference = librosa_logmel(y, config)
    assert ours.shape == reference.shape == (config.n_mels, config.n_frames)
    np.testing.assert_allclose(ours, reference, atol=1e-3)


def test_default_shape_for_10_s_clip():
    assert LogMelConfig().n_frames == 313
    assert logmel(noise(10.0, 1), SR).shape == (128, 313)


def test_highpass_attenuates_100_hz_and_keeps_1_khz():
    full_band = LogMelConfig(fmin=0.0, highpass_hz=None)
    highpassed = LogMelConfig(fmin=0.0, highpass_hz=200.0)
    for freq, expected_drop in [(100.0, 20.0), (1000.0, 0.0)]:
        y = tone(freq, 2.0)
        mel_bin = np.argmax(logmel(y, SR, full_band).mean(axis=1))
        drop = (logmel(y, SR, full_band)[mel_bin] - logmel(y, SR, highpassed)[mel_bin]).mean()
        if expected_drop:
            assert drop > expected_drop  # order 4: about 24 dB one octave below the cutoff
        else:
            assert abs(drop) < 0.01


def test_logmel_equals_module_batch_output():
    config = LogMelConfig(seconds=2.0)
    waves = np.stack([noise(2.0, seed) for seed in range(5)])
    with torch.inference_mode():
        batch = LogMel(config)(torch.from_numpy(waves)).numpy()
    for wave, row in zip(waves, batch, strict=True):
        np.testing.assert_allclose(logmel(wave, SR, config), row, atol=1e-5)


def test_logmel_resamples_other_rates():
    y = audio.resample(noise(2.0, 3), SR, 22050)
    assert logmel(y, 22050).shape == (128, 63)


def test_config_key_is_stable_and_parameter_sensitive():
    assert LogMelConfig().key() == LogMelConfig().key()
    assert len({LogMelConfig().key(), LogMelConfig(n_mels=64).key(),
                LogMelConfig(highpass_hz=None).key()}) == 3


def test_resolve_device():
    assert features.resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert features.resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ASDError, match="CUDA"):
            features.resolve_device("cuda")


def expected_rows(paths, config):
    return np.stack([logmel(audio.load_clip(p, config.sr, config.seconds), SR, config)
                     for p in paths])


def test_extract_matches_per_clip_computation(clips):
    out = extract(clips, SHORT, device="cpu", batch_size=4, cache=False)
    assert out.shape == (len(clips), 128, 63) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected_rows(clips, SHORT), atol=1e-4)


def test_extract_progress_and_cancel(clips):
    calls = []
    extract(clips, SHORT, batch_size=4, cache=False,
            progress=lambda done, total, msg="": calls.append((done, total)))
    assert calls == [(4, 6), (6, 6)]
    with pytest.raises(Cancelled):
        extract(clips, SHORT, batch_size=2, cache=False, cancel=lambda: True)


def test_extract_names_an_unreadable_file(clips, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 100)
    for cache in (False, True):
        with pytest.raises(ASDError, match=f"Cannot read {bad}"):
            extract([*clips[:3], bad], SHORT, batch_size=2, cache=cache)


def forbid_decoding(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("decoded although the cache should have answered")

    monkeypatch.setattr(audio, "load_clip", fail)


def test_cache_hit_skips_decoding_and_returns_identical_array(clips, monkeypatch):
    first = extract(clips, SHORT, batch_size=4)
    forbid_decoding(monkeypatch)
    np.testing.assert_array_equal(extract(clips, SHORT, batch_size=4), first)


def test_cache_is_keyed_by_content_and_config(clips, tmp_path, monkeypatch):
    extract(clips[:1], SHORT)
    copy = tmp_path / "elsewhere" / "renamed.wav"
    copy.parent.mkdir()
    copy.write_bytes(clips[0].read_bytes())
    store = FeatureCache(SHORT)
    assert store.get(store.content_key(copy)) is not None  # same bytes, other path: a hit

    sf.write(copy, noise(2.0, 99), SR, subtype="PCM_16")  # changed bytes: a miss
    assert store.get(store.content_key(copy)) is None
    other_config = LogMelConfig(seconds=2.0, n_mels=64)
    assert FeatureCache(other_config).root != store.root
    assert FeatureCache(other_config).get(store.content_key(clips[0])) is None

    forbid_decoding(monkeypatch)
    with pytest.raises(AssertionError, match="decoded"):
        extract([copy], SHORT)


def assert_recomputed(features, reference):
    """Recomputed features equal the cached ones up to float rounding: on CUDA the FFT and
    matrix kernels depend on the batch size (seen as 4e-6 differences on an H200)."""
    np.testing.assert_allclose(features, reference, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_corrupt_cache_entry_is_detected_and_rebuilt(clips, damage):
    reference = extract(clips[:2], SHORT)
    store = FeatureCache(SHORT)
    entry = store.entry_path(store.content_key(clips[0]))
    data = bytearray(entry.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[1000] ^= 0xFF
    else:
        data = bytearray()
    entry.write_bytes(bytes(data))
    assert store.get(store.content_key(clips[0])) is None  # detected, deleted
    assert not entry.exists()
    entry.write_bytes(bytes(data))
    assert_recomputed(extract(clips[:2], SHORT), reference)  # rebuilt
    assert entry.read_bytes() != bytes(data)
    assert_recomputed(store.get(store.content_key(clips[0])), reference[0])


def test_cache_folder_can_be_deleted(clips):
    import shutil

    reference = extract(clips[:2], SHORT)
    shutil.rmtree(FeatureCache(SHORT).root)
    assert_recomputed(extract(clips[:2], SHORT), reference)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_matches_cpu(clips):
    cpu = extract(clips, SHORT, device="cpu", cache=False)
    cuda = extract(clips, SHORT, device="cuda", cache=False)
    # Same code; only the FFT and matmul libraries differ. Compare where the signal is well
    # above the log floor.
    np.testing.assert_allclose(cuda, cpu, atol=1e-2)


def test_real_clip_logmel(real_samples):
    path = sorted(real_samples.rglob("*.wav"))[0]
    out = extract([path], LogMelConfig(), cache=False)
    assert out.shape == (1, 128, 313)
    assert np.isfinite(out).all() and out.std() > 1.0

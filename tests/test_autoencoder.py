"""The official DCASE AE baseline (asdcore.models.autoencoder) on tiny synthetic log-mels."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from asdcore import features, scoring
from asdcore.errors import ASDError, Cancelled
from asdcore.metrics import gamma_threshold
from asdcore.models import MODELS, get_model_class
from asdcore.models.autoencoder import (
    AEConfig,
    AENet,
    AutoencoderDetector,
    feature_config,
    frame_vectors,
    train_autoencoder,
    train_machine,
)

N_MELS = 128
N_TIME = 40  # frames per synthetic clip -> 36 vectors
MELS = np.arange(N_MELS)


def _spectrum(peaks):
    """A smooth spectrum with Gaussian peaks ``(centre, width, height)`` over a slope.

    Levels stay within a few units of zero: the baseline does not normalise its input, and a
    few hundred steps at lr 1e-3 cannot learn the offset of real dB levels (-60 and below).
    """
    shape = -0.02 * MELS
    for centre, width, height in peaks:
        shape = shape + height * np.exp(-0.5 * ((MELS - centre) / width) ** 2)
    return shape


SOURCE = _spectrum([(30, 4, 8), (80, 8, 5)])
TARGET = _spectrum([(45, 4, 8), (80, 8, 5)])


def _clips(rng, spectrum, n_clips, n_time=N_TIME, shift=0):
    """Clips of ``spectrum`` (rolled by ``shift`` mel bins) with a slow gain swing and noise."""
    time = np.arange(n_time)
    phase = rng.uniform(0, 2 * np.pi, size=(n_clips, 1, 1))
    gain = 2.0 * np.sin(2 * np.pi * time / 16 + phase)  # [clips, 1, T]
    noise = rng.normal(0.0, 0.3, size=(n_clips, N_MELS, n_time))
    return (np.roll(spectrum, shift)[None, :, None] + gain + noise).astype(np.float32)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny matrices: one thread is several times faster than two on a shared, busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _small_config(**changes):
    base = AEConfig(epochs=8, batch_size=64, seed=0, device="cpu")
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def train_data():
    rng = np.random.default_rng(0)
    logmels = np.concatenate([_clips(rng, SOURCE, 40), _clips(rng, TARGET, 4)])
    domains = ["source"] * 40 + ["target"] * 4
    return logmels, domains


@pytest.fixture(scope="module")
def detector(train_data):
    logmels, domains = train_data
    return train_machine(logmels, domains, _small_config())


@pytest.fixture(scope="module")
def test_clips():
    rng = np.random.default_rng(1)
    normal = np.concatenate([_clips(rng, SOURCE, 10), _clips(rng, TARGET, 10)])
    anomalous = np.concatenate([_clips(rng, SOURCE, 10, shift=6), _clips(rng, TARGET, 10, shift=6)])
    return normal, anomalous


def test_registry_finds_the_autoencoder_and_its_config_round_trips_through_json():
    assert MODELS["ae"] is AutoencoderDetector
    assert get_model_class("ae") is AutoencoderDetector
    assert AutoencoderDetector.config_class is AEConfig
    with pytest.raises(ASDError, match="Unknown model"):
        get_model_class("nope")
    config = AEConfig(epochs=3, score_mode="mahalanobis")
    assert AEConfig.from_dict(json.loads(json.dumps(dataclasses.asdict(config)))) == config
    with pytest.raises(ASDError):
        AEConfig.from_dict({"epochs": 3, "colour": "red"})
    with pytest.raises(ASDError):
        AEConfig(score_mode="loudness")


def test_network_matches_the_baseline_layer_by_layer():
    net = AENet()
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    dims = [(m.in_features, m.out_features) for m in linears]
    assert dims == [(640, 128), (128, 128), (128, 128), (128, 128), (128, 8),
                    (8, 128), (128, 128), (128, 128), (128, 128), (128, 640)]

    # BatchNorm + ReLU after every Linear but the last (the 8-d bottleneck included).
    layers = list(net.encoder) + list(net.decoder)
    for i, layer in enumerate(layers[:-1]):
        if isinstance(layer, nn.Linear):
            norm, act = layers[i + 1], layers[i + 2]
            assert isinstance(norm, nn.BatchNorm1d) and isinstance(act, nn.ReLU)
            assert norm.num_features == layer.out_features
            assert norm.momentum == 0.01 and norm.eps == 1e-3
    assert isinstance(layers[-1], nn.Linear)

    linear = lambda i, o: i * o + o  # noqa: E731  weights + biases
    norm = lambda n: 2 * n  # noqa: E731  scale + shift
    expected = (linear(640, 128) + norm(128) + 3 * (linear(128, 128) + norm(128))
                + linear(128, 8) + norm(8)
                + linear(8, 128) + norm(128) + 3 * (linear(128, 128) + norm(128))
                + linear(128, 640))
    assert expected == 267_928
    assert sum(p.numel() for p in net.parameters()) == expected

    net.eval()
    x = torch.randn(7, 640)
    assert net(x).shape == (7, 640)
    assert net.encoder(x).shape == (7, 8)


def test_frame_vectors_match_a_naive_loop():
    logmel = np.random.default_rng(0).normal(size=(N_MELS, 20)).astype(np.float32)
    vectors = frame_vectors(logmel, n_frames=5)
    naive = np.stack([np.concatenate([logmel[:, i + t] for t in range(5)]) for i in range(16)])
    assert vectors.shape == (16, 640)
    np.testing.assert_array_equal(vectors, naive)
    # The baseline's own fill order (loader_common.file_to_vectors): block t <- frames t..t+V-1.
    baseline = np.zeros((16, 640), dtype=np.float32)
    for t in range(5):
        baseline[:, N_MELS * t:N_MELS * (t + 1)] = logmel[:, t:t + 16].T
    np.testing.assert_array_equal(vectors, baseline)
    # A 10 s clip at hop 512 (313 frames) gives the baseline's 309 vectors.
    assert frame_vectors(np.zeros((N_MELS, 313)), 5).shape == (309, 640)
    with pytest.raises(ASDError):
        frame_vectors(np.zeros((N_MELS, 4)), 5)


def test_feature_config_is_the_baselines_front_end():
    config = feature_config(10.0)
    assert (config.n_mels, config.n_fft, config.hop_length, config.power) == (128, 1024, 512, 2.0)
    assert (config.fmin, config.fmax, config.highpass_hz) == (0.0, 8000.0, None)
    wave = np.sin(2 * np.pi * 1000 * np.arange(160_000) / 16_000).astype(np.float32)
    logmel = features.logmel(wave, 16_000, config)
    assert logmel.shape == (128, 313)
    assert frame_vectors(logmel).shape == (309, 640)


def test_training_reduces_the_loss(detector):
    train, val = detector.history_["train_loss"], detector.history_["val_loss"]
    assert len(train) == len(val) == 8
    assert train[-1] < 0.5 * train[0]
    assert val[-1] < 0.5 * val[0]


def test_anomalies_score_higher_than_normal_clips_in_both_modes(detector, test_clips):
    normal, anomalous = test_clips
    labels = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))]
    normal_scores = detector.scores_by_mode(normal)
    anomalous_scores = detector.scores_by_mode(anomalous)
    for mode in ("mse", "mahalanobis"):
        scores = np.r_[normal_scores[mode], anomalous_scores[mode]]
        assert roc_auc_score(labels, scores) > 0.95, mode
        np.testing.assert_allclose(detector.decision_function(normal, mode=mode),
                                   normal_scores[mode])


def test_scores_equal_the_baseline_formulas(detector, test_clips):
    """The baseline scores a clip (all its vectors in one batch) as follows."""
    clip = test_clips[1][0]
    x = torch.from_numpy(frame_vectors(clip))
    with torch.no_grad():
        recon = detector.network_(x)
    mse = torch.nn.functional.mse_loss(recon, x, reduction="none").mean()
    # mahala.py: delta = recon.view(-1, 128) - x.view(-1, 128); mean of delta P delta^T.
    delta = (recon - x).reshape(-1, N_MELS).double()
    mahalanobis = min(float((delta @ detector.inv_cov_[d] @ delta.T).mean())
                      for d in ("source", "target"))
    scores = detector.scores_by_mode(clip[None])
    np.testing.assert_allclose(scores["mse"], [float(mse)], rtol=1e-5)
    np.testing.assert_allclose(scores["mahalanobis"], [mahalanobis], rtol=1e-6)


def test_training_scores_and_default_mode(detector, train_data):
    logmels, _ = train_data
    assert set(detector.training_scores_) == {"mse", "mahalanobis"}
    assert all(len(s) == len(logmels) for s in detector.training_scores_.values())
    assert detector.n_clips_ == {"source": 40, "target": 4}
    np.testing.assert_allclose(detector.decision_function(logmels[:5]),
                               detector.training_scores_["mse"][:5], rtol=1e-6)
    with pytest.raises(ASDError, match="score mode"):
        detector.decision_function(logmels[:2], mode="loudness")
    with pytest.raises(ASDError, match="mel bands"):
        detector.decision_function(logmels[:2, :64])


def test_save_and_load_give_identical_scores(detector, test_clips, tmp_path):
    normal, anomalous = test_clips
    clips = np.concatenate([normal[:3], anomalous[:3]])
    detector.save(tmp_path / "ae")
    assert isinstance(torch.load(tmp_path / "ae" / "weights.pt", weights_only=True), dict)
    loaded = AutoencoderDetector.load(tmp_path / "ae")
    assert loaded.config == detector.config
    assert loaded.history_ == detector.history_
    assert loaded.n_clips_ == detector.n_clips_
    for mode, scores in detector.scores_by_mode(clips).items():
        np.testing.assert_array_equal(loaded.decision_function(clips, mode=mode), scores)
        np.testing.assert_array_equal(loaded.training_scores_[mode],
                                      detector.training_scores_[mode])
    with pytest.raises(ASDError, match="No saved autoencoder"):
        AutoencoderDetector.load(tmp_path / "missing")


def test_threshold_and_training_scores_have_the_scorers_shapes(detector, train_data):
    """Like a fitted scorer: one training score per clip (in the config's mode) and one
    threshold, the gamma threshold of those scores; `with_mode` switches both."""
    logmels, domains = train_data
    scorer = scoring.make_scorer("knn").fit(logmels.mean(axis=2), domains)
    assert detector.decision_scores_.shape == scorer.decision_scores_.shape == (len(logmels),)
    assert np.ndim(detector.threshold_) == np.ndim(scorer.threshold_) == 0
    for mode in AutoencoderDetector.backends:
        in_mode = detector.with_mode(mode)
        np.testing.assert_array_equal(in_mode.decision_scores_, detector.training_scores_[mode])
        assert in_mode.threshold_ == gamma_threshold(detector.training_scores_[mode])
        np.testing.assert_allclose(in_mode.decision_function(logmels[:3]),
                                   detector.decision_function(logmels[:3], mode=mode))
    assert detector.config.score_mode == "mse"  # the original keeps its mode
    assert detector.with_mode("mahalanobis").threshold_ != detector.threshold_
    with pytest.raises(ASDError, match="score mode"):
        detector.with_mode("loudness")
    with pytest.raises(ASDError, match="not been trained"):
        AutoencoderDetector().decision_scores_  # noqa: B018


def test_same_seed_same_model_on_cpu(train_data):
    logmels, domains = train_data[0][:12], train_data[1][:12]
    config = _small_config(epochs=2)
    first = train_machine(logmels, domains, config)
    second = train_machine(logmels, domains, config)
    other = train_machine(logmels, domains, dataclasses.replace(config, seed=1))
    for key, value in first.network_.state_dict().items():
        assert torch.equal(value, second.network_.state_dict()[key]), key
    assert first.history_ == second.history_
    assert first.history_ != other.history_


def test_progress_per_epoch_and_cancel_between_batches(train_data):
    logmels = train_data[0][:6]
    calls = []
    train_autoencoder(logmels, _small_config(epochs=2),
                      progress=lambda done, total, msg: calls.append((done, total, msg)))
    assert [(d, t) for d, t, _ in calls] == [(1, 2), (2, 2)]
    assert "train loss" in calls[-1][2] and "val loss" in calls[-1][2]

    polls = []

    def cancel_on_third_poll():
        polls.append(1)
        return len(polls) >= 3

    with pytest.raises(Cancelled):
        train_autoencoder(logmels, _small_config(epochs=2), cancel=cancel_on_third_poll)
    assert len(polls) == 3


def test_thin_or_missing_target_domain_still_scores(train_data):
    logmels = train_data[0][:8]
    rng = np.random.default_rng(2)
    # One 6-frame target clip: 2 vectors = 10 residual blocks for a 128-d covariance.
    short = np.concatenate([logmels[:, :, :6], _clips(rng, TARGET, 1, n_time=6)])
    thin = train_machine(short, ["source"] * 8 + ["target"], _small_config(epochs=1))
    assert all(np.isfinite(s).all() for s in thin.training_scores_.values())
    assert np.isfinite(thin.inv_cov_["target"].numpy()).all()

    source_only = train_machine(logmels, None, _small_config(epochs=1))
    assert torch.equal(source_only.inv_cov_["target"], source_only.inv_cov_["source"])
    assert source_only.n_clips_ == {"source": 8, "target": 0}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_and_scoring(train_data, test_clips):
    logmels, domains = train_data
    detector = train_machine(logmels, domains, _small_config(device="cuda"))
    assert detector.device.type == "cuda"
    normal, anomalous = test_clips
    labels = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))]
    for mode in ("mse", "mahalanobis"):
        scores = np.r_[detector.decision_function(normal, mode),
                       detector.decision_function(anomalous, mode)]
        assert roc_auc_score(labels, scores) > 0.95, mode

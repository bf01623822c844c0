"""The training-free baseline: per-band mean and standard deviation of the seed front end's
log-mel spectrogram as a clip embedding, scored by any embedding scorer (KNN variants,
Mahalanobis). Nothing is learned, so it is the floor every trained model must beat.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

import numpy as np

from asdcore.configs import Config
from asdcore.features import LogMelConfig
from asdcore.models.base import Embedder, embedding_backends
from asdcore.models.saved import read_model_json, write_model_json


@dataclasses.dataclass(frozen=True)
class LogMelStatsConfig(Config):
    what: ClassVar[str] = "log-mel statistics"

    seconds: float = 10.0  # the seed front end: clips repeated or cropped to 10 s
    n_mels: int = 128
    highpass_hz: float | None = 200.0


class LogMelStatsEmbedder(Embedder):
    """Embedding = [mean over time, std over time] of each mel band (2 x n_mels values)."""

    name = "logmel-stats"
    config_class = LogMelStatsConfig
    backends = embedding_backends("knn-dg")
    description = "training-free: log-mel statistics scored by nearest neighbours (seconds)"

    def feature_config(self, clip_seconds: float) -> LogMelConfig:
        return LogMelConfig(seconds=self.config.seconds, n_mels=self.config.n_mels,
                            highpass_hz=self.config.highpass_hz)

    def fit(self, logmels: np.ndarray, domains=None, progress=None, cancel=None):
        return self  # nothing to learn

    def embed(self, logmels: np.ndarray, progress=None, cancel=None) -> np.ndarray:
        logmels = np.asarray(logmels, dtype=np.float32)
        return np.concatenate([logmels.mean(axis=2), logmels.std(axis=2)], axis=1)

    def save(self, directory: str | Path) -> Path:
        write_model_json(directory, self)
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path, device: str | None = None) -> LogMelStatsEmbedder:
        _, config = read_model_json(directory, cls, "log-mel statistics model")
        return cls(config)

"""The interface every model implements (in the manner of PyOD's ``BaseDetector``).

Class attributes, defined by every registered model (`asdcore.models` checks them on import):

- ``name``: the registry name; ``description``: one line for the Training page;
- ``kind``: ``"detector"`` (scores clips itself) or ``"embedder"`` (maps clips to embeddings
  that a scorer from `asdcore.scoring` turns into anomaly scores);
- ``config_class``: a `asdcore.configs.Config` dataclass, saved with every run;
- ``trains_jointly``: True for a model trained once on every machine (its classes span
  machines), False for one model per machine type;
- ``backends``: the score backends it supports, its default first (a detector's own modes,
  or embedding scorers);
- ``demo_settings``: config values it starts from on the demo preset (measured best there).

Which training and scoring methods a model has follows from ``kind`` and ``trains_jointly``,
through the three bases below: `Detector` (per machine, ``fit`` + ``decision_function``),
`Embedder` (per machine, ``fit`` + ``embed``) and `JointEmbedder` (all machines, ``fit_clips``
+ ``embed_clips``). Every model has ``feature_config``, ``save`` and ``load``.
"""

from __future__ import annotations

import abc
import copy
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from asdcore import scoring
from asdcore.configs import Config
from asdcore.errors import ASDError
from asdcore.features import LogMelConfig
from asdcore.metrics import gamma_threshold
from asdcore.progress import CancelFn, ProgressFn

KINDS = ("detector", "embedder")
INTERFACE = ("name", "kind", "config_class", "trains_jointly", "backends", "demo_settings",
             "description")


def embedding_backends(default: str) -> tuple[str, ...]:
    """Every embedding scorer, ``default`` first."""
    return (default, *[name for name in scoring.SCORERS if name != default])


class Model(abc.ABC):
    """What every model has; subclass `Detector`, `Embedder` or `JointEmbedder`."""

    name: ClassVar[str]
    kind: ClassVar[str]
    config_class: ClassVar[type[Config]]
    trains_jointly: ClassVar[bool]
    backends: ClassVar[tuple[str, ...]]
    demo_settings: ClassVar[dict] = {}
    description: ClassVar[str]

    def __init__(self, config: Config | None = None):
        self.config = config if config is not None else self.config_class()

    @abc.abstractmethod
    def feature_config(self, clip_seconds: float | None) -> LogMelConfig:
        """The log-mel front end for clips of ``clip_seconds`` (the machine's clip length)."""

    @abc.abstractmethod
    def save(self, directory: str | Path) -> Path:
        """Write the fitted model into ``directory`` (a ``model.json`` and its weights)."""

    @classmethod
    @abc.abstractmethod
    def load(cls, directory: str | Path, device: str | None = None) -> Model:
        """Read a model written by `save`; ``device`` overrides the saved config's."""

    def cell_errors(self, logmels: np.ndarray) -> np.ndarray | None:
        """``[clips, n_mels, T]`` error the model itself measures in each log-mel cell (the
        autoencoder's reconstruction error), or None for a model without one: a check then
        compares the log-mels themselves with the nearest normal clips'."""
        return None


class Detector(Model):
    """A per-machine model that scores ``[clips, n_mels, T]`` log-mels itself, in one of its
    ``backends`` (score modes, the config's ``score_mode`` by default). Like the scorers it
    exposes ``decision_scores_`` (training clips' scores, one per clip) and ``threshold_``."""

    kind = "detector"
    trains_jointly = False

    @abc.abstractmethod
    def fit(self, logmels: np.ndarray, domains: Sequence[str] | None = None,
            progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> Detector:
        """Learn one machine's normal clips (``domains``: "source"/"target" each, None: all
        source)."""

    @abc.abstractmethod
    def decision_function(self, logmels: np.ndarray, mode: str | None = None,
                          cancel: CancelFn | None = None) -> np.ndarray:
        """Anomaly score per clip (higher = more anomalous) in ``mode`` (default: the
        config's)."""

    @property
    @abc.abstractmethod
    def decision_scores_(self) -> np.ndarray:
        """The training clips' scores in the config's score mode."""

    @property
    def threshold_(self) -> float:
        """The decision threshold: `gamma_threshold` of ``decision_scores_``."""
        return gamma_threshold(self.decision_scores_)

    def with_mode(self, mode: str) -> Detector:
        """This fitted detector scoring in ``mode`` (its weights shared, not copied)."""
        if mode not in self.backends:
            raise ASDError(f"Unknown score mode {mode!r}; use one of {', '.join(self.backends)}.")
        other = copy.copy(self)
        other.config = dataclasses.replace(self.config, score_mode=mode)
        return other


class Embedder(Model):
    """A per-machine model mapping ``[clips, n_mels, T]`` log-mels to embeddings."""

    kind = "embedder"
    trains_jointly = False

    @abc.abstractmethod
    def fit(self, logmels: np.ndarray, domains: Sequence[str] | None = None,
            progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> Embedder:
        """Learn one machine's normal clips."""

    @abc.abstractmethod
    def embed(self, logmels: np.ndarray, progress: ProgressFn | None = None,
              cancel: CancelFn | None = None) -> np.ndarray:
        """``[clips, dim]`` embeddings."""


class JointEmbedder(Model):
    """A model trained once on every machine's clips that reads the audio files itself.

    Fitted state includes ``machines_`` (the machine types it was trained on)."""

    kind = "embedder"
    trains_jointly = True

    @abc.abstractmethod
    def fit_clips(self, train: pd.DataFrame, supplemental: pd.DataFrame | None = None,
                  pseudo_labels: dict[str, str] | None = None,
                  progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                  checkpoint: str | Path | None = None) -> JointEmbedder:
        """Learn the clip tables' normal clips (+ supplemental ones); ``checkpoint`` is a file
        to save to while training and to resume from."""

    @abc.abstractmethod
    def embed_clips(self, paths: Sequence[str | Path], progress: ProgressFn | None = None,
                    cancel: CancelFn | None = None) -> np.ndarray:
        """``[N, dim]`` embeddings of the audio files ``paths``."""


def check_interface(cls: type) -> None:
    """Raise TypeError unless ``cls`` is a complete model (a programming error, found on
    import): every interface attribute defined and sensible, no abstract method left."""
    missing = [attr for attr in INTERFACE if not hasattr(cls, attr)]
    if missing:
        raise TypeError(f"{cls.__name__} lacks the model attribute(s) {', '.join(missing)}")
    if not issubclass(cls, Model) or getattr(cls, "__abstractmethods__", None):
        raise TypeError(f"{cls.__name__} does not implement the whole model interface")
    if cls.kind not in KINDS or not isinstance(cls.trains_jointly, bool):
        raise TypeError(f"{cls.__name__}: kind must be one of {KINDS}, trains_jointly a bool")
    if not issubclass(cls.config_class, Config) or not dataclasses.is_dataclass(cls.config_class):
        raise TypeError(f"{cls.__name__}: config_class must be a Config dataclass")
    if not cls.backends or not cls.description:
        raise TypeError(f"{cls.__name__}: backends and description must not be empty")
    unknown = set(cls.demo_settings) - set(cls.config_class.known_keys())
    if unknown:
        raise TypeError(f"{cls.__name__}: demo_settings name unknown settings {sorted(unknown)}")

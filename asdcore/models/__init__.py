"""Detection models, found by name.

Every model implements `asdcore.models.base.Model`: the class attributes ``name``, ``kind``
(detector or embedder), ``config_class``, ``trains_jointly``, ``backends`` (the default first),
``demo_settings`` and ``description``, and the methods its base names (`Detector`, `Embedder`
or `JointEmbedder`). Callers (pipeline, command line, pages) ask these, never probe a class.
"""

from __future__ import annotations

from asdcore.errors import ASDError
from asdcore.models.autoencoder import AEConfig, AutoencoderDetector
from asdcore.models.base import Detector, Embedder, JointEmbedder, Model, check_interface
from asdcore.models.logmel_stats import LogMelStatsConfig, LogMelStatsEmbedder
from asdcore.models.seresnet import SEResNetConfig, SEResNetEmbedder

MODELS: dict[str, type[Model]] = {
    cls.name: cls for cls in (AutoencoderDetector, LogMelStatsEmbedder, SEResNetEmbedder)}
for _cls in MODELS.values():
    check_interface(_cls)


def get_model_class(name: str) -> type[Model]:
    """The model class registered as ``name``."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ASDError(f"Unknown model {name!r}; choose one of {known}.") from None


__all__ = ["MODELS", "get_model_class", "Model", "Detector", "Embedder", "JointEmbedder",
           "AEConfig", "AutoencoderDetector", "LogMelStatsConfig", "LogMelStatsEmbedder",
           "SEResNetConfig", "SEResNetEmbedder"]

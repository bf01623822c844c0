"""Detection models, found by name.

Each model class carries its ``name``, its ``config_class`` (a dataclass whose
``dataclasses.asdict`` is saved with every run and whose ``from_dict`` reads it back, so a run
can be rebuilt from its folder alone) and its ``kind``:

- ``"detector"``: scores clips itself (``decision_function(logmels, mode)``, modes in
  ``score_modes``), e.g. the autoencoder;
- ``"embedder"``: maps clips to embeddings (``embed(logmels)``) that an embedding scorer from
  `asdcore.scoring` turns into anomaly scores.

Every class trains one machine type with ``fit(logmels, domains, progress, cancel)``, says which
front end it needs with ``feature_config(clip_seconds)``, and persists with ``save(directory)`` /
``load(directory)``. A class with ``trains_jointly = True`` (the seed model, whose classes span
machines) instead trains once on every machine with ``fit_clips(train, supplemental,
pseudo_labels, progress, cancel, checkpoint)`` and embeds audio files with ``embed_clips(paths)``.
"""

from __future__ import annotations

from asdcore.errors import ASDError
from asdcore.models.autoencoder import AEConfig, AutoencoderDetector
from asdcore.models.logmel_stats import LogMelStatsConfig, LogMelStatsEmbedder
from asdcore.models.seresnet import SEResNetConfig, SEResNetEmbedder

MODELS: dict[str, type] = {
    AutoencoderDetector.name: AutoencoderDetector,
    LogMelStatsEmbedder.name: LogMelStatsEmbedder,
    SEResNetEmbedder.name: SEResNetEmbedder,
}


def get_model_class(name: str) -> type:
    """The model class registered as ``name``."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ASDError(f"Unknown model {name!r}; choose one of {known}.") from None


__all__ = ["MODELS", "get_model_class", "AEConfig", "AutoencoderDetector", "LogMelStatsConfig",
           "LogMelStatsEmbedder", "SEResNetConfig", "SEResNetEmbedder"]

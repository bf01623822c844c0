"""Detection models, found by name.

Each model class carries its ``name`` and its ``config_class``, a dataclass whose
``dataclasses.asdict`` is saved with every run and whose ``from_dict`` reads it back, so a run
can be rebuilt from its folder alone. Every class trains one machine type with
``fit(logmels, domains, progress, cancel)``, scores with ``decision_function`` and persists with
``save(directory)`` / ``load(directory)``.
"""

from __future__ import annotations

from asdcore.errors import ASDError
from asdcore.models.autoencoder import AEConfig, AutoencoderDetector

MODELS: dict[str, type] = {
    AutoencoderDetector.name: AutoencoderDetector,
}


def get_model_class(name: str) -> type:
    """The model class registered as ``name``."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ASDError(f"Unknown model {name!r}; choose one of {known}.") from None


__all__ = ["MODELS", "get_model_class", "AEConfig", "AutoencoderDetector"]

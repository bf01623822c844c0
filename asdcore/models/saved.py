"""The ``model.json`` every saved model folder holds: model name, config, and its extra state."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from asdcore import atomic
from asdcore.errors import ASDError

MODEL_JSON = "model.json"


def write_model_json(directory: str | Path, model, **extra) -> None:
    """Record ``model``'s name and config (and ``extra`` JSON fields) beside its weights."""
    atomic.write_json(Path(directory) / MODEL_JSON, {
        "model": model.name, "config": model.config.to_dict(), **extra})


def read_model_json(directory: str | Path, cls: type, what: str,
                    device: str | None = None) -> tuple[dict, object]:
    """``(meta, config)`` of a folder written for ``cls``; ``device`` overrides the saved one.

    A missing or unreadable file, or a folder of another model, is an `ASDError` naming it.
    """
    path = Path(directory) / MODEL_JSON
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ASDError(f"No saved {what} in {directory} ({MODEL_JSON} is missing).") from None
    except (OSError, ValueError) as err:
        raise ASDError(f"The saved {what} in {directory} cannot be read ({err}).") from None
    if meta.get("model") != cls.name:
        raise ASDError(f"{directory} holds a {meta.get('model')!r} model, not {cls.name!r}.")
    config = cls.config_class.from_saved(meta["config"])
    if device is not None and "device" in config.known_keys():
        config = dataclasses.replace(config, device=device)
    return meta, config

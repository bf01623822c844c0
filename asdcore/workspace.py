"""The user's workspace settings: which dataset the workbench is pointed at.

Settings live in ``workspace/settings.json`` (written atomically). When no dataset is chosen,
the workbench uses the built-in synthetic demo, generated once into ``cache/demo/`` (derived
data: deleting it only costs a regeneration).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from asdcore import atomic
from asdcore.errors import ASDError
from asdcore.paths import cache_dir, workspace_dir

DEFAULT_DEMO_SEED = 0


def settings_path() -> Path:
    return workspace_dir() / "settings.json"


def load_settings() -> dict:
    """The saved settings, or an empty dict when there are none or they cannot be read."""
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_settings(settings: dict) -> None:
    atomic.write_json(settings_path(), settings)


def demo_preset() -> str:
    """The demo preset the app uses: ``demo``, or ``tiny`` when ``ASD_DEMO_PRESET=tiny`` (tests)."""
    preset = os.environ.get("ASD_DEMO_PRESET", "demo")
    if preset not in ("tiny", "demo"):
        raise ASDError(f"ASD_DEMO_PRESET must be 'tiny' or 'demo', not {preset!r}.")
    return preset


def demo_dataset_path(preset: str | None = None, seed: int = DEFAULT_DEMO_SEED) -> Path:
    preset = preset or demo_preset()
    return cache_dir() / "demo" / f"{preset}-seed{seed}"


def demo_ready() -> bool:
    """Whether the app's demo dataset is complete: the manifest of its preset and seed, and
    every clip file at the size the manifest records (file sizes only, never the audio: about
    10 ms for the demo)."""
    from asdcore import synth  # numpy and scipy: only when the demo is asked for

    return synth.is_dataset(demo_dataset_path(), demo_preset(), DEFAULT_DEMO_SEED)


def ensure_demo(progress=None, cancel=None) -> Path:
    """The app's demo dataset, generated when it is missing or not complete, and returned.

    The demo in ``cache/demo/`` is the app's own derived data, so a damaged one is rebuilt
    (`synth.generate` with ``managed``): a missing or unreadable manifest, one of another
    preset or seed, clips missing or truncated. The new one is built beside it and swapped in.
    A folder there that holds files the generator did not write is refused instead (an
    `ASDError` saying so): the app never deletes what it did not make.
    """
    from asdcore import synth

    return synth.generate(demo_dataset_path(), preset=demo_preset(), seed=DEFAULT_DEMO_SEED,
                          progress=progress, cancel=cancel, managed=True)


def chosen_dataset() -> Path | None:
    """The dataset folder the user chose, or None for the built-in demo."""
    path = load_settings().get("dataset")
    return Path(path) if path else None


def choose_dataset(path: str | os.PathLike | None) -> None:
    """Remember ``path`` as the dataset (None: back to the demo); the path must be a folder."""
    settings = load_settings()
    if path is None:
        settings.pop("dataset", None)
    else:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise ASDError(f"{folder} is not a folder.")
        settings["dataset"] = str(folder.resolve())
    save_settings(settings)

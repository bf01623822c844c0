"""Where the derived cache and the user's workspace live.

``cache/`` holds disposable derived data (features, projections, the generated demo); deleting
it costs only time. ``workspace/`` holds the user's work (labels, runs, reports) and is never
deleted by the app. Both default to folders beside the project and can be moved with the
environment variables ``ASD_CACHE_DIR`` and ``ASD_WORKSPACE_DIR`` (the tests do this).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    return Path(os.environ.get("ASD_CACHE_DIR", PROJECT_ROOT / "cache"))


def workspace_dir() -> Path:
    return Path(os.environ.get("ASD_WORKSPACE_DIR", PROJECT_ROOT / "workspace"))

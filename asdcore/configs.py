"""Reading config dataclasses back from JSON (a run's config.json) with clear errors."""

from __future__ import annotations

import dataclasses

from asdcore.errors import ASDError


def checked_fields(config_class: type, data: dict, what: str) -> dict:
    """``data`` checked against ``config_class``'s fields: an unknown key is an `ASDError`
    naming it (a typo in a config must not be silently ignored)."""
    known = {field.name for field in dataclasses.fields(config_class)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ASDError(f"Unknown {what} settings: {', '.join(unknown)}; "
                       f"known: {', '.join(sorted(known))}.")
    return dict(data)

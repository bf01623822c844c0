"""One rule for every config dataclass (the run's and each model's): JSON in, JSON out.

A config class mixes in `Config` and names itself in ``what`` (for messages). ``from_dict``
refuses an unknown key with the list of known ones (a typo must not be silently ignored), maps
the keys of older saved configs through ``renamed`` (the ONE place where a renamed setting is
recorded, old name -> new name, so run folders already on disk keep loading), and turns JSON
lists back into the tuples the fields hold; ``to_dict`` is its exact inverse through JSON.

A field the Training page offers carries a `Setting` in its metadata (`setting`), so a page
renders a model's options from the model's own config, not from a list of its own.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, ClassVar

from asdcore.errors import ASDError

WIDGETS = ("number", "checkbox", "range", "choice")


@dataclasses.dataclass(frozen=True)
class Setting:
    """How a page offers one config field: ``widget`` is a number box, a checkbox, a range
    slider between ``low`` and ``high`` or a choice among ``options``; ``group`` is a heading
    shared by neighbouring fields; ``shown_if`` names checkbox fields of which one must be on
    for this one to matter."""

    label: str
    widget: str
    help: str | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    group: str | None = None
    shown_if: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    def __post_init__(self):
        if self.widget not in WIDGETS:
            raise ValueError(f"widget must be one of {WIDGETS}, not {self.widget!r}")
        if (self.widget == "choice") != bool(self.options):
            raise ValueError("a choice, and only a choice, has options")


def setting(default: Any, label: str, widget: str, **options) -> Any:
    """A dataclass field with ``default`` that a page offers as described by `Setting`."""
    return dataclasses.field(default=default,
                             metadata={"setting": Setting(label, widget, **options)})


def offered_settings(config_class: type) -> list[tuple[dataclasses.Field, Setting]]:
    """The fields of ``config_class`` a page offers, in their declaration order."""
    return [(f, f.metadata["setting"]) for f in dataclasses.fields(config_class)
            if "setting" in f.metadata]


class Config:
    """Mixin of config dataclasses: strict ``from_dict``, ``to_dict``, JSON round trip."""

    what: ClassVar[str] = "config"
    renamed: ClassVar[dict[str, str]] = {}  # old saved key -> current field name
    # Field -> the value a saved config that lacks it was trained with (a setting added, or
    # whose default changed, since): `from_saved` uses it, so saved models reload as they were.
    legacy: ClassVar[dict[str, Any]] = {}

    @classmethod
    def known_keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, data: dict):
        """The config ``data`` describes (e.g. read back from JSON); unknown keys are refused."""
        data = {cls.renamed.get(key, key): value for key, value in data.items()}
        known = cls.known_keys()
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ASDError(f"Unknown {cls.what} settings: {', '.join(unknown)}; "
                           f"known: {', '.join(known)}.")
        hints = typing.get_type_hints(cls)
        for key, value in data.items():
            if typing.get_origin(hints[key]) is tuple and isinstance(value, list):
                data[key] = tuple(value)
        return cls(**data)

    @classmethod
    def from_saved(cls, data: dict):
        """`from_dict` of a config written by this or an older version (a saved model's): a
        ``legacy`` field it lacks takes its legacy value, not today's default. Settings a user
        gives (a few keys) go through `from_dict` and get today's defaults."""
        return cls.from_dict({**cls.legacy, **data})

    def check_new_run(self) -> None:
        """What only a new run needs checked (a folder a setting names exists): `queue_run`
        calls it, loading a saved config does not, so saved runs load when folders move."""

    def to_dict(self) -> dict:
        """Plain JSON-ready values: tuples become lists, as JSON would make them."""
        return json.loads(self.to_json())

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))

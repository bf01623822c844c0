"""Saving a labelling result (clustering or envelope) into a machine's label store: one
function for the app's "Save these labels" and ``python -m asdcore label``."""

from __future__ import annotations

from asdcore.labels.clustering import ClusterResult
from asdcore.labels.envelope import EnvelopeResult
from asdcore.labels.store import LabelStore

FREQUENCY_DECIMALS = 3  # a characteristic frequency kept with its label, in Hz


def result_source(result: ClusterResult | EnvelopeResult) -> str:
    """The label store's source name of a result: ``cluster`` or ``envelope``."""
    return "envelope" if isinstance(result, EnvelopeResult) else "cluster"


def clip_extras(result: ClusterResult | EnvelopeResult) -> dict[str, dict[str, float | str]]:
    """The facts kept with each clip's label: an envelope label's characteristic frequency and
    the harmonic numbers of it whose lines the clip shows (``"1 2 5"``), when any."""
    if not isinstance(result, EnvelopeResult):
        return {}
    extras: dict[str, dict[str, float | str]] = {}
    for file, value in result.frequencies.items():
        extras[file] = {"frequency_hz": round(value, FREQUENCY_DECIMALS)}
        if result.harmonics.get(file):
            extras[file]["harmonics"] = " ".join(map(str, result.harmonics[file]))
    return extras


def save_result(store: LabelStore, result: ClusterResult | EnvelopeResult,
                unless_changed_since: int | None = None) -> dict | None:
    """Record ``result``'s labels, parameters and per-clip facts as one change set of
    ``store`` (see `LabelStore.apply` for ``unless_changed_since``); returns the change set,
    or None when nothing changed."""
    return store.apply(result.labels, result_source(result), params=result.params,
                       extra=clip_extras(result), unless_changed_since=unless_changed_since)

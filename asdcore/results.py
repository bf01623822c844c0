"""A run's results as tables for display: what it produced, its loss curve, its decision
thresholds, its clips' embeddings with their attributes, and two runs compared.

Pure readers over the run folder (`asdcore.runs`) and plain tables; the app's pages and the
HTML report show what these return.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from asdcore import metrics
from asdcore.errors import ASDError
from asdcore.runs import Run

# Progress messages of runs written before events had fields (`legacy_training_fields`).
_LEGACY_EPOCH = re.compile(r"epoch (\d+)/(\d+)")
_LEGACY_LOSS = re.compile(r"loss (-?\d+(?:\.\d+)?(?:e-?\d+)?)")


def scored_backends(run: Run) -> list[str]:
    """Backends the run has scores for (``scores/<backend>.csv``), in name order."""
    return sorted(p.stem for p in run.scores_dir.glob("*.csv")) if run.scores_dir.is_dir() else []


def backend_result(run: Run, backend: str) -> dict:
    """What scoring ``run`` with ``backend`` recorded (its ``by_backend`` entry in
    metrics.json: official score, table, data folder...); {} before it was scored."""
    return (run.metrics() or {}).get("by_backend", {}).get(backend, {})


def with_audio_paths(run: Run, backend: str, scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` (rows with a ``clip_id``) with each clip's audio file in ``path``: clip ids
    are relative to the dataset folder that scoring read (``score --data``, else the run's)."""
    data_root = Path(backend_result(run, backend).get("data") or run.config()["data"])
    return scores.assign(path=[str(data_root / clip_id) for clip_id in scores["clip_id"]])


def embedded_machines(run: Run) -> list[str]:
    """Machines the run saved embeddings for (``embeddings/<machine>.npz``), in name order."""
    if not run.embeddings_dir.is_dir():
        return []
    return sorted(p.stem for p in run.embeddings_dir.glob("*.npz"))


def progress_state(events: list[dict]) -> tuple[float, str]:
    """Fraction done (0..1) and the latest message from a run's progress events."""
    if not events:
        return 0.0, "waiting for the worker to start"
    last = events[-1]
    total = last.get("total") or 0
    fraction = min(max(last.get("step", 0) / total, 0.0), 1.0) if total else 0.0
    return fraction, str(last.get("message", ""))


def loss_curve(events: list[dict]) -> pd.DataFrame:
    """Training loss over (fractional) epochs from progress events (columns epoch, loss).

    Reads the events' ``epoch`` and ``loss`` fields (`asdcore.progress.ProgressEvent`); several
    events of one epoch (per-batch reports) are spread evenly over that epoch, and events
    without an epoch are numbered in order.
    """
    rows = []
    for event in events:
        fields = event if "epoch" in event else legacy_training_fields(event)
        if fields.get("loss") is None:
            continue
        rows.append({"epoch_label": fields.get("epoch"), "loss": float(fields["loss"])})
    if not rows:
        return pd.DataFrame({"epoch": pd.Series(dtype=float), "loss": pd.Series(dtype=float)})
    table = pd.DataFrame(rows)
    if table["epoch_label"].isna().any():
        return pd.DataFrame({"epoch": np.arange(1.0, len(table) + 1), "loss": table["loss"]})
    # The AE reports each finished epoch once (epoch e -> e); the seed model reports every batch
    # of epoch e (1-based) -> spread over (e - 1, e].
    group = table.groupby("epoch_label")
    position = group.cumcount() + 1
    size = group["loss"].transform("size")
    epoch = table["epoch_label"] - 1 + position / size
    return pd.DataFrame({"epoch": epoch.astype(float), "loss": table["loss"]})


def legacy_training_fields(event: dict) -> dict:
    """``epoch`` and ``loss`` of a progress event written before events had fields (its
    record has no ``epoch`` key), found in its message (``... epoch 3/10 loss 1.234``): the
    only place a message is parsed, so that older runs still show their loss curve."""
    message = str(event.get("message", ""))
    epoch, loss = _LEGACY_EPOCH.search(message), _LEGACY_LOSS.search(message)
    return {"epoch": int(epoch.group(1)) if epoch else None,
            "loss": event.get("loss", float(loss.group(1)) if loss else None)}


def section_thresholds(scores: pd.DataFrame) -> dict[str, float]:
    """The decision threshold of each section (``{section: value}``) of a score table; empty
    for score files written before thresholds were kept."""
    if "threshold" not in scores:
        return {}
    known = scores.dropna(subset=["threshold"])
    return {str(section): float(group["threshold"].iloc[0])
            for section, group in known.groupby("section", sort=True)}


def metrics_table(result: dict) -> pd.DataFrame:
    """The official per-section metrics of a scoring result (metrics.json or its
    ``by_backend`` entry): machine, section, AUC_source, AUC_target, pAUC."""
    table = pd.DataFrame(result.get("table") or [],
                         columns=["machine", "section", *metrics.OFFICIAL_COLUMNS])
    return table[["machine", "section", *metrics.OFFICIAL_COLUMNS]]


def compare_runs(first: dict, second: dict, names: tuple[str, str]) -> pd.DataFrame:
    """Two scoring results side by side per machine and section: each official metric of
    both runs and the difference (second minus first); sections only one run has show NaN."""
    a, b = (metrics_table(result) for result in (first, second))
    merged = a.merge(b, on=["machine", "section"], how="outer", suffixes=(" A", " B"))
    columns = ["machine", "section"]
    for metric in metrics.OFFICIAL_COLUMNS:
        merged[f"{metric} B-A"] = merged[f"{metric} B"] - merged[f"{metric} A"]
        columns += [f"{metric} A", f"{metric} B", f"{metric} B-A"]
    merged = merged[columns].sort_values(["machine", "section"], ignore_index=True)
    return merged.rename(columns=lambda c: c.replace(" A", f" ({names[0]})")
                         .replace(" B-A", " diff").replace(" B", f" ({names[1]})"))


def saved_embeddings(run: Run, machine: str) -> tuple[np.ndarray, np.ndarray, str | None]:
    """``(clip_ids, vectors, data_root)`` a scoring saved in ``embeddings/<machine>.npz``
    (``data_root`` None for files written before it was recorded). `ASDError` when the file is
    missing or damaged (truncated, garbage, empty); scoring the run again rebuilds it."""
    path = run.embeddings_dir / f"{machine}.npz"
    try:
        with np.load(path, allow_pickle=False) as saved:
            clip_ids, vectors = saved["clip_id"].astype(str), saved["embedding"]
            data_root = str(saved["data_root"]) if "data_root" in saved else None
    except FileNotFoundError:
        raise ASDError(f"The run {run.name!r} has no embeddings for {machine} "
                       f"({path} is missing).") from None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise ASDError(f"The saved embeddings {path} are damaged ({err or type(err).__name__}); "
                       "score the run again to rebuild them.") from None
    if vectors.ndim != 2 or len(vectors) != len(clip_ids):
        raise ASDError(f"The saved embeddings {path} are damaged (their clip list and vectors "
                       "do not match); score the run again to rebuild them.")
    return clip_ids, vectors, data_root


def embedding_table(run: Run, machine: str, clips: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """A machine's saved embeddings and, row for row, its clips' clip_id, file, path, split,
    domain, label and attribute (the true one where a correspondence file gives it).

    ``clips`` is the clip table of the dataset the run embedded (its ``clip_id`` values are
    the saved ones); clips no longer in it are left out.
    """
    clip_ids, vectors, _ = saved_embeddings(run, machine)
    table = pd.DataFrame({"clip_id": clip_ids}).merge(
        clips[["clip_id", "file", "path", "split", "domain", "label", "attributes",
               "true_attributes"]], on="clip_id", how="left")
    known = table["file"].notna().to_numpy()
    table = table[known].reset_index(drop=True)
    attribute = table["true_attributes"].where(table["true_attributes"] != "",
                                               table["attributes"])
    table = table.assign(attribute=attribute.fillna("")).drop(
        columns=["attributes", "true_attributes"])
    return vectors[known], table

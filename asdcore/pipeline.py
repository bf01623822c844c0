"""Runs end to end: dataset -> features -> model per machine -> scores -> submission -> metrics.

`train_run` fits one model per machine type into a run folder (`asdcore.runs`); `score_run`
scores the test clips with a backend (a detector's own mode, or an embedding scorer), writes the
official submission files and, when the test labels are known, the official metrics. The CLI
and the app call these two functions; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from asdcore import atomic, dataset, features, metrics, scoring
from asdcore.errors import ASDError
from asdcore.models import get_model_class
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report, stage
from asdcore.runs import Run

SCORE_COLUMNS = ["clip_id", "file", "machine", "section", "domain", "label", "score", "decision"]


@dataclass
class TrainConfig:
    """What a run trains: saved as the run's config.json, enough to reproduce it."""

    data: str
    model: str = "ae"
    machines: list[str] = field(default_factory=list)  # empty: every machine with train clips
    device: str = "auto"
    model_config: dict = field(default_factory=dict)  # the model's own settings (epochs, seed...)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def model_for(config: TrainConfig):
    """A fresh, untrained model of the configured kind and settings."""
    cls = get_model_class(config.model)
    settings = dict(config.model_config)
    if "device" in {f.name for f in dataclasses.fields(cls.config_class)}:
        settings.setdefault("device", config.device)
    return cls(cls.config_class.from_dict(settings))


def _machines_to_use(ds: dataset.Dataset, wanted: list[str]) -> list[str]:
    trainable = sorted(ds.clips.loc[ds.clips["split"] == "train", "machine"].unique())
    if not trainable:
        raise ASDError(f"{ds.root} has no training clips to learn from.")
    if not wanted:
        return trainable
    unknown = sorted(set(wanted) - set(trainable))
    if unknown:
        raise ASDError(f"No training clips for machine(s) {', '.join(unknown)}; "
                       f"available: {', '.join(trainable)}.")
    return sorted(set(wanted))


def _clip_seconds(clips: pd.DataFrame) -> float:
    """One length per machine (DCASE clips of a machine share it): the median, to the frame."""
    return float(np.median(clips["duration"]))


def train_run(run: Run, progress: ProgressFn | None = None,
              cancel: CancelFn | None = None) -> None:
    """Fit one model per machine type on its normal training clips; weights go to the run."""
    config = TrainConfig.from_dict(run.config())
    ds = dataset.scan(config.data)
    machines = _machines_to_use(ds, config.machines)
    for index, machine in enumerate(machines):
        check_cancel(cancel)
        train = ds.clips[(ds.clips["machine"] == machine) & (ds.clips["split"] == "train")]
        model = model_for(config)
        step = stage(progress, 2 * index, 2 * len(machines), f"{machine} features")
        logmels = features.extract(train["path"].tolist(),
                                   model.feature_config(_clip_seconds(train)),
                                   device=config.device, progress=step, cancel=cancel)
        step = stage(progress, 2 * index + 1, 2 * len(machines), f"{machine} training")
        model.fit(logmels, train["domain"].where(train["domain"] == "target", "source").tolist(),
                  progress=step, cancel=cancel)
        model.save(run.weights_dir / machine)
    report(progress, 1, 1, "training done")


def backends_for(model_name: str) -> tuple[str, ...]:
    """The score backends a model supports; the first is its default."""
    cls = get_model_class(model_name)
    if cls.kind == "detector":
        return tuple(cls.score_modes)
    return ("knn-dg", *[name for name in scoring.SCORERS if name != "knn-dg"])


def score_run(run: Run, backend: str | None = None, data: str | None = None,
              progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> dict:
    """Score every test clip of the trained machines with ``backend``; returns metrics.json.

    ``data`` scores another dataset folder (e.g. the eval set) with the run's models. Writes
    ``scores/<backend>.csv`` (one row per test clip), the official ``submission/`` files and,
    when every test clip has a known label in both domains, the official metrics.
    """
    config = TrainConfig.from_dict(run.config())
    backend = backend or backends_for(config.model)[0]
    if backend not in backends_for(config.model):
        raise ASDError(f"The {config.model!r} model cannot be scored with {backend!r}; "
                       f"choose one of {', '.join(backends_for(config.model))}.")
    trained = sorted(p.name for p in run.weights_dir.iterdir()) if run.weights_dir.is_dir() else []
    if not trained:
        raise ASDError(f"The run {run.name!r} has no trained models; train it first.")
    ds = dataset.scan(data or config.data)
    machines = [m for m in trained if ((ds.clips["machine"] == m) & (ds.clips["split"] == "test")).any()]
    if not machines:
        raise ASDError(f"{ds.root} has no test clips for the machines this run was trained on "
                       f"({', '.join(trained)}).")
    tables = []
    for index, machine in enumerate(machines):
        check_cancel(cancel)
        step = stage(progress, index, len(machines), machine)
        tables.append(_score_machine(run, config, machine, ds.clips, backend, step, cancel))
    table = pd.concat(tables, ignore_index=True)[SCORE_COLUMNS]
    atomic.write_text(run.scores_dir / f"{backend}.csv", _to_csv(table))
    metrics.write_submission(run.submission_dir, table)
    result = {"backend": backend, "data": str(ds.root), **_evaluate(table)}
    previous = run.metrics() or {}
    by_backend = {**previous.get("by_backend", {}), backend: result}
    run.write_metrics({**result, "by_backend": by_backend})
    report(progress, 1, 1, "scoring done")
    return result


def _score_machine(run: Run, config: TrainConfig, machine: str, clips: pd.DataFrame,
                   backend: str, progress: ProgressFn | None,
                   cancel: CancelFn | None) -> pd.DataFrame:
    cls = get_model_class(config.model)
    model = cls.load(run.weights_dir / machine, device=config.device)
    of_machine = clips[clips["machine"] == machine]
    train = of_machine[of_machine["split"] == "train"]
    test = of_machine[of_machine["split"] == "test"].copy()
    feature_config = model.feature_config(_clip_seconds(train if len(train) else test))

    def logmels_of(part: pd.DataFrame, index: int) -> np.ndarray:
        return features.extract(part["path"].tolist(), feature_config, device=config.device,
                                progress=stage(progress, index, 2, "features"), cancel=cancel)

    if cls.kind == "detector":
        test["score"] = model.decision_function(logmels_of(test, 1), mode=backend, cancel=cancel)
        threshold = pd.Series(metrics.gamma_threshold(model.decision_scores_[backend]),
                              index=test.index)
    else:
        if train.empty:
            raise ASDError(f"Scoring {machine} with {backend!r} needs its training clips as "
                           "references, and the dataset has none.")
        train_embeddings = model.embed(logmels_of(train, 0))
        test_embeddings = model.embed(logmels_of(test, 1))
        _save_embeddings(run, machine, train, train_embeddings, test, test_embeddings)
        threshold = pd.Series(np.nan, index=test.index)
        for section in sorted(test["section"].unique()):
            in_test = (test["section"] == section).to_numpy()
            in_train = (train["section"] == section).to_numpy()
            if not in_train.any():
                raise ASDError(f"{machine} section {section} has test clips but no training "
                               "clips to compare them with.")
            domains = train["domain"].where(train["domain"] == "target", "source")
            scorer = scoring.make_scorer(backend).fit(train_embeddings[in_train],
                                                      domains[in_train].tolist())
            test.loc[in_test, "score"] = scorer.decision_function(test_embeddings[in_test])
            threshold[in_test] = scorer.threshold_
    test["decision"] = (test["score"] > threshold).astype(int)
    return test


def _save_embeddings(run: Run, machine: str, *parts) -> None:
    """Train and test embeddings with their clip ids, for the embeddings page and later scoring."""
    clip_ids = np.concatenate([part["clip_id"].to_numpy(dtype=str) for part in parts[0::2]])
    embeddings = np.concatenate(parts[1::2])
    with atomic.atomic_path(run.embeddings_dir / f"{machine}.npz") as tmp:
        np.savez(tmp, clip_id=clip_ids, embedding=embeddings.astype(np.float32))


def _evaluate(table: pd.DataFrame) -> dict:
    """Official metrics when the labels allow them, else the reason they are missing."""
    known = table["label"].isin(["normal", "anomaly"]) & table["domain"].isin(["source", "target"])
    if not known.all():
        return {"official_score": None,
                "note": "test labels or domains are unknown (eval data without a mapping list)"}
    per_section = metrics.evaluate(table)
    result = {"table": per_section.to_dict(orient="records")}
    try:
        summary = metrics.summarize(per_section)
    except ASDError as err:  # e.g. a one-domain dataset: AUC_target is undefined
        return {"official_score": None, "note": str(err), **result}
    return {"official_score": summary["official_score"], "summary": summary, **result}


def _to_csv(table: pd.DataFrame) -> str:
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    return buffer.getvalue()


def read_scores(run: Run, backend: str) -> pd.DataFrame:
    """The per-clip scores a `score_run` wrote for ``backend``."""
    path = run.scores_dir / f"{backend}.csv"
    if not path.is_file():
        raise ASDError(f"The run {run.name!r} has not been scored with {backend!r} yet.")
    return pd.read_csv(path, dtype={"section": str})

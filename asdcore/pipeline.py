"""Runs end to end: dataset -> features -> model(s) -> scores -> submission -> metrics.

`train_run` fits one model per machine type into a run folder (`asdcore.runs`), or, for a
model that ``trains_jointly`` (the seed model, whose classes span machines), one model on every
machine at once (weights in ``weights/joint``, a resumable checkpoint beside them); `score_run`
scores the test clips with a backend (a detector's own mode, or an embedding scorer), writes the
official submission files and, when the test labels are known, the official metrics. The CLI
and the app call these two functions; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import io
import os
import sys
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd

from asdcore import atomic, dataset, features, metrics, results, runs, scoring, synth, workers
from asdcore.configs import Config
from asdcore.constants import DOMAINS, LABELS
from asdcore.errors import ASDError
from asdcore.models import get_model_class
from asdcore.paths import PROJECT_ROOT
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report, stage
from asdcore.runs import Run

SCORE_COLUMNS = ["clip_id", "file", "machine", "section", "domain", "label", "score", "decision",
                 "threshold"]
JOINT_WEIGHTS = "joint"  # weights/ subfolder of a jointly trained model


@dataclass
class TrainConfig(Config):
    """What a run trains: saved as the run's config.json, enough to reproduce it."""

    what: ClassVar[str] = "run"

    data: str
    model: str = "ae"
    machines: list[str] = field(default_factory=list)  # empty: every machine with train clips
    device: str = "auto"
    model_config: dict = field(default_factory=dict)  # the model's own settings (epochs, seed...)
    labels: list[str] = field(default_factory=list)  # label CSVs (file,label): pseudo-attributes


def model_for(config: TrainConfig, saved: bool = False):
    """A fresh, untrained model of the configured kind and settings.

    ``saved``: ``config`` is a run's saved config. `queue_run` saves every model setting, so a
    setting one lacks is from a run queued before that setting existed: it takes the value the
    run was trained with (``from_saved``), not today's default."""
    cls = get_model_class(config.model)
    settings = dict(config.model_config)
    if "device" in cls.config_class.known_keys():
        settings.setdefault("device", config.device)
    read = cls.config_class.from_saved if saved else cls.config_class.from_dict
    return cls(read(settings))


def model_settings(config: TrainConfig, saved: bool = False) -> dict:
    """Every setting of the model ``config`` trains (`model_for`), as JSON values."""
    return model_for(config, saved).config.to_dict()


def _machines_to_use(ds: dataset.Dataset, wanted: list[str]) -> list[str]:
    trainable = ds.trainable_machines()
    if not trainable:
        raise ASDError(f"{ds.root} has no training clips to learn from.")
    if not wanted:
        return trainable
    unknown = sorted(set(wanted) - set(trainable))
    if unknown:
        raise ASDError(f"No training clips for machine(s) {', '.join(unknown)}; "
                       f"available: {', '.join(trainable)}.")
    return sorted(set(wanted))


def clip_seconds(clips: pd.DataFrame) -> float:
    """One length per machine (DCASE clips of a machine share it): the median, to the frame."""
    return float(np.median(clips["duration"]))


def train_run(run: Run, progress: ProgressFn | None = None,
              cancel: CancelFn | None = None) -> list[dataset.Problem]:
    """Fit one model per machine type on its normal training clips (or one joint model on all
    of them); weights go to the run. A joint model resumes from its checkpoint when one is
    there. Under ``torchrun`` every rank calls this; only rank 0 writes.

    Returns the unusable files (broken, empty, truncated...) of the training folders, which
    were skipped."""
    config = TrainConfig.from_dict(run.config())
    ds = dataset.scan(config.data)
    machines = _machines_to_use(ds, config.machines)
    skipped = ds.problems_of(machines, ("train", "supplemental"))
    if get_model_class(config.model).trains_jointly:
        _train_jointly(run, config, ds, machines, progress, cancel)
        return skipped
    for index, machine in enumerate(machines):
        check_cancel(cancel)
        train = ds.clips[(ds.clips["machine"] == machine) & (ds.clips["split"] == "train")]
        model = model_for(config, saved=True)
        step = stage(progress, 2 * index, 2 * len(machines), f"{machine} features")
        logmels = features.extract(train["path"].tolist(),
                                   model.feature_config(clip_seconds(train)),
                                   device=config.device, progress=step, cancel=cancel)
        step = stage(progress, 2 * index + 1, 2 * len(machines), f"{machine} training")
        model.fit(logmels, train["domain"].where(train["domain"] == "target", "source").tolist(),
                  progress=step, cancel=cancel)
        model.save(run.weights_dir / machine)
    report(progress, 1, 1, "training done")
    return skipped


def _train_jointly(run: Run, config: TrainConfig, ds: dataset.Dataset, machines: list[str],
                   progress: ProgressFn | None, cancel: CancelFn | None) -> None:
    from asdcore.train import current_distributed

    clips = ds.clips[ds.clips["machine"].isin(machines)]
    model = model_for(config, saved=True)
    model.fit_clips(clips[clips["split"] == "train"], clips[clips["split"] == "supplemental"],
                    pseudo_labels=training_labels(config), progress=progress,
                    cancel=cancel, checkpoint=run.path / "checkpoint.pt")
    if current_distributed().is_main:
        model.save(run.weights_dir / JOINT_WEIGHTS)
    report(progress, 1, 1, "training done")


def training_labels(config: TrainConfig) -> dict[str, str]:
    """``{file: label}`` pseudo-attributes for training from the run's label CSVs (later files
    win; a run started from the label store holds a copy of its labels, see `queue_run`).
    Used only where a clip's attributes are hidden."""
    from asdcore.labels import read_label_csv

    labels: dict[str, str] = {}
    for path in config.labels:
        labels.update(read_label_csv(path))
    return labels


def stored_labels(data: str, machines: list[str]) -> dict[str, dict[str, str]]:
    """The label store's pseudo-labels of ``machines`` (those that have any), for `queue_run`."""
    from asdcore.labels import labels_for_training

    found = {machine: labels_for_training(data, machine) for machine in machines}
    return {machine: labels for machine, labels in found.items() if labels}


def demo_settings(model_name: str, data: str | os.PathLike) -> dict:
    """The settings ``model_name`` starts from on ``data``: its ``demo_settings`` when ``data``
    was generated with the demo preset (they measure best there), else none (the model's own
    defaults, which follow its recipe for DCASE-size data)."""
    manifest = synth.read_manifest(data)
    on_demo = manifest is not None and manifest.get("preset") == "demo"
    return dict(get_model_class(model_name).demo_settings) if on_demo else {}


def backends_for(model_name: str) -> tuple[str, ...]:
    """The score backends a model supports; the first is its default."""
    return get_model_class(model_name).backends


def score_run(run: Run, backend: str | None = None, data: str | None = None,
              progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> dict:
    """Score every test clip of the trained machines with ``backend``; returns metrics.json.

    ``data`` scores another dataset folder (e.g. the eval set) with the run's models. Writes
    ``scores/<backend>.csv`` (one row per test clip), the official ``submission/`` files and,
    when every test clip has a known label in both domains, the official metrics. Unusable
    files of the scored machines are left out and listed in the result's ``skipped``.
    """
    config = TrainConfig.from_dict(run.config())
    backend = backend or backends_for(config.model)[0]
    if backend not in backends_for(config.model):
        raise ASDError(f"The {config.model!r} model cannot be scored with {backend!r}; "
                       f"choose one of {', '.join(backends_for(config.model))}.")
    cls = get_model_class(config.model)
    joint_model = None
    if cls.trains_jointly:
        joint_dir = run.weights_dir / JOINT_WEIGHTS
        joint_model = cls.load(joint_dir, device=config.device) \
            if (joint_dir / "model.json").is_file() else None
        trained = joint_model.machines_ if joint_model is not None else []
    else:
        trained = sorted(p.name for p in run.weights_dir.iterdir()) \
            if run.weights_dir.is_dir() else []
    if not trained:
        raise ASDError(f"The run {run.name!r} has no trained models; train it first.")
    ds = dataset.scan(data or config.data)
    tested = set(ds.clips.loc[ds.clips["split"] == "test", "machine"])
    machines = [m for m in trained if m in tested]
    if not machines:
        raise ASDError(f"{ds.root} has no test clips for the machines this run was trained on "
                       f"({', '.join(trained)}).")
    tables = []
    for index, machine in enumerate(machines):
        check_cancel(cancel)
        step = stage(progress, index, len(machines), machine)
        model = joint_model or cls.load(run.weights_dir / machine, device=config.device)
        tables.append(_score_machine(run, model, machine, ds.clips, str(ds.root), backend,
                                     config.device, step, cancel))
    table = pd.concat(tables, ignore_index=True)[SCORE_COLUMNS]
    atomic.write_text(run.scores_dir / f"{backend}.csv", _to_csv(table))
    skipped = [p.as_row() for p in ds.problems_of(machines)]
    result = {"backend": backend, "data": str(ds.root), **_evaluate(table), "skipped": skipped}
    run.add_scoring(result, lambda: metrics.write_submission(run.submission_dir, table))
    report(progress, 1, 1, "scoring done")
    return result


def _score_machine(run: Run, model, machine: str, clips: pd.DataFrame, data_root: str,
                   backend: str, device: str, progress: ProgressFn | None,
                   cancel: CancelFn | None) -> pd.DataFrame:
    of_machine = clips[clips["machine"] == machine]
    train = of_machine[of_machine["split"] == "train"]
    supplemental = of_machine[of_machine["split"] == "supplemental"]
    test = of_machine[of_machine["split"] == "test"].copy()
    feature_config = model.feature_config(clip_seconds(train if len(train) else test))

    def logmels_of(part: pd.DataFrame, index: int) -> np.ndarray:
        return features.extract(part["path"].tolist(), feature_config, device=device,
                                progress=stage(progress, index, 3, "features"), cancel=cancel)

    def embeddings_of(part: pd.DataFrame, index: int) -> np.ndarray:
        if model.trains_jointly:  # a `JointEmbedder` reads the audio itself
            return model.embed_clips(part["path"].tolist(),
                                     progress=stage(progress, index, 3, "embeddings"),
                                     cancel=cancel)
        return model.embed(logmels_of(part, index))

    if model.kind == "detector":
        detector = model.with_mode(backend)
        test["score"] = detector.decision_function(logmels_of(test, 2), cancel=cancel)
        threshold = pd.Series(detector.threshold_, index=test.index)
    else:
        if train.empty:
            raise ASDError(f"Scoring {machine} with {backend!r} needs its training clips as "
                           "references, and the dataset has none.")
        parts = [part for part in (train, supplemental, test) if len(part)]
        vectors = valid_saved_embeddings(run, machine, data_root, parts)
        if vectors is None:
            vectors = [embeddings_of(part, index) for index, part in enumerate(parts)]
            _save_embeddings(run, machine, data_root, parts, vectors)
        scores, thresholds = score_sections(backend, train, vectors[0], test, vectors[-1])
        test["score"] = scores
        threshold = pd.Series(thresholds, index=test.index)
    test["decision"] = (test["score"] > threshold).astype(int)
    test["threshold"] = threshold  # kept so plots can draw the decision line
    return test


def score_sections(backend: str, train: pd.DataFrame, train_embeddings: np.ndarray,
                   test: pd.DataFrame, test_embeddings: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Anomaly scores and decision thresholds of one machine's test clips (rows of ``test``
    and ``test_embeddings``): each section's clips are scored by ``backend`` fitted on that
    section's training clips (rows of ``train`` and ``train_embeddings``), whose domains it is
    told, since a section is its own detection problem."""
    scores = np.full(len(test), np.nan)
    thresholds = np.full(len(test), np.nan)
    for section in sorted(test["section"].unique()):
        in_test = (test["section"] == section).to_numpy()
        in_train = (train["section"] == section).to_numpy()
        if not in_train.any():
            machine = test["machine"].iloc[0]
            raise ASDError(f"{machine} section {section} has test clips but no training "
                           "clips to compare them with.")
        domains = train["domain"].where(train["domain"] == "target", "source")
        scorer = scoring.make_scorer(backend).fit(train_embeddings[in_train],
                                                  domains[in_train].tolist())
        scores[in_test] = scorer.decision_function(test_embeddings[in_test])
        thresholds[in_test] = scorer.threshold_
    return scores, thresholds


def work_run(run: Run, progress: ProgressFn | None = None,
             cancel: CancelFn | None = None) -> dict:
    """Execute a queued run: train it, then score it with its model's default backend."""
    with run.working():
        skipped = train_run(run, progress=stage(progress, 0, 2, "training"), cancel=cancel)
        result = score_run(run, progress=stage(progress, 1, 2, "scoring"), cancel=cancel)
    return {**result, "skipped": [p.as_row() for p in skipped] + result["skipped"]}


def queue_run(name: str, config: TrainConfig, overwrite: bool = False,
              label_sets: dict[str, dict[str, str]] | None = None) -> Run:
    """Validate ``config`` and create a queued run for it (for `launch_work`).

    ``label_sets`` (machine -> {file: label}, e.g. the label store's) are saved as label CSVs
    inside the run folder and added to the config's labels, so the run keeps the labels it
    was trained with however the store changes later.
    """
    from asdcore.labels import read_label_csv, write_label_csv

    # Invalid settings or unreadable label files: a clear error before a run exists. Every
    # model setting is saved, not only the ones given, so a later change of a default does
    # not change what the run trains when it is resumed or reproduced.
    model_config = model_for(config).config
    model_config.check_new_run()
    config = dataclasses.replace(config, model_config=model_config.to_dict())
    for path in config.labels:
        read_label_csv(path)
    label_paths = {machine: runs.run_path(name) / "labels" / f"{machine}.csv"
                   for machine in sorted(label_sets or {})}
    # The store's copy first: the user's own CSVs (later files win) override it.
    config = dataclasses.replace(config, labels=[*map(str, label_paths.values()), *config.labels])
    run = runs.create_run(name, config, overwrite=overwrite)
    for machine, path in label_paths.items():
        write_label_csv(path, label_sets[machine])
    return run


def launch_work(run: Run) -> int:
    """Start `work_run` on ``run`` as a detached worker (``python -m asdcore work``): it goes on
    when the caller (a Streamlit session) ends. Returns its pid."""
    python_path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return workers.launch(run, [sys.executable, "-m", "asdcore", "work", str(run.path)],
                          env={"PYTHONPATH": python_path})


def _save_embeddings(run: Run, machine: str, data_root: str, parts: list[pd.DataFrame],
                     vectors: list[np.ndarray]) -> None:
    """Train, supplemental and test embeddings with their clip ids and dataset folder, for the
    embeddings page and for scoring with another backend without embedding again."""
    clip_ids = np.concatenate([part["clip_id"].to_numpy(dtype=str) for part in parts])
    with atomic.atomic_path(run.embeddings_dir / f"{machine}.npz") as tmp:
        np.savez(tmp, clip_id=clip_ids, embedding=np.concatenate(vectors).astype(np.float32),
                 data_root=np.array(data_root))


def valid_saved_embeddings(run: Run, machine: str, data_root: str,
                           parts: list[pd.DataFrame]) -> list[np.ndarray] | None:
    """The saved embeddings of ``parts`` when they are still valid: readable, same dataset
    folder, every clip present, saved after the weights were last written. Else None."""
    path = run.embeddings_dir / f"{machine}.npz"
    weights = [p.stat().st_mtime for p in run.weights_dir.rglob("*") if p.is_file()]
    if not path.is_file() or not weights or path.stat().st_mtime < max(weights):
        return None
    try:
        clip_ids, embeddings, saved_root = results.saved_embeddings(run, machine)
    except ASDError:
        return None  # damaged (truncated, garbage, empty): embedded again and rewritten
    if saved_root != data_root:
        return None
    row_of = {clip_id: row for row, clip_id in enumerate(clip_ids)}
    vectors = []
    for part in parts:
        rows = [row_of.get(clip_id) for clip_id in part["clip_id"]]
        if None in rows:
            return None
        vectors.append(embeddings[rows])
    return vectors


def _evaluate(table: pd.DataFrame) -> dict:
    """Official metrics when the labels allow them, else the reason they are missing."""
    known = table["label"].isin(LABELS) & table["domain"].isin(DOMAINS)
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

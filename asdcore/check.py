"""Verdicts on new recordings with a finished run: "is this recording abnormal, and where?"

`check` scores any audio files with a trained run, the way `pipeline.score_run` scores the test
clips (same features, same per-section scorer or detector mode, same decision threshold), and
explains each verdict: the score's percentile among the section's normal training clips (and
among the run's known-normal test clips), the nearest normal training clips, and where the clip
differs from them over time and over mel bands.

The explanation depends on the model: the autoencoder's own reconstruction error per frame and
per band, minus that of the nearest normals; for embedders, the clip's log-mel
spectrogram minus the mean spectrum of its nearest normals (per frame: RMS over bands; per band:
mean over time, positive = louder than normal). Nearness is the embedding scorer's cosine
distance for embedders, and the RMS difference of the mean log-mel spectra (dB) for detectors.

`CheckRun` holds a run's models and per-section references, so checking more files costs only
their own decoding and scoring (the app keeps one per run).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import soundfile as sf
from sklearn.metrics.pairwise import cosine_distances

from asdcore import atomic, audio, dataset, features, pipeline, runs, scoring
from asdcore.device import torch_threads
from asdcore.errors import ASDError
from asdcore.models import get_model_class
from asdcore.progress import ProgressFn, report

N_NEAREST = 3
# Columns of `results_table` (the CLI's --out CSV and the page's table).
TABLE_COLUMNS = ["file", "machine", "section", "score", "threshold", "decision", "percentile",
                 "percentile_test_normal", "nearest", "error"]


@dataclass
class Reference:
    """What a checked clip of one machine section is compared with."""

    machine: str
    section: str
    backend: str
    threshold: float
    feature_config: features.LogMelConfig
    train: pd.DataFrame  # the section's normal training clips (file, path, domain...)
    train_scores: np.ndarray  # their scores (leave-one-out for the KNN scorers)
    test_normal_scores: np.ndarray  # the run's scores of known-normal test clips (may be empty)
    train_vectors: np.ndarray  # what nearness is measured on, one row per training clip
    distance: str  # what the nearest clips' distances are
    scorer: scoring._Scorer | None  # fitted embedding scorer; None for a detector


class CheckRun:
    """A finished run loaded for checking new files (models and references load on demand)."""

    def __init__(self, run: runs.Run | str | os.PathLike, backend: str | None = None):
        self.run = run if isinstance(run, runs.Run) else runs.open_run(run)
        self.config = pipeline.TrainConfig.from_dict(self.run.config())
        self.model_class = get_model_class(self.config.model)
        self.backend = backend or _scored_backend(self.run) or \
            pipeline.backends_for(self.config.model)[0]
        if self.backend not in pipeline.backends_for(self.config.model):
            raise ASDError(f"The {self.config.model!r} model cannot be scored with "
                           f"{self.backend!r}; choose one of "
                           f"{', '.join(pipeline.backends_for(self.config.model))}.")
        self._models: dict[str, object] = {}
        self._references: dict[tuple[str, str], Reference] = {}
        self._clips: pd.DataFrame | None = None
        self._profiles: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._joint = None
        if self.model_class.trains_jointly:
            joint_dir = self.run.weights_dir / pipeline.JOINT_WEIGHTS
            if (joint_dir / "model.json").is_file():
                self._joint = self.model_class.load(joint_dir, device=self.config.device)
            self.machines = list(self._joint.machines_) if self._joint is not None else []
        else:
            self.machines = sorted(p.name for p in self.run.weights_dir.iterdir()
                                   if p.is_dir()) if self.run.weights_dir.is_dir() else []
        if not self.machines:
            raise ASDError(f"The run {self.run.name!r} has no trained models; train it first.")

    @property
    def clips(self) -> pd.DataFrame:
        """The normal training clips of the run's dataset (the references)."""
        if self._clips is None:
            ds = dataset.scan(self.config.data)
            self._clips = ds.clips[ds.clips["split"] == "train"]
            self._data_root = str(ds.root)
        return self._clips

    def sections(self, machine: str) -> list[str]:
        """The sections ``machine`` has training clips in."""
        return sorted(self.clips.loc[self.clips["machine"] == machine, "section"].unique())

    def model(self, machine: str):
        if self._joint is not None:
            return self._joint
        if machine not in self._models:
            self._models[machine] = self.model_class.load(self.run.weights_dir / machine,
                                                          device=self.config.device)
        return self._models[machine]

    def resolve_machine(self, machine: str | None, path: str | os.PathLike = "") -> str:
        """The machine a file is checked as: the given one (validated), else the only one the
        run knows, else the one the file's folders name."""
        if machine is not None:
            if machine not in self.machines:
                raise ASDError(f"The run {self.run.name!r} has no model for machine "
                               f"{machine!r}; it knows {', '.join(self.machines)}.")
            return machine
        if len(self.machines) == 1:
            return self.machines[0]
        named = [m for m in self.machines if m in Path(path).parts]
        if len(named) == 1:
            return named[0]
        raise ASDError(f"Say which machine {Path(path).name} is (the run knows "
                       f"{', '.join(self.machines)}).")

    def resolve_section(self, machine: str, section: str | None,
                        path: str | os.PathLike = "") -> str:
        """The section a file of ``machine`` is checked as: the given one (validated), else the
        machine's only one, else the one the file name says (DCASE names)."""
        known = self.sections(machine)
        if not known:
            raise ASDError(f"The run's dataset {self.config.data} has no training clips of "
                           f"{machine} to compare with.")
        if section is not None:
            section = f"{int(section):02d}" if str(section).isdigit() else str(section)
            if section not in known:
                raise ASDError(f"{machine} has no section {section!r}; it has "
                               f"{', '.join(known)}.")
            return section
        if len(known) == 1:
            return known[0]
        named = dataset.parse_name(Path(path).name)["section"]
        if named in known:
            return named
        raise ASDError(f"Say which section of {machine} {Path(path).name} belongs to (it has "
                       f"{', '.join(known)}).")

    def reference(self, machine: str, section: str) -> Reference:
        """The section's normal training clips, scores, threshold and nearness vectors."""
        key = (machine, section)
        if key not in self._references:
            self._references[key] = self._build_reference(machine, section)
        return self._references[key]

    def _build_reference(self, machine: str, section: str) -> Reference:
        model = self.model(machine)
        train = self.clips[self.clips["machine"] == machine]
        in_section = (train["section"] == section).to_numpy()
        config = model.feature_config(pipeline.clip_seconds(train))
        if model.kind == "detector":
            detector = model.with_mode(self.backend)
            trained_scores, threshold = detector.decision_scores_, detector.threshold_
            # Training scores are in the training table's order when the dataset is unchanged.
            train_scores = trained_scores[in_section] if len(trained_scores) == len(train) \
                else trained_scores
            spectra = features.extract(train.loc[in_section, "path"].tolist(), config,
                                       device=self.config.device).mean(axis=2)
            scorer, vectors, distance = None, spectra, "RMS difference of mean log-mel (dB)"
        else:
            embeddings = _train_embeddings(self.run, model, train, self._data_root, config,
                                           self.config.device)
            domains = train["domain"].where(train["domain"] == "target", "source")
            scorer = scoring.make_scorer(self.backend).fit(embeddings[in_section],
                                                           domains[in_section].tolist())
            threshold, train_scores = float(scorer.threshold_), scorer.decision_scores_
            vectors, distance = embeddings[in_section], "cosine distance of embeddings"
        return Reference(machine=machine, section=section, backend=self.backend,
                         threshold=float(threshold), feature_config=config,
                         train=train[in_section].reset_index(drop=True),
                         train_scores=np.asarray(train_scores, dtype=float),
                         test_normal_scores=self._test_normal_scores(machine, section),
                         train_vectors=np.asarray(vectors, dtype=np.float32),
                         distance=distance, scorer=scorer)

    def _test_normal_scores(self, machine: str, section: str) -> np.ndarray:
        try:
            scores = pipeline.read_scores(self.run, self.backend)
        except ASDError:  # not scored with this backend: no test percentile
            return np.empty(0)
        known = scores[(scores["machine"] == machine) & (scores["section"] == section)
                       & (scores["label"] == "normal")]
        return known["score"].to_numpy(dtype=float)

    def check_file(self, path: str | os.PathLike, machine: str | None = None,
                   section: str | None = None) -> dict:
        """One file's verdict and explanation (see the module docstring); `ASDError` when the
        file cannot be read or its machine or section is unknown."""
        if not Path(path).is_file():
            reason = "it is a folder" if Path(path).is_dir() else "no such file"
            raise ASDError(f"Cannot read {path}: {reason}.")
        machine = self.resolve_machine(machine, path)
        section = self.resolve_section(machine, section, path)
        ref = self.reference(machine, section)  # once per section, with all torch threads
        # One clip is too little work to share among torch threads: on a busy CPU their
        # barrier waits made a check 5-30 times slower (bench/bench_check.py).
        with torch_threads(1):
            return self._verdict(path, ref)

    def _verdict(self, path: str | os.PathLike, ref: Reference) -> dict:
        machine, section = ref.machine, ref.section
        model = self.model(machine)
        config = ref.feature_config
        recorded = audio.load(path, config.sr, seconds=config.seconds)
        logmel = features.logmel(audio.fit_length(recorded, config.n_samples), config.sr, config)
        if model.kind == "detector":
            score = float(model.with_mode(ref.backend).decision_function(logmel[None])[0])
            vector = logmel.mean(axis=1)
            distances = np.sqrt(((ref.train_vectors - vector) ** 2).mean(axis=1))
        else:
            embedding = model.embed_clips([path]) if model.trains_jointly \
                else model.embed(logmel[None])
            score = float(ref.scorer.decision_function(embedding)[0])
            distances = cosine_distances(embedding, ref.train_vectors)[0]
        nearest_rows = np.argsort(distances, kind="stable")[:N_NEAREST]
        nearest = ref.train.iloc[nearest_rows]
        profiles = [self._normal_profile(machine, model, config, near)
                    for near in nearest["path"]]
        explanation = _explain(model, logmel, profiles, config, len(recorded))
        return {
            "file": str(path), "machine": machine, "section": section, "score": score,
            "threshold": ref.threshold, "decision": int(score > ref.threshold),
            "percentile": _percentile(ref.train_scores, score),
            "percentile_test_normal": _percentile(ref.test_normal_scores, score),
            "nearest": [{"file": row.file, "path": str(row.path), "distance": float(d)}
                        for row, d in zip(nearest.itertuples(), distances[nearest_rows],
                                          strict=True)],
            "distance": ref.distance, "scored_seconds": len(recorded) / config.sr,
            "explanation": explanation, "error": None,
        }

    def _normal_profile(self, machine: str, model, config: features.LogMelConfig,
                        path: str) -> tuple[np.ndarray, np.ndarray]:
        """`_profile` of a normal training clip, computed once per run."""
        key = (machine, path)
        if key not in self._profiles:
            logmel = features.extract([path], config, device=self.config.device)[0]
            self._profiles[key] = _profile(model, logmel)
        return self._profiles[key]

    def check(self, paths: Iterable[str | os.PathLike], machine: str | None = None,
              section: str | None = None, progress: ProgressFn | None = None) -> list[dict]:
        """`check_file` for every audio file of ``paths`` (files, or folders searched
        recursively); a file that cannot be checked gets an entry with its ``error``."""
        if machine is not None:  # a wrong machine or section is the user's one mistake
            self.resolve_machine(machine)
            if section is not None:
                self.resolve_section(machine, section)
        files = audio_files(paths)
        out = []
        for index, path in enumerate(files):
            try:
                out.append(self.check_file(path, machine, section))
            except ASDError as err:
                out.append({"file": str(path), "error": str(err)})
            report(progress, index + 1, len(files), Path(path).name)
        return out


def check(run: runs.Run | str | os.PathLike | CheckRun, paths: Iterable[str | os.PathLike],
          machine: str | None = None, section: str | None = None, backend: str | None = None,
          progress: ProgressFn | None = None) -> list[dict]:
    """Verdicts on the audio files ``paths`` (files or folders) with a finished ``run``."""
    loaded = run if isinstance(run, CheckRun) else CheckRun(run, backend)
    return loaded.check(paths, machine, section, progress)


def check_uploads(loaded: CheckRun, uploads: list[tuple[str, bytes]], machine: str,
                  section: str | None = None, progress: ProgressFn | None = None) -> list[dict]:
    """`CheckRun.check` on in-memory files ``(name, bytes)`` (browser uploads, recordings):
    they live in a temporary folder while they are checked, never in the workspace or the
    dataset; each result's ``file`` is the given name."""
    with tempfile.TemporaryDirectory(prefix="asd-check-") as folder:
        paths = []
        for index, (name, data) in enumerate(uploads):
            path = Path(folder) / str(index) / Path(name).name  # equal names stay apart
            path.parent.mkdir()
            path.write_bytes(data)
            paths.append(path)
        checked = loaded.check(paths, machine, section, progress)
    for result, path, (name, _) in zip(checked, paths, uploads, strict=True):
        result["file"] = name
        if result["error"]:
            result["error"] = result["error"].replace(str(path), name)
    return checked


def add_to_dataset(loaded: CheckRun, name: str, data: bytes, machine: str, section: str,
                   split: str = "train", label: str = "normal") -> Path:
    """Add a checked recording to the run's dataset as a new clip of ``machine`` and
    ``section`` under a DCASE name (16 kHz mono 16-bit WAV, the next free clip number),
    written atomically; returns its path. Training clips must be normal."""
    if split not in ("train", "test") or label not in ("normal", "anomaly"):
        raise ASDError(f"A clip is added to train or test as normal or anomaly, not {split} "
                       f"{label}.")
    if split == "train" and label != "normal":
        raise ASDError("Only normal clips can be added to the training clips.")
    ref = loaded.reference(machine, section)
    with tempfile.TemporaryDirectory(prefix="asd-add-") as folder:
        source = Path(folder) / Path(name).name
        source.write_bytes(data)
        try:
            wave = audio.load(source)
        except ASDError as err:
            raise ASDError(str(err).replace(str(source), name)) from None
    target_dir = Path(ref.train["path"].iloc[0]).parent.parent / split
    target_dir.mkdir(parents=True, exist_ok=True)
    taken = [dataset.parse_name(p.name) for p in target_dir.iterdir()]
    number = 1 + max([n["index"] for n in taken if n["section"] == section], default=-1)
    target = target_dir / (f"section_{section}_source_{split}_{label}_{number:04d}_"
                           "noAttribute.wav")
    with atomic.atomic_path(target) as tmp:
        sf.write(tmp, wave, audio.SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return target


def audio_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files given by name (whatever they hold: an unreadable one gets its reason) and the
    audio files inside given folders, recursively, in name order."""
    files: list[Path] = []
    for given in paths:
        given = Path(given)
        if given.is_dir():
            files += sorted(p for p in given.rglob("*") if p.is_file()
                            and p.suffix.lower() in dataset.AUDIO_SUFFIXES
                            and not p.name.startswith("."))
        else:
            files.append(given)
    return files


def results_table(checked: list[dict]) -> pd.DataFrame:
    """One row per checked file (`TABLE_COLUMNS`); nearest clips joined by ``;``."""
    rows = [{**{column: result.get(column) for column in TABLE_COLUMNS},
             "nearest": ";".join(n["file"] for n in result.get("nearest") or [])}
            for result in checked]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _scored_backend(run: runs.Run) -> str | None:
    """The backend the run was last scored with (its thresholds are the ones users saw)."""
    return (run.metrics() or {}).get("backend")


def _percentile(scores: np.ndarray, score: float) -> float | None:
    """Percent of ``scores`` at or below ``score``; None without scores."""
    return float(100.0 * np.mean(scores <= score)) if len(scores) else None


def _train_embeddings(run: runs.Run, model, train: pd.DataFrame, data_root: str,
                      config: features.LogMelConfig, device: str) -> np.ndarray:
    """The training clips' embeddings: the ones scoring saved when still valid, else new."""
    saved = pipeline.valid_saved_embeddings(run, train["machine"].iloc[0], data_root, [train])
    if saved is not None:
        return saved[0]
    if model.trains_jointly:
        return model.embed_clips(train["path"].tolist())
    return model.embed(features.extract(train["path"].tolist(), config, device=device))


def _explain(model, logmel: np.ndarray, profiles: list[tuple[np.ndarray, np.ndarray]],
             config: features.LogMelConfig, n_recorded: int) -> dict:
    """Where the clip differs from its nearest normals (their `_profile`s): a value per frame
    and per mel band. The frames show the ``n_recorded`` samples the file holds, not their
    repetition that fills a short clip up to the model's length."""
    normal_bands = np.mean([band for band, _ in profiles], axis=0)
    errors = model.cell_errors(logmel[None])
    if errors is not None:  # the model's own error (the AE's reconstruction error)
        errors = errors[0]
        # Minus the nearest normals' error: the clip edges, which every clip reconstructs
        # worse (zero-padded frames), and the bands that are always hard do not stand out.
        frame_values = errors.mean(axis=0) - np.mean([frames for _, frames in profiles], axis=0)
        band_values = errors.mean(axis=1) - normal_bands
        unit = "reconstruction error above the nearest normals'"
    else:
        difference = logmel - normal_bands[:, None]
        frame_values = np.sqrt((difference ** 2).mean(axis=0))
        band_values = difference.mean(axis=1)
        unit = "dB from the nearest normals"
    n_shown = min(len(frame_values), 1 + n_recorded // config.hop_length)
    frame_values = frame_values[:n_shown]
    frame_seconds = np.arange(n_shown) * config.hop_length / config.sr
    band_hz = librosa.mel_frequencies(config.n_mels + 2, fmin=config.fmin,
                                      fmax=config.fmax)[1:-1]
    return {"unit": unit, "frame_seconds": _rounded(frame_seconds),
            "frame_deviation": _rounded(frame_values), "band_hz": _rounded(band_hz),
            "band_deviation": _rounded(band_values)}


def _profile(model, logmel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A normal clip's values per mel band and per frame that a checked clip's are compared
    with: the autoencoder's reconstruction error, else the log-mel level."""
    errors = model.cell_errors(logmel[None])
    values = logmel if errors is None else errors[0]
    return values.mean(axis=1), values.mean(axis=0)


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in values]

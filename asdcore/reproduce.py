"""The published recipe end to end on a DCASE development set (``python -m asdcore reproduce``).

Steps, each skipped when its output is already there and complete:

1. pseudo-labels for the machines without attributes, clustered as the seed system labels
   them, per machine and domain (`labels.cluster_machine` with ``per_domain``, its defaults
   otherwise): ``OUT/labels/<machine>.csv``;
2. the official AE baseline (its default settings: 100 epochs) in ``OUT/runs/ae``;
3. the seed system (``seresnet18``, the recipe's 10 epochs, the pseudo-labels) in
   ``OUT/runs/seed``;
4. scoring and the official metrics: the AE in its MSE and Mahalanobis modes, the seed
   system with the recipe's backend (`SEED_BACKEND`);
5. ``OUT/report.html``: our metrics per machine and section beside the published figures
   (`asdcore.published`), the differences coloured, the settings and the runs.

A run is done when its status says so; a scoring is done when its scores are newer than the
run's weights. An interrupted run is taken up again (the seed model from its checkpoint). A
run made with other settings is never replaced: the user is told to delete it or choose
another OUT. Nothing here prints; ``on_step(name, status, detail)`` hears of each step
(status ``started``, ``done`` or ``skipped``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from asdcore import atomic, dataset, labels, metrics, pipeline, published, results, runs, synth
from asdcore.errors import ASDError
from asdcore.metrics import OFFICIAL_COLUMNS
from asdcore.models import get_model_class
from asdcore.paths import workspace_dir
from asdcore.pipeline import TrainConfig
from asdcore.progress import CancelFn, ProgressFn, report
from asdcore.report import html_page, html_table, html_text

StepFn = Callable[[str, str, str], None]
REPORT_NAME = "report.html"
SUMMARY_KEYS = ("official_score", *(f"{column}_hmean" for column in OFFICIAL_COLUMNS))


@dataclass(frozen=True)
class Recipe:
    """What `reproduce` trains. Epochs None: the model's default (the published recipe's)."""

    device: str = "auto"
    epochs_ae: int | None = None
    epochs_seed: int | None = None
    ae_settings: dict = field(default_factory=dict)  # other model settings, for quick checks
    seed_settings: dict = field(default_factory=dict)
    label_seed: int = 0

    def model_config(self, model: str) -> dict:
        """The model settings of ``model``'s run, its epochs always written out."""
        # the seed model trains the published recipe, wherever its defaults depart from it
        settings, epochs = ((self.ae_settings, self.epochs_ae) if model == AE_MODEL
                            else ({**getattr(get_model_class(model).config_class, "recipe",
                                             {}), **self.seed_settings}, self.epochs_seed))
        default = settings.get("epochs", get_model_class(model).config_class().epochs)
        return {**settings, "epochs": default if epochs is None else epochs}


@dataclass(frozen=True)
class System:
    """A system of the report: a run scored with a backend, and its published figures."""

    key: str  # key of `published.SYSTEMS`
    run: str  # folder in OUT/runs
    model: str
    backend: str | None  # None: the model's default


AE_MODEL, SEED_MODEL = "ae", "seresnet18"
# The recipe's backend (wilkinghoff/ssl4asd; ../shared/DCASE.md 5): per section, the nearest
# of 16 k-means centres of the source embeddings and of every target embedding; `knn-dg`
# keeps this project's normalised centres (bench/RESULTS.md, "The recipe's backend").
SEED_BACKEND = "knn-dg"
SYSTEMS = (System("ae-mse", "ae", AE_MODEL, "mse"),
           System("ae-mahalanobis", "ae", AE_MODEL, "mahalanobis"),
           System("seed", "seed", SEED_MODEL, SEED_BACKEND))


def reproduce(data: str | os.PathLike, out: str | os.PathLike | None = None,
              recipe: Recipe = Recipe(), progress: ProgressFn | None = None,
              cancel: CancelFn | None = None, on_step: StepFn | None = None) -> dict:
    """Run every step that is not done yet on the development set in ``data``, into ``out``
    (default: ``workspace/reproduce/<dataset>``). Returns ``out``, ``report``, ``data``,
    ``systems`` (key -> name, run, backend, ours and published summaries) and ``skipped``
    (unusable files left out)."""
    ds = development_set(data)
    out = Path(out).expanduser().absolute() if out else default_out(ds.root)
    if out.exists() and not out.is_dir():
        raise ASDError(f"The output path {out} is a file, not a folder.")
    configs = {name: TrainConfig(data=str(ds.root), model=model, device=recipe.device,
                                 model_config=recipe.model_config(model))
               for name, model in (("ae", AE_MODEL), ("seed", SEED_MODEL))}
    for config in configs.values():
        pipeline.model_for(config)  # a bad setting: refused before any work
    label_sets = pseudo_labels(ds, out, recipe.label_seed, progress, cancel, on_step)
    made, skipped = {}, []
    for name, config in configs.items():
        made[name], problems = trained_run(out / "runs" / name, config,
                                           label_sets if name == "seed" else None,
                                           progress, cancel, on_step)
        skipped += problems
    scored = {}
    for system in SYSTEMS:
        backend = system.backend or pipeline.backends_for(system.model)[0]
        scored[system.key] = scored_result(made[system.run], backend, str(ds.root), progress,
                                           cancel, on_step)
        skipped += scored[system.key].get("skipped", [])
    path = out / REPORT_NAME
    _announce(on_step, "report", "started")
    atomic.write_text(path, build_report(ds, out, recipe, label_sets, made, scored))
    _announce(on_step, "report", "done", str(path))
    unique = {(row["file"], row["reason"]): row for row in skipped}
    return {"out": str(out), "report": str(path), "data": str(ds.root),
            "systems": system_summaries(made, scored), "skipped": list(unique.values())}


def system_summaries(made: dict[str, runs.Run], scored: dict[str, dict]) -> dict[str, dict]:
    """System key -> its name, run folder, backend, and official score and harmonic means,
    ours (None where unknown) and published."""
    return {system.key: {"name": published.SYSTEMS[system.key].name,
                         "run": str(made[system.run].path),
                         "backend": scored[system.key]["backend"],
                         "ours": _summary_of(scored[system.key]),
                         "published": dict(published.SYSTEMS[system.key].hmeans)}
            for system in SYSTEMS}


def development_set(data: str | os.PathLike) -> dataset.Dataset:
    """The development set in ``data`` (a folder of machine folders or one above it), scanned
    from its ``dev_data/raw`` folder when it has one (an ``eval_data`` beside it left out).
    `ASDError` when it has no labelled test clips to compute the official metrics with."""
    ds = dataset.scan(data)
    dev_parents = sorted({folder.path.parent for folder in ds.folders if folder.subset == "dev"})
    if len(dev_parents) > 1:
        raise ASDError(f"{ds.root} holds several development sets "
                       f"({', '.join(map(str, dev_parents))}); give one of them as DATA.")
    if dev_parents and ds.root != dev_parents[0]:  # one root whichever folder DATA names
        ds = dataset.scan(dev_parents[0])
    if metrics.truth_from_clips(ds.clips).empty:
        raise ASDError(f"{ds.root} has no labelled test clips, so the official metrics cannot "
                       "be computed: reproduce needs a development set.")
    return ds


def default_out(root: Path) -> Path:
    """Where `reproduce` works when not told: ``workspace/reproduce/<dataset>``."""
    return workspace_dir() / "reproduce" / labels.dataset_key(root)


def attributeless_machines(ds: dataset.Dataset) -> list[str]:
    """Machines with training clips whose attributes are hidden (``noAttribute``)."""
    return [machine["name"] for machine in ds.machines()
            if machine["n_train"] and not machine["has_attributes"]]


def pseudo_labels(ds: dataset.Dataset, out: Path, seed: int, progress: ProgressFn | None,
                  cancel: CancelFn | None, on_step: StepFn | None) -> dict[str, dict[str, str]]:
    """Step 1: machine -> {file: label} for every attribute-less machine, read from
    ``OUT/labels/<machine>.csv`` when it is there, else clustered and written there."""
    label_sets = {}
    for machine in attributeless_machines(ds):
        path = out / "labels" / f"{machine}.csv"
        step = f"pseudo-labels {machine}"
        if path.is_file():
            label_sets[machine] = labels.read_label_csv(path)
            _announce(on_step, step, "skipped", f"{path} exists")
            continue
        _announce(on_step, step, "started")
        result = labels.cluster_machine(ds, machine, seed=seed, per_domain=True,
                                        progress=progress, cancel=cancel)
        labels.write_label_csv(path, result.labels)
        label_sets[machine] = result.labels
        _announce(on_step, step, "done", f"{len(set(result.labels.values()))} labels for "
                  f"{len(result.labels)} clips in {path}")
    return label_sets


def trained_run(path: Path, config: TrainConfig, label_sets: dict | None,
                progress: ProgressFn | None, cancel: CancelFn | None,
                on_step: StepFn | None) -> tuple[runs.Run, list[dict]]:
    """Steps 2-3: the run in ``path`` trained with ``config`` (and pseudo-labels), and the
    unusable files training skipped. A done run is kept; an unfinished one is taken up again."""
    step = f"train {config.model} in {path}"
    if (path / "status.json").is_file():
        run = runs.Run(path)
        _check_same_recipe(run, config, label_sets or {})
        if run.status()["state"] == "done":
            _announce(on_step, step, "skipped", "done before")
            return run, []
        runs.reopen(run)  # refused while another process works on it
    else:
        run = pipeline.queue_run(str(path), config, label_sets=label_sets)
    _announce(on_step, step, "started")
    with run.working():
        problems = pipeline.train_run(run, progress=_recording(run, progress), cancel=cancel)
    _announce(on_step, step, "done")
    return run, [problem.as_row() for problem in problems]


def _check_same_recipe(run: runs.Run, config: TrainConfig, label_sets: dict) -> None:
    saved = TrainConfig.from_dict(run.config())
    wanted = {"data": config.data, "model": config.model,
              "settings": pipeline.model_settings(config)}
    found = {"data": saved.data, "model": saved.model,
             "settings": pipeline.model_settings(saved, saved=True)}
    merged = {file: label for labels_of in label_sets.values() for file, label in labels_of.items()}
    differs = [key for key in wanted if wanted[key] != found[key]]
    if pipeline.training_labels(saved) != merged:
        differs.append("pseudo-labels")
    if differs:
        raise ASDError(f"The run {run.path} was made with other {', '.join(differs)} than this "
                       "recipe; delete it or choose another --out to run the recipe again.")


def scored_result(run: runs.Run, backend: str, data_root: str, progress: ProgressFn | None,
                  cancel: CancelFn | None, on_step: StepFn | None) -> dict:
    """Step 4: ``run``'s scoring with ``backend`` (official metrics included), scored now
    unless a scoring of ``data_root`` newer than the run's weights is there."""
    step = f"score {run.path.name} with {backend}"
    if _is_scored(run, backend, data_root):
        _announce(on_step, step, "skipped", "scored before")
        return results.backend_result(run, backend)
    _announce(on_step, step, "started")
    result = pipeline.score_run(run, backend=backend, progress=progress, cancel=cancel)
    score = result["official_score"]
    _announce(on_step, step, "done",
              f"official score {score:.4f}" if score is not None else result.get("note", ""))
    return result


def _is_scored(run: runs.Run, backend: str, data_root: str) -> bool:
    scores = run.scores_dir / f"{backend}.csv"
    recorded = results.backend_result(run, backend)
    weights = [p.stat().st_mtime for p in run.weights_dir.rglob("*") if p.is_file()]
    return (scores.is_file() and recorded.get("data") == data_root and "official_score" in recorded
            and bool(weights) and scores.stat().st_mtime >= max(weights))


def _recording(run: runs.Run, progress: ProgressFn | None) -> ProgressFn:
    """A progress callback that reports to ``progress`` and appends to the run's log."""
    def record(done: int, total: int, message: str = "", **fields) -> None:
        report(progress, done, total, message, **fields)
        run.record_progress(done, total, message, **fields)
    return record


def _announce(on_step: StepFn | None, step: str, status: str, detail: str = "") -> None:
    if on_step is not None:
        on_step(step, status, detail)


def _summary_of(result: dict) -> dict[str, float | None]:
    summary = result.get("summary") or {}
    return {key: summary.get(key) for key in SUMMARY_KEYS}


# --- the report ---------------------------------------------------------------------------------

_STYLE = """
td.better { background: #d8f3d8; color: #0b5d1e; } td.worse { background: #f8dcdc; color: #8b1a1a; }
tr.total td { font-weight: bold; border-top: 2px solid #888; }
.note { color: #555; }
"""


def comparison_table(ours: dict, system: published.PublishedSystem) -> pd.DataFrame:
    """Per machine and section, then a ``harmonic mean`` row: each official metric of ours
    (a scoring result), the published figure and the difference, ours minus published (NaN
    where a figure is not published)."""
    table = results.compare_runs({"table": system.section_table().to_dict(orient="records")},
                                 ours, names=("published", "ours"))
    summary = ours.get("summary") or {}
    total = {"machine": "harmonic mean", "section": ""}
    for column in OFFICIAL_COLUMNS:
        mine = summary.get(f"{column}_hmean", math.nan)
        total.update({f"{column} (published)": system.hmeans[f"{column}_hmean"],
                      f"{column} (ours)": mine,
                      f"{column} diff": mine - system.hmeans[f"{column}_hmean"]})
    ordered = [f"{column} {part}" for column in OFFICIAL_COLUMNS
               for part in ("(ours)", "(published)", "diff")]
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    return table[["machine", "section", *ordered]]


def summary_table(systems: dict[str, dict]) -> pd.DataFrame:
    """One row per system: official score and harmonic means, ours, published, difference."""
    rows = []
    for entry in systems.values():
        row = {"system": entry["name"]}
        for key in SUMMARY_KEYS:
            mine = entry["ours"].get(key)
            mine = math.nan if mine is None else mine
            label = key.replace("_hmean", " hmean").replace("_", " ")
            row.update({f"{label} (ours)": mine, f"{label} (published)": entry["published"][key],
                        f"{label} diff": mine - entry["published"][key]})
        rows.append(row)
    return pd.DataFrame(rows)


def coloured_table(table: pd.DataFrame, digits: int = 4) -> str:
    """``table`` as HTML; ``... diff`` cells green where ours is higher (better), red where
    lower; missing values '-'; a ``harmonic mean`` row set apart."""
    head = "".join(f"<th>{html_text(column)}</th>" for column in table.columns)
    body = []
    for row in table.itertuples(index=False):
        cells = []
        for column, value in zip(table.columns, row, strict=True):
            number = isinstance(value, float)
            if number and math.isnan(value):
                cells.append("<td>-</td>")
            elif number and column.endswith("diff"):
                tone = "better" if value > 0 else "worse" if value < 0 else ""
                cells.append(f"<td class='{tone}'>{value:+.{digits}f}</td>")
            elif number:
                cells.append(f"<td>{value:.{digits}f}</td>")
            else:
                cells.append(f"<td>{html_text(value)}</td>")
        total = " class='total'" if row[0] == "harmonic mean" else ""
        body.append(f"<tr{total}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def build_report(ds: dataset.Dataset, out: Path, recipe: Recipe,
                 label_sets: dict[str, dict[str, str]], made: dict[str, runs.Run],
                 scored: dict[str, dict]) -> str:
    """OUT/report.html's text: summary, per-system tables, data note, settings and runs."""
    parts = [f"<h1>The published recipe on {html_text(ds.root)}</h1>",
             f"<p class='note'>{html_text(data_note(ds))}</p>",
             "<h2>Official score and harmonic means</h2>",
             "<p class='note'>Differences are ours minus published: green where ours is "
             "higher (better), red where lower.</p>",
             coloured_table(summary_table(system_summaries(made, scored)))]
    for system in SYSTEMS:
        figures = published.SYSTEMS[system.key]
        result = scored[system.key]
        run = made[system.run]
        parts.append(f"<h2>{html_text(figures.name)}</h2>")
        parts.append(f"<p>Ours: run <a href='{_link(run.path, out)}'>{html_text(run.path)}</a>"
                     f", scored with {html_text(result['backend'])}. Published: "
                     f"{html_text(figures.source)}.</p>")
        if not figures.per_section:
            parts.append("<p class='note'>Not published per machine: only the harmonic means "
                         "are, in the last row.</p>")
        if result.get("official_score") is None:
            parts.append(f"<p>No official metrics: {html_text(result.get('note', ''))}</p>")
        parts.append(coloured_table(comparison_table(result, figures)))
    parts += ["<h2>Pseudo-labels</h2>", _labels_part(label_sets, out),
              "<h2>Settings</h2>", _settings_part(ds, out, recipe, made)]
    return html_page(f"Recipe on {ds.root.name}", parts, with_plotly=False, style=_STYLE)


def data_note(ds: dataset.Dataset) -> str:
    """How far the published figures apply to ``ds``: synthetic data, other machines, another
    year's development set, or one that looks like the 2025 one."""
    where = f"Published figures are for the {published.DATASET}"
    if any(synth.read_manifest(folder) for folder in (ds.root, *list(ds.root.parents)[:2])):
        return (f"{where}; this is synthetic data, so the differences say nothing about the "
                "recipe: they only show that every step ran.")
    machines = ds.machines()
    names = {machine["name"] for machine in machines}
    if names != set(published.DEV_MACHINES):
        return (f"{where} ({', '.join(published.DEV_MACHINES)}); this dataset's machines "
                f"({', '.join(sorted(names))}) differ, so compare with care.")
    hidden = set(attributeless_machines(ds))
    if hidden != set(published.DEV_HIDDEN) or not any(m["n_supplemental"] for m in machines):
        return (f"{where}; this dataset has its machines but not its hidden attributes "
                f"({', '.join(published.DEV_HIDDEN)}) and supplemental clips: another year's "
                "development set? Compare with care.")
    return f"{where}, which this dataset looks like (machines, hidden attributes)."


def _labels_part(label_sets: dict[str, dict[str, str]], out: Path) -> str:
    if not label_sets:
        return "<p>Every machine has attributes: no pseudo-labels were needed.</p>"
    table = pd.DataFrame([{"machine": machine, "clips": len(found),
                           "labels": len(set(found.values())),
                           "file": str((out / "labels" / f"{machine}.csv").relative_to(out))}
                          for machine, found in sorted(label_sets.items())])
    return ("<p>Clustered with <code>label cluster</code>'s defaults (high-resolution log "
            "spectra, PCA, Gaussian mixture with k chosen by BIC), the seed system's way of "
            "labelling machines without attributes.</p>" + html_table(table, digits=0))


def _settings_part(ds: dataset.Dataset, out: Path, recipe: Recipe,
                   made: dict[str, runs.Run]) -> str:
    rows = [(key, html_text(value)) for key, value in (
        ("dataset", ds.root), ("output folder", out), ("device asked for", recipe.device),
        ("label seed", recipe.label_seed))]
    for name, run in made.items():
        config = run.config()
        rows += [(f"{name} run", f"<a href='{_link(run.path, out)}'>{html_text(run.path)}</a> "
                  f"(model {html_text(config['model'])}, status "
                  f"{html_text(run.status().get('state'))})"),
                 (f"{name} settings",
                  f"<code>{html_text(json.dumps(config['model_config']))}</code>")]
    return ("<table>" + "".join(f"<tr><th>{html_text(key)}</th><td>{value}</td></tr>"
                                for key, value in rows)
            + "</table><p class='note'>Each run's own report, with score histograms and ROC "
            "curves: <code>python -m asdcore report RUN --out FILE.html</code>.</p>")


def _link(path: Path, out: Path) -> str:
    """``path`` relative to the report's folder when inside it (the report moves with it)."""
    try:
        return html_text(path.relative_to(out).as_posix() + "/")
    except ValueError:
        return html_text(path.as_uri())

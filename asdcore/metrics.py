"""Official DCASE Task 2 metrics, submission files and the decision threshold.

The definitions follow the official evaluator (``nttcslab/dcase2024_task2_evaluator``, reused
for 2025), per machine type and section:

- ``AUC_source``: ROC AUC of the source-domain normal clips against ALL anomalous clips of the
  section (source and target anomalies). ``AUC_target`` likewise with the target normals.
- ``pAUC``: ``roc_auc_score(y, score, max_fpr=0.1)`` over every clip of the section, i.e. the
  McClish-standardised partial AUC (chance level 0.5).
- ``precision_<domain>``, ``recall_<domain>``, ``F1_<domain>``: from the 0/1 decisions of the
  clips OF THAT DOMAIN only (its normals and its anomalies; this is where the evaluator differs
  from the AUC rule), each ratio with its denominator floored at machine epsilon, so an empty
  denominator gives 0 instead of NaN.
- official score: ONE harmonic mean over every AUC_source, AUC_target and pAUC value of every
  (machine, section), each floored at machine epsilon first.

Submission files have no header: ``anomaly_score_<machine>_section_<SS>_test.csv`` with rows
``<file name>,<score>`` and ``decision_result_<machine>_section_<SS>_test.csv`` with rows
``<file name>,<0|1>``. The evaluator pairs rows with the ground truth by sorted file name, so a
missing, extra or duplicate row silently misaligns everything; the reader here refuses them.
"""

from __future__ import annotations

import csv
import io
import math
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
from sklearn.metrics import roc_auc_score

from asdcore.atomic import write_text
from asdcore.constants import DOMAINS
from asdcore.errors import ASDError

MAX_FPR = 0.1
EPSILON = sys.float_info.epsilon
OFFICIAL_COLUMNS = ("AUC_source", "AUC_target", "pAUC")
DECISION_COLUMNS = tuple(f"{metric}_{domain}" for metric in ("precision", "recall", "F1")
                         for domain in DOMAINS)
TRUTH_COLUMNS = ("machine", "section", "name", "domain", "label")


# --- per-section metrics ---------------------------------------------------------------------

def section_metrics(is_anomaly, domain, score, decision=None) -> dict[str, float]:
    """Official metrics of one machine/section from plain arrays.

    ``is_anomaly``: bools (or 0/1); ``domain``: "source"/"target" per clip; ``score``: higher
    means more anomalous; ``decision``: optional 0/1 per clip. A value that is undefined (a
    domain without normal clips, a section without anomalies) is NaN.
    """
    y = np.asarray(is_anomaly, dtype=bool)
    dom = np.asarray(domain, dtype=object)
    s = np.asarray(score, dtype=float)
    if not (len(y) == len(dom) == len(s)):
        raise ValueError("is_anomaly, domain and score must have the same length")
    if not np.all(np.isfinite(s)):
        raise ASDError("Anomaly scores must be finite numbers (found NaN or infinity).")
    values = {"pAUC": _auc(y, s, max_fpr=MAX_FPR)}
    for name in DOMAINS:
        in_domain = dom == name
        # The domain's normals against every anomaly of the section, as the evaluator does.
        selected = in_domain | y
        values[f"AUC_{name}"] = _auc(y[selected], s[selected])
        if decision is not None:
            d = np.asarray(decision, dtype=int)
            values.update(_decision_metrics(y[in_domain], d[in_domain], name))
    return values


def _auc(y: np.ndarray, s: np.ndarray, max_fpr: float | None = None) -> float:
    if y.all() or not y.any():
        return math.nan
    return float(roc_auc_score(y, s, max_fpr=max_fpr))


def _decision_metrics(y: np.ndarray, d: np.ndarray, domain: str) -> dict[str, float]:
    tp = float(np.sum(y & (d == 1)))
    fp = float(np.sum(~y & (d == 1)))
    fn = float(np.sum(y & (d == 0)))
    precision = tp / max(tp + fp, EPSILON)
    recall = tp / max(tp + fn, EPSILON)
    f1 = 2.0 * precision * recall / max(precision + recall, EPSILON)
    return {f"precision_{domain}": precision, f"recall_{domain}": recall, f"F1_{domain}": f1}


# --- tables ----------------------------------------------------------------------------------

def evaluate(clips: pd.DataFrame) -> pd.DataFrame:
    """One row per (machine, section) with the official metrics.

    ``clips`` has columns ``machine, section, domain, label, score`` and optionally
    ``decision``; ``label`` is "normal" or "anomaly", ``domain`` "source" or "target".
    Columns of the result: machine, section, AUC_source, AUC_target, pAUC, then
    precision/recall/F1 per domain when decisions are given.
    """
    required = {"machine", "section", "domain", "label", "score"}
    missing = required - set(clips.columns)
    if missing:
        raise ASDError(f"The clip table lacks the column(s) {', '.join(sorted(missing))}.")
    bad_label = ~clips["label"].isin(["normal", "anomaly"])
    if bad_label.any():
        raise ASDError(f"{int(bad_label.sum())} clip(s) have no normal/anomaly label, "
                       "so they cannot be evaluated (eval clips need a ground-truth list).")
    bad_domain = ~clips["domain"].isin(DOMAINS)
    if bad_domain.any():
        raise ASDError(f"{int(bad_domain.sum())} clip(s) have no source/target domain, "
                       "so they cannot be evaluated.")
    with_decisions = "decision" in clips.columns
    rows = []
    for (machine, section), group in clips.groupby(["machine", "section"], sort=True):
        values = section_metrics(group["label"].to_numpy() == "anomaly",
                                 group["domain"].to_numpy(), group["score"].to_numpy(),
                                 group["decision"].to_numpy() if with_decisions else None)
        rows.append({"machine": machine, "section": section, **values})
    columns = ["machine", "section", *OFFICIAL_COLUMNS,
               *(DECISION_COLUMNS if with_decisions else ())]
    return pd.DataFrame(rows, columns=columns)


def official_score(table_or_values: pd.DataFrame | Iterable[float]) -> float:
    """The official score: one harmonic mean of every AUC_source, AUC_target and pAUC.

    Takes the table of `evaluate` or a flat sequence of those values. Each value is floored at
    machine epsilon before the harmonic mean, as the evaluator does. An undefined (NaN) value
    is an error, never silently dropped.
    """
    if isinstance(table_or_values, pd.DataFrame):
        values = table_or_values[list(OFFICIAL_COLUMNS)].to_numpy(dtype=float).ravel()
    else:
        values = np.asarray(list(table_or_values), dtype=float)
    return _floored_hmean(values, "the official score")


def summarize(table: pd.DataFrame) -> dict[str, float]:
    """Harmonic means per official column (as the DCASE result tables report) and the score.

    Keys: ``AUC_source_hmean``, ``AUC_target_hmean``, ``pAUC_hmean``, ``official_score``.
    """
    summary = {f"{column}_hmean": _floored_hmean(table[column].to_numpy(dtype=float), column)
               for column in OFFICIAL_COLUMNS}
    summary["official_score"] = official_score(table)
    return summary


def _floored_hmean(values: np.ndarray, what: str) -> float:
    if values.size == 0:
        raise ASDError(f"There is nothing to compute {what} from.")
    if np.isnan(values).any():
        raise ASDError(f"Cannot compute {what}: some sections lack the clips a metric needs "
                       "(normal clips of a domain, or anomalous clips).")
    return float(scipy.stats.hmean(np.maximum(values, EPSILON)))


# --- decision threshold ----------------------------------------------------------------------

def gamma_threshold(train_scores, percentile: float = 0.9) -> float:
    """Decision threshold: the ``percentile`` quantile of a gamma fit to training scores.

    Same as the official baseline (``scipy.stats.gamma.fit`` with free shape, loc and scale,
    then ``gamma.ppf``). Fallback to the empirical quantile of the scores when the fit is not
    meaningful: fewer than three scores, all scores equal, or a fit that does not converge to
    finite parameters (it can, for instance, on heavily skewed negative scores).
    """
    if not 0.0 < percentile < 1.0:
        raise ASDError(f"The threshold percentile must lie between 0 and 1, not {percentile}.")
    scores = np.asarray(train_scores, dtype=float).ravel()
    if scores.size == 0:
        raise ASDError("A decision threshold needs at least one training score.")
    if not np.all(np.isfinite(scores)):
        raise ASDError("Training scores must be finite numbers (found NaN or infinity).")
    if scores.size < 3 or np.ptp(scores) == 0.0:
        return float(np.quantile(scores, percentile))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            # Fitted on scores of unit mean magnitude, then scaled back: the fit is scale-
            # equivariant in theory, but scipy's optimiser stalls on tiny scores (cosine
            # distances ~1e-4 gave a threshold 600x above every training score).
            unit = float(np.mean(np.abs(scores)))
            shape, loc, scale = scipy.stats.gamma.fit(scores / unit)
            threshold = unit * float(scipy.stats.gamma.ppf(percentile, shape, loc=loc,
                                                           scale=scale))
        except (ValueError, RuntimeError, FloatingPointError):
            threshold = math.nan
    return threshold if math.isfinite(threshold) else float(np.quantile(scores, percentile))


# --- submission files ------------------------------------------------------------------------

def section_id(section) -> str:
    """Two-digit section id ("00") from "00", "0" or 0."""
    text = str(section).strip()
    if not text.isdigit():
        raise ASDError(f"A section id must be a number such as 00, not {section!r}.")
    return f"{int(text):02d}"


def score_file_name(machine: str, section) -> str:
    return f"anomaly_score_{machine}_section_{section_id(section)}_test.csv"


def decision_file_name(machine: str, section) -> str:
    return f"decision_result_{machine}_section_{section_id(section)}_test.csv"


def write_submission(out_dir: str | Path, clips: pd.DataFrame) -> list[Path]:
    """Write the official score and decision files, one pair per (machine, section).

    ``clips`` has columns ``machine, section, score, decision`` and either ``name`` (the wav
    file name) or ``file`` (a path ending in it). Rows are written sorted by file name, scores
    with full float precision. Returns the files written.
    """
    table = _with_names(clips)
    missing = {"machine", "section", "score", "decision"} - set(table.columns)
    if missing:
        raise ASDError(f"Cannot write a submission without the column(s) "
                       f"{', '.join(sorted(missing))}.")
    if not np.all(np.isfinite(table["score"].to_numpy(dtype=float))):
        raise ASDError("Cannot write a submission with NaN or infinite anomaly scores.")
    out = Path(out_dir)
    written = []
    for (machine, section), group in table.groupby(["machine", "section"], sort=True):
        group = group.sort_values("name")
        _check_unique_names(group["name"], f"{machine} section {section_id(section)}")
        score_lines = "".join(f"{name},{float(score)!r}\n"
                              for name, score in zip(group["name"], group["score"], strict=True))
        decision_lines = "".join(
            f"{name},{_as_decision(value, name)}\n"
            for name, value in zip(group["name"], group["decision"], strict=True))
        for file_name, text in ((score_file_name(machine, section), score_lines),
                                (decision_file_name(machine, section), decision_lines)):
            write_text(out / file_name, text)
            written.append(out / file_name)
    return written


def read_score_file(path: str | Path) -> pd.DataFrame:
    """Read an anomaly-score file into columns ``name, score``, sorted by name."""
    return _read_submission_file(Path(path), "score")


def read_decision_file(path: str | Path) -> pd.DataFrame:
    """Read a decision file into columns ``name, decision`` (0/1), sorted by name."""
    return _read_submission_file(Path(path), "decision")


def _read_submission_file(path: Path, column: str) -> pd.DataFrame:
    if not path.is_file():
        raise ASDError(f"The submission file {path} is missing.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ASDError(f"Cannot read the submission file {path}: {err}.") from err
    names, values = [], []
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if len(row) != 2 or not row[0].strip():
            raise ASDError(f"{path.name} line {line_no}: expected '<file name>,<{column}>', "
                           f"got {','.join(row)!r}.")
        name, raw = row[0].strip(), row[1].strip()
        try:
            value = float(raw)
        except ValueError:
            raise ASDError(f"{path.name} line {line_no}: {raw!r} is not a number.") from None
        if column == "score" and not math.isfinite(value):
            raise ASDError(f"{path.name} line {line_no}: the score of {name} is {raw}, "
                           "not a finite number.")
        if column == "decision":
            if value not in (0.0, 1.0):
                raise ASDError(f"{path.name} line {line_no}: a decision must be 0 or 1, "
                               f"not {raw!r}.")
            value = int(value)
        names.append(name)
        values.append(value)
    if not names:
        raise ASDError(f"The submission file {path.name} is empty.")
    table = pd.DataFrame({"name": names, column: values}).sort_values("name")
    _check_unique_names(table["name"], path.name)
    return table.reset_index(drop=True)


def _with_names(clips: pd.DataFrame) -> pd.DataFrame:
    if "name" in clips.columns:
        return clips
    if "file" not in clips.columns:
        raise ASDError("The clip table needs a 'name' or 'file' column to name the clips.")
    return clips.assign(name=clips["file"].map(lambda f: Path(str(f)).name))


def _check_unique_names(names: pd.Series, where: str) -> None:
    duplicated = names[names.duplicated()].unique()
    if len(duplicated):
        raise ASDError(f"{where} lists {_few(duplicated)} more than once.")


def _as_decision(value, name: str) -> int:
    if value not in (0, 1):
        raise ASDError(f"The decision for {name} must be 0 or 1, not {value!r}.")
    return int(value)


def _few(names, limit: int = 3) -> str:
    names = sorted(map(str, names))
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# --- evaluating a submission folder ----------------------------------------------------------

def truth_from_clips(clips: pd.DataFrame) -> pd.DataFrame:
    """Ground truth (``machine, section, name, domain, label``) of the labelled test clips of a
    clip table (dev test clips, or eval clips already mapped through a ground-truth list)."""
    test = _with_names(clips)
    test = test[(test["split"] == "test") & test["label"].isin(["normal", "anomaly"])]
    return test[list(TRUTH_COLUMNS)].reset_index(drop=True)


def evaluate_submission(submission_dir: str | Path,
                        truth: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Evaluate a folder of official submission files against ground truth.

    ``truth`` has columns ``machine, section, name, domain, label``. Every (machine, section)
    of the truth needs both files, each listing exactly the truth's clips. Returns the table of
    `evaluate` (with decision metrics) and the official score.
    """
    missing = set(TRUTH_COLUMNS) - set(truth.columns)
    if missing:
        raise ASDError(f"The ground truth lacks the column(s) {', '.join(sorted(missing))}.")
    folder = Path(submission_dir)
    if not folder.is_dir():
        raise ASDError(f"The submission folder {folder} does not exist.")
    merged = []
    for (machine, section), group in truth.groupby(["machine", "section"], sort=True):
        expected = set(group["name"])
        scores = read_score_file(folder / score_file_name(machine, section))
        decisions = read_decision_file(folder / decision_file_name(machine, section))
        for file_name, table in ((score_file_name(machine, section), scores),
                                 (decision_file_name(machine, section), decisions)):
            _check_same_clips(file_name, set(table["name"]), expected)
        merged.append(group.merge(scores, on="name").merge(decisions, on="name"))
    table = evaluate(pd.concat(merged, ignore_index=True))
    return table, official_score(table)


def _check_same_clips(file_name: str, listed: set[str], expected: set[str]) -> None:
    absent, extra = expected - listed, listed - expected
    if absent:
        raise ASDError(f"{file_name} has no row for {len(absent)} test clip(s): {_few(absent)}.")
    if extra:
        raise ASDError(f"{file_name} has {len(extra)} row(s) for unknown clip(s): "
                       f"{_few(extra)}.")

"""Official DCASE metrics: golden values, the AUC rule, submission files, the threshold."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from sklearn.metrics import roc_auc_score

from asdcore import metrics
from asdcore.errors import ASDError

# Published per-machine values of the official AE baseline (MSE mode) on the 2025 evaluation
# set: AutoTrash, HomeCamera, ToyPet, ToyRCCar, BandSealer, CoffeeGrinder, Polisher, ScrewFeeder.
BASELINE_2025_EVAL_MSE = {
    "AUC_source": [.8102, .8140, .6770, .5284, .7198, .7304, .6686, .6486],
    "AUC_target": [.3436, .4976, .3670, .6272, .3956, .4436, .4430, .6592],
    "pAUC": [.5421, .5284, .5500, .5553, .5205, .5342, .5232, .6211],
}

# The same for the Mahalanobis mode, from the README of the official dcase2025_task2_evaluator
# (rows DCASE2025_baseline_task2_MAHALA), rounded to 4 decimals as the MSE values are.
BASELINE_2025_EVAL_MAHALANOBIS = {
    "AUC_source": [.7726, .8616, .6982, .5586, .7638, .7498, .7042, .7290],
    "AUC_target": [.5260, .4264, .5090, .5548, .3268, .4042, .5278, .7904],
    "pAUC": [.5416, .5184, .5684, .5400, .4911, .5142, .5379, .7005],
}


@pytest.mark.parametrize("published, expected", [
    (BASELINE_2025_EVAL_MSE, 0.54428),
    (BASELINE_2025_EVAL_MAHALANOBIS, 0.56506),
], ids=["mse", "mahalanobis"])
def test_official_score_reproduces_published_baseline(published, expected):
    values = [v for column in published.values() for v in column]
    assert round(metrics.official_score(values), 5) == expected


def test_official_score_is_one_hmean_over_all_values_not_a_mean_of_means():
    table = pd.DataFrame(BASELINE_2025_EVAL_MSE).assign(machine=list("abcdefgh"), section="00")
    flat = np.concatenate([table[c] for c in metrics.OFFICIAL_COLUMNS])
    assert metrics.official_score(table) == pytest.approx(scipy.stats.hmean(flat), abs=1e-15)
    per_machine = scipy.stats.hmean(table[list(metrics.OFFICIAL_COLUMNS)], axis=1)
    assert metrics.official_score(table) != pytest.approx(np.mean(per_machine), abs=1e-6)


def test_official_score_floors_at_machine_epsilon_and_refuses_nan():
    with_zero = metrics.official_score([0.0, 0.5])
    assert with_zero == pytest.approx(scipy.stats.hmean([sys.float_info.epsilon, 0.5]))
    with pytest.raises(ASDError, match="lack the clips"):
        metrics.official_score([0.5, math.nan])


def test_summarize_reports_column_hmeans():
    table = pd.DataFrame(BASELINE_2025_EVAL_MSE)
    summary = metrics.summarize(table)
    assert summary["AUC_source_hmean"] == pytest.approx(
        scipy.stats.hmean(BASELINE_2025_EVAL_MSE["AUC_source"]))
    assert summary["official_score"] == pytest.approx(0.54428, abs=5e-6)


def test_auc_source_uses_anomalies_of_both_domains():
    # Source normals score 0.3 and 0.5; the source anomaly 0.6 beats both, the target anomaly
    # 0.4 beats only one. Official AUC_source = 3 of 4 pairs = 0.75; restricted to the source
    # domain it would be 1.0.
    domain = ["source", "source", "source", "target", "target", "target"]
    is_anomaly = [False, False, True, False, False, True]
    score = [0.3, 0.5, 0.6, 0.1, 0.2, 0.4]
    values = metrics.section_metrics(is_anomaly, domain, score)
    assert values["AUC_source"] == pytest.approx(0.75)
    assert roc_auc_score([0, 0, 1], [0.3, 0.5, 0.6]) == 1.0  # the common mistake differs
    # Target normals 0.1, 0.2 are beaten by both anomalies.
    assert values["AUC_target"] == pytest.approx(1.0)
    assert values["pAUC"] == pytest.approx(roc_auc_score(is_anomaly, score, max_fpr=0.1))


def test_decision_metrics_use_only_the_domains_own_clips():
    domain = ["source"] * 4 + ["target"] * 4
    is_anomaly = [False, False, True, True] * 2
    score = np.arange(8.0)
    decision = [0, 1, 1, 0, 0, 0, 1, 1]
    values = metrics.section_metrics(is_anomaly, domain, score, decision)
    assert values["precision_source"] == pytest.approx(0.5)   # tp 1, fp 1
    assert values["recall_source"] == pytest.approx(0.5)      # tp 1, fn 1
    assert values["F1_source"] == pytest.approx(0.5)
    assert values["precision_target"] == pytest.approx(1.0)
    assert values["recall_target"] == pytest.approx(1.0)
    # No positive decisions at all: 0, not NaN (denominators floored at epsilon).
    none = metrics.section_metrics(is_anomaly, domain, score, [0] * 8)
    assert none["precision_source"] == 0.0 and none["F1_target"] == 0.0


def test_evaluate_gives_one_row_per_machine_and_section():
    rng = np.random.default_rng(0)
    clips = _random_truth(rng, {"fan": ["00", "01"], "valve": ["00"]}, n_per_cell=5)
    clips["score"] = rng.normal(size=len(clips))
    table = metrics.evaluate(clips)
    assert list(table["machine"]) == ["fan", "fan", "valve"]
    assert list(table.columns) == ["machine", "section", *metrics.OFFICIAL_COLUMNS]
    clips["label"] = clips["label"].where(clips.index > 0, "unknown")
    with pytest.raises(ASDError, match="no normal/anomaly label"):
        metrics.evaluate(clips)


# --- submission files -------------------------------------------------------------------------

def test_submission_round_trip_is_sorted_and_exact(tmp_path):
    clips = pd.DataFrame({
        "machine": ["fan"] * 3, "section": ["00"] * 3,
        "file": ["fan/test/b.wav", "fan/test/a.wav", "fan/test/c.wav"],
        "score": [0.1 + 0.2, 1e-17, -3.5], "decision": [1, 0, 1],
    })
    written = metrics.write_submission(tmp_path, clips)
    assert [p.name for p in written] == ["anomaly_score_fan_section_00_test.csv",
                                        "decision_result_fan_section_00_test.csv"]
    text = written[0].read_text()
    assert text.splitlines()[0] == "a.wav,1e-17" and "," in text and "name" not in text
    scores = metrics.read_score_file(written[0])
    assert list(scores["name"]) == ["a.wav", "b.wav", "c.wav"]
    assert list(scores["score"]) == [1e-17, 0.1 + 0.2, -3.5]
    assert list(metrics.read_decision_file(written[1])["decision"]) == [0, 1, 1]


@pytest.mark.parametrize("content, message", [
    ("a.wav,0.1\na.wav,0.2\n", "more than once"),
    ("a.wav,nan\n", "not a finite number"),
    ("file_name,score\na.wav,0.1\n", "not a number"),
    ("a.wav;0.1\n", "expected"),
    ("a.wav,0.1\n\nb.wav,0.2\n", "line 2"),
    ("", "empty"),
])
def test_bad_score_files_are_clear_errors_naming_the_file(tmp_path, content, message):
    path = tmp_path / "anomaly_score_fan_section_00_test.csv"
    path.write_text(content)
    with pytest.raises(ASDError, match=message) as err:
        metrics.read_score_file(path)
    assert path.name in str(err.value)


def test_bad_decision_is_an_error(tmp_path):
    path = tmp_path / "decision_result_fan_section_00_test.csv"
    path.write_text("a.wav,2\n")
    with pytest.raises(ASDError, match="0 or 1"):
        metrics.read_decision_file(path)


def test_evaluate_submission_refuses_missing_extra_rows_and_files(tmp_path):
    rng = np.random.default_rng(1)
    truth = _random_truth(rng, {"fan": ["00"]}, n_per_cell=3)
    submission = truth.assign(score=rng.normal(size=len(truth)), decision=0)
    metrics.write_submission(tmp_path, submission.iloc[1:])
    with pytest.raises(ASDError, match="no row for 1 test clip"):
        metrics.evaluate_submission(tmp_path, truth)
    extra = pd.concat([submission, submission.iloc[:1].assign(name="zzz.wav")])
    metrics.write_submission(tmp_path, extra)
    with pytest.raises(ASDError, match="unknown clip.*zzz.wav"):
        metrics.evaluate_submission(tmp_path, truth)
    (tmp_path / metrics.decision_file_name("fan", "00")).unlink()
    with pytest.raises(ASDError, match="decision_result_fan_section_00_test.csv is missing"):
        metrics.evaluate_submission(tmp_path, truth)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_evaluate_submission_agrees_with_an_independent_implementation(tmp_path, seed):
    rng = np.random.default_rng(seed)
    layout = {"fan": ["00", "01"], "ToyCar": ["00"], "valve": ["00", "01", "02"]}
    truth = _random_truth(rng, layout, n_per_cell=int(rng.integers(3, 30)))
    # Informative but noisy scores with ties, and random decisions.
    scores = np.round(rng.normal(size=len(truth)) + (truth["label"] == "anomaly") * 0.7, 1)
    submission = truth.assign(score=scores, decision=rng.integers(0, 2, size=len(truth)))
    metrics.write_submission(tmp_path, submission.sample(frac=1.0, random_state=seed))

    table, official = metrics.evaluate_submission(tmp_path, truth)
    expected = _reference_evaluation(tmp_path, truth)
    for row, reference in zip(table.to_dict("records"), expected["rows"], strict=True):
        for key, value in reference.items():
            assert row[key] == pytest.approx(value, abs=1e-4), (row["machine"], key)
    assert official == pytest.approx(expected["official"], abs=1e-4)


def _random_truth(rng, layout: dict[str, list[str]], n_per_cell: int) -> pd.DataFrame:
    rows = []
    for machine, sections in layout.items():
        for section in sections:
            for domain in ("source", "target"):
                for label in ("normal", "anomaly"):
                    for i in range(n_per_cell):
                        name = f"section_{section}_{domain}_test_{label}_{i:04d}_x.wav"
                        rows.append((machine, section, name, domain, label))
    return pd.DataFrame(rows, columns=["machine", "section", "name", "domain", "label"])


def _reference_evaluation(folder, truth: pd.DataFrame) -> dict:
    """Straightforward re-implementation reading the files the evaluator's way (rows sorted by
    file name, aligned with sorted ground truth)."""
    rows, auc_s, auc_t, paucs = [], [], [], []
    for machine in sorted(truth["machine"].unique()):
        for section in sorted(truth[truth["machine"] == machine]["section"].unique()):
            gt = truth[(truth["machine"] == machine) & (truth["section"] == section)]
            gt = sorted(zip(gt["name"], gt["label"], gt["domain"], strict=True))

            def read(prefix, machine=machine, section=section):
                lines = (folder / f"{prefix}_{machine}_section_{section}_test.csv").read_text()
                return [float(line.split(",")[1]) for line in sorted(lines.splitlines())]
            score, decision = read("anomaly_score"), read("decision_result")
            y = [1 if label == "anomaly" else 0 for _, label, _ in gt]
            row = {"pAUC": roc_auc_score(y, score, max_fpr=0.1)}
            for domain in ("source", "target"):
                keep = [i for i, (_, _, d) in enumerate(gt) if d == domain or y[i] == 1]
                row[f"AUC_{domain}"] = roc_auc_score([y[i] for i in keep],
                                                     [score[i] for i in keep])
                own = [i for i, (_, _, d) in enumerate(gt) if d == domain]
                tp = sum(1 for i in own if y[i] == 1 and decision[i] == 1)
                fp = sum(1 for i in own if y[i] == 0 and decision[i] == 1)
                fn = sum(1 for i in own if y[i] == 1 and decision[i] == 0)
                precision = tp / (tp + fp) if tp + fp else 0.0
                recall = tp / (tp + fn) if tp + fn else 0.0
                row[f"precision_{domain}"] = precision
                row[f"recall_{domain}"] = recall
                row[f"F1_{domain}"] = (2 * precision * recall / (precision + recall)
                                       if precision + recall else 0.0)
            rows.append(row)
            auc_s.append(row["AUC_source"])
            auc_t.append(row["AUC_target"])
            paucs.append(row["pAUC"])
    everything = auc_s + auc_t + paucs
    return {"rows": rows, "official": len(everything) / sum(1 / v for v in everything)}


# --- threshold --------------------------------------------------------------------------------

def test_gamma_threshold_matches_the_baseline_recipe():
    scores = np.random.default_rng(0).gamma(2.0, 1.5, size=500)
    shape, loc, scale = scipy.stats.gamma.fit(scores)
    expected = scipy.stats.gamma.ppf(0.9, shape, loc=loc, scale=scale)
    assert metrics.gamma_threshold(scores) == pytest.approx(expected)
    assert metrics.gamma_threshold(scores, 0.5) < metrics.gamma_threshold(scores, 0.99)


@pytest.mark.parametrize("scores, expected", [
    ([0.7] * 20, 0.7),          # constant: the value itself
    ([0.2], 0.2),               # a single score
    ([1.0, 3.0], 2.8),          # too few for a fit: empirical quantile
])
def test_gamma_threshold_degenerate_inputs_fall_back_to_the_empirical_quantile(scores, expected):
    assert metrics.gamma_threshold(scores) == pytest.approx(expected)


def test_gamma_threshold_handles_negative_scores_and_refuses_nan():
    scores = -np.random.default_rng(1).gamma(2.0, 1.0, size=300)
    threshold = metrics.gamma_threshold(scores)
    assert math.isfinite(threshold) and scores.min() < threshold < scores.max() + 1
    with pytest.raises(ASDError, match="finite"):
        metrics.gamma_threshold([0.1, math.nan, 0.3])
    with pytest.raises(ASDError, match="at least one"):
        metrics.gamma_threshold([])

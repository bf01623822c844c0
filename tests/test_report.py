"""The HTML report and the pure helpers behind the result pages."""

import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from app_driving import quick_run

from asdcore import pipeline, projection, report, results, viz
from asdcore.errors import ASDError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scored_run(tiny_data):
    return quick_run("report-run", tiny_data, overwrite=True)


@pytest.mark.slow
def test_report_is_one_offline_file_with_figures_metrics_and_config(scored_run, tmp_path):
    out = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "asdcore", "report", str(scored_run.path),
                           "--out", out], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", page), "everything must be inline (offline)"
    assert page.count("Plotly.newPlot") == 4  # histogram + ROC per machine
    assert page.count("plotly.js v") == 1  # the library embedded once
    official = scored_run.metrics()["official_score"]
    assert f"Official score: {official:.4f}" in page
    assert "<th>AUC_source</th>" in page and ">valve<" in page
    assert "&quot;model&quot;: &quot;logmel-stats&quot;" in page
    assert list(tmp_path.iterdir()) == [out]  # written atomically: no temporary file left


def test_report_of_an_unscored_run_is_a_clear_error(tiny_data):
    run = pipeline.queue_run("unscored", pipeline.TrainConfig(data=str(tiny_data),
                                                              model="logmel-stats"))
    with pytest.raises(ASDError, match="no scores yet"):
        report.build_report(run)
    with pytest.raises(ASDError, match="no submission files"):
        report.submission_zip(run)


def test_submission_zip_holds_the_official_files(scored_run):
    names = zipfile.ZipFile(io.BytesIO(report.submission_zip(scored_run))).namelist()
    assert sorted(names) == sorted(p.name for p in scored_run.submission_dir.glob("*.csv"))
    assert "anomaly_score_fan_section_00_test.csv" in names


def test_thresholds_are_kept_per_section_and_drawn(scored_run):
    scores = pipeline.read_scores(scored_run, "knn-dg")
    fan = scores[scores["machine"] == "fan"]
    thresholds = results.section_thresholds(fan)
    assert list(thresholds) == ["00"]
    assert ((fan["score"] > thresholds["00"]).astype(int) == fan["decision"]).all()
    assert results.section_thresholds(fan.drop(columns="threshold")) == {}


def test_histogram_draws_thresholds_near_the_scores_and_names_far_ones():
    scores = pd.DataFrame({"score": [0.1, 0.2, 0.3, 0.4], "label": ["normal", "anomaly"] * 2,
                           "domain": ["source"] * 2 + ["target"] * 2, "section": ["00"] * 4})
    fig = viz.score_histogram_figure(scores, {"00": 0.25, "01": 50.0})
    assert [shape.x0 for shape in fig.layout.shapes] == [0.25, 0.25]  # one line per domain
    assert any("threshold s01 = 50" in a.text for a in fig.layout.annotations)


def test_loss_curve_from_per_epoch_and_per_batch_fields():
    per_epoch = [{"step": e, "total": 3, "message": "", "epoch": e, "epochs": 3, "loss": 1 / e}
                 for e in (1, 2, 3)]
    assert results.loss_curve(per_epoch)["epoch"].tolist() == [1.0, 2.0, 3.0]
    per_batch = [{"message": "training", "epoch": e, "epochs": 2, "loss": x}
                 for e in (1, 2) for x in (3, 2)]
    curve = results.loss_curve([{"message": "epoch 9/9 loss 7", "epoch": None}, *per_batch])
    assert curve["epoch"].tolist() == [0.5, 1.0, 1.5, 2.0]  # the message is not read
    assert curve["loss"].tolist() == [3.0, 2.0, 3.0, 2.0]
    assert results.loss_curve([{"message": "features", "epoch": None, "loss": None}]).empty
    assert results.progress_state([]) == (0.0, "waiting for the worker to start")
    assert results.progress_state([{"step": 5, "total": 10, "message": "m"}]) == (0.5, "m")


def test_loss_curve_of_a_run_recorded_before_events_had_fields():
    per_epoch = [{"step": e, "total": 3, "message": f"epoch {e}/3: train loss {1 / e:.4f}"}
                 for e in (1, 2, 3)]
    assert results.loss_curve(per_epoch)["epoch"].tolist() == [1.0, 2.0, 3.0]
    per_batch = [{"message": f"training: epoch {e}/2 loss {x}"} for e in (1, 2) for x in (3, 2)]
    curve = results.loss_curve([{"message": "loading audio"}, *per_batch])
    assert curve["epoch"].tolist() == [0.5, 1.0, 1.5, 2.0]
    assert curve["loss"].tolist() == [3.0, 2.0, 3.0, 2.0]
    assert results.loss_curve([{"message": "features"}]).empty


def test_training_progress_reaches_the_run_as_fields(tmp_path):
    """A training loop's fields pass through nested stages into progress.jsonl."""
    from asdcore import runs
    from asdcore.progress import report, stage

    run = runs.create_run(tmp_path / "r", {})
    inner = stage(stage(run.record_progress, 0, 2, "training"), 1, 2, "fan training")
    report(inner, 1, 4, "epoch 1/4: train loss 0.5000", epoch=1, epochs=4, loss=0.5)
    report(lambda done, total, message="": None, 1, 2, "a callback without fields", loss=1.0)
    (event,) = run.progress()
    assert event["stage"] == "training: fan training"
    assert (event["step"], event["total"]) == (625, 2000)
    assert (event["epoch"], event["epochs"], event["loss"]) == (1, 4, 0.5)
    assert results.loss_curve(run.progress())["loss"].tolist() == [0.5]
    with pytest.raises(TypeError):  # a misspelt field fails where it is reported
        report(run.record_progress, 1, 2, "x", los=0.5)


def test_run_comparison_lines_up_sections_and_differences():
    first = {"table": [{"machine": "fan", "section": "00", "AUC_source": 0.8, "AUC_target": 0.6,
                        "pAUC": 0.5}]}
    second = {"table": [{"machine": "fan", "section": "00", "AUC_source": 0.9,
                         "AUC_target": 0.5, "pAUC": 0.5},
                        {"machine": "valve", "section": "00", "AUC_source": 0.7,
                         "AUC_target": 0.7, "pAUC": 0.6}]}
    table = results.compare_runs(first, second, ("a", "b"))
    assert table.columns[:5].tolist() == ["machine", "section", "AUC_source (a)",
                                          "AUC_source (b)", "AUC_source diff"]
    assert table.loc[0, "AUC_source diff"] == pytest.approx(0.1)
    assert table.loc[0, "AUC_target diff"] == pytest.approx(-0.1)
    assert np.isnan(table.loc[1, "AUC_source (a)"])  # a section only the second run has


def test_embedding_map_points_carry_clip_ids():
    points = pd.DataFrame({"x": [0.0, 1.0], "y": [1.0, 0.0], "clip_id": ["a", "b"],
                           "file": ["fa", "fb"], "domain": ["source", "target"],
                           "label": ["normal", "anomaly"]})
    fig = viz.embedding_map_figure(points, "label")
    assert sorted(c[0] for trace in fig.data for c in trace.customdata) == ["a", "b"]


def test_pca_map_is_cached_on_disk_and_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("ASD_CACHE_DIR", str(tmp_path / "cache"))  # other tests share the cache
    vectors = np.random.default_rng(0).normal(size=(40, 16))
    assert not projection.is_cached(vectors, "pca")
    points = projection.project(vectors, "pca")
    assert points.shape == (40, 2)
    assert projection.is_cached(vectors, "pca")
    assert np.array_equal(projection.project(vectors, "pca"), points)
    with pytest.raises(ASDError, match="at least three"):
        projection.project(vectors[:2], "pca")

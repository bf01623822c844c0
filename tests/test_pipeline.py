"""Runs end to end on the tiny demo: train, score with every backend, submission, metrics."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from asdcore import dataset, metrics, pipeline, runs
from asdcore.errors import ASDError

ROOT = Path(__file__).resolve().parents[1]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "asdcore", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


def _train(tiny_data, name, model, machines=(), **model_config):
    config = pipeline.TrainConfig(data=str(tiny_data), model=model, machines=list(machines),
                                  device="cpu", model_config=model_config)
    run = pipeline.queue_run(name, config, overwrite=True)
    with run.working():
        pipeline.train_run(run)
    return run


@pytest.fixture(scope="module")
def stats_run(tiny_data):
    return _train(tiny_data, "stats-run", "logmel-stats")


@pytest.mark.parametrize("backend", ["knn", "knn-dg", "knn-ldn", "mahalanobis"])
@pytest.mark.slow
def test_embedding_run_scores_every_test_clip_and_metrics_match_the_files(
        stats_run, tiny_data, backend):
    result = pipeline.score_run(stats_run, backend=backend)
    test = dataset.scan(tiny_data).clips.query("split == 'test'")
    scores = pipeline.read_scores(stats_run, backend)
    assert sorted(scores["clip_id"]) == sorted(test["clip_id"])
    assert np.isfinite(scores["score"]).all()
    # The official score in metrics.json is what the evaluator reads back from the files.
    _, official = metrics.evaluate_submission(stats_run.submission_dir,
                                              metrics.truth_from_clips(test))
    assert result["official_score"] == pytest.approx(official, abs=1e-9)
    assert stats_run.metrics()["by_backend"][backend]["official_score"] == result["official_score"]
    assert 0.0 < official < 1.0


def test_embeddings_are_saved_with_clip_ids(stats_run, tiny_data):
    pipeline.score_run(stats_run, backend="knn")
    saved = np.load(stats_run.embeddings_dir / "fan.npz")
    assert saved["embedding"].shape == (len(saved["clip_id"]), 256)
    assert all(cid.startswith("dev_data/raw/fan/") for cid in saved["clip_id"])


def test_a_detector_cannot_use_an_embedding_backend(stats_run):
    ae = runs.create_run("ae-wrong-backend", pipeline.TrainConfig(data="x", model="ae"))
    with pytest.raises(ASDError, match="cannot be scored with 'knn'"):
        pipeline.score_run(ae, backend="knn")
    with pytest.raises(ASDError, match="no trained models"):
        pipeline.score_run(ae, backend="mse")


@pytest.mark.slow
def test_autoencoder_run_end_to_end(tiny_data):
    run = _train(tiny_data, "ae-run", "ae", machines=["fan", "valve"], epochs=2)
    assert sorted(p.name for p in run.weights_dir.iterdir()) == ["fan", "valve"]
    for backend in ("mse", "mahalanobis"):
        result = pipeline.score_run(run, backend=backend)
        assert sorted(row["machine"] for row in result["table"]) == ["fan", "valve"]
    files = sorted(p.name for p in run.submission_dir.iterdir())
    assert files == ["anomaly_score_fan_section_00_test.csv",
                     "anomaly_score_valve_section_00_test.csv",
                     "decision_result_fan_section_00_test.csv",
                     "decision_result_valve_section_00_test.csv"]
    decisions = metrics.read_decision_file(run.submission_dir /
                                           "decision_result_fan_section_00_test.csv")
    assert set(decisions["decision"]) <= {0, 1}


def test_scoring_unlabelled_data_writes_files_without_a_score(stats_run, tiny_data, tmp_path):
    """Eval-style data (anonymous test names) is scored, but no official score is invented."""
    import shutil

    data = tmp_path / "eval"
    fan = data / "fan"
    shutil.copytree(tiny_data / "dev_data" / "raw" / "fan" / "train", fan / "train")
    (fan / "test").mkdir()
    for i, clip in enumerate(sorted((tiny_data / "dev_data/raw/fan/test").glob("*.wav"))):
        shutil.copy(clip, fan / "test" / f"section_00_{i:04d}.wav")
    result = pipeline.score_run(stats_run, backend="knn", data=str(data))
    assert result["official_score"] is None
    assert "unknown" in result["note"]
    rows = metrics.read_score_file(
        stats_run.submission_dir / "anomaly_score_fan_section_00_test.csv")
    assert len(rows) == 16


@pytest.mark.slow
def test_cli_train_score_evaluate_runs(tiny_data):
    made = cli("train", tiny_data, "--run", "cli-run", "--model", "logmel-stats")
    assert made.returncode == 0, made.stderr
    again = cli("train", tiny_data, "--run", "cli-run", "--model", "logmel-stats")
    assert again.returncode != 0 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr
    scored = cli("score", "cli-run", "--backend", "knn")
    assert scored.returncode == 0, scored.stderr
    official = float(scored.stdout.split("official_score")[-1])
    run = runs.open_run("cli-run")
    evaluated = cli("evaluate", run.submission_dir, tiny_data)
    assert evaluated.returncode == 0, evaluated.stderr
    lines = evaluated.stdout.strip().splitlines()
    assert len(lines) == 8 and lines[-1].startswith("official_score ")
    assert float(lines[-1].split()[1]) == pytest.approx(official, abs=1e-4)
    listed = json.loads(cli("runs", "--json").stdout)
    row = next(r for r in listed if r["name"] == "cli-run")
    assert row["status"] == "done" and row["model"] == "logmel-stats"
    assert row["official_score"] == pytest.approx(official, abs=1e-4)


@pytest.mark.slow
def test_cli_errors_are_one_sentence(tiny_data, tmp_path):
    for args in (("train", tmp_path / "missing", "--run", "x"),
                 ("train", tiny_data, "--run", "bad/../../name", "--model", "nope"),
                 ("score", "no-such-run"),
                 ("evaluate", tmp_path, tiny_data)):
        result = cli(*args)
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_real_dcase_clips_train_and_score_to_complete_files(real_samples, tmp_path):
    """Real 2023 clips (2 train clips per machine, no attributes_00.csv): complete files."""
    data = real_samples / "dcase2023_dev"
    run = _train(data, "real-ae", "ae", machines=["valve"], epochs=1)
    result = pipeline.score_run(run, backend="mse")
    test_names = sorted(p.name for p in (data / "valve" / "test").glob("*.wav"))
    written = metrics.read_score_file(
        run.submission_dir / "anomaly_score_valve_section_00_test.csv")
    assert sorted(written["name"]) == test_names
    # Two target-domain test clips cannot give an official score; it must say so, not invent one.
    assert result["official_score"] is None and result["note"]


def test_demo_settings_apply_on_the_demo_preset_only(demo_marked_data, tiny_data, tmp_path):
    from asdcore.models.seresnet import SEResNetEmbedder

    assert pipeline.demo_settings("seresnet18", demo_marked_data) == \
        SEResNetEmbedder.demo_settings == {"epochs": 1}
    assert pipeline.demo_settings("ae", demo_marked_data) == {}  # the AE has none
    assert pipeline.demo_settings("seresnet18", tiny_data) == {}  # another preset
    assert pipeline.demo_settings("seresnet18", tmp_path) == {}  # no manifest: the user's data


def test_a_queued_run_saves_every_model_setting_and_older_runs_keep_theirs(tiny_data):
    """queue_run saves the whole model config, so a later change of a default does not change
    what a run trains on resume; a run saved before a setting existed (its config lacks it)
    trains with the setting's legacy value, not today's default."""
    from asdcore.models import SEResNetConfig

    config = pipeline.TrainConfig(data=str(tiny_data), model="seresnet18", device="cpu",
                                  model_config={"epochs": 3})
    run = pipeline.queue_run("full-config", config, overwrite=True)
    saved = run.config()["model_config"]
    assert set(saved) == set(SEResNetConfig.known_keys()) and saved["epochs"] == 3
    assert SEResNetConfig.from_dict(saved) == SEResNetConfig(epochs=3, device="cpu")

    older = pipeline.TrainConfig.from_dict({**run.config(), "model_config": {"epochs": 3}})
    resumed = pipeline.model_for(older, saved=True).config
    assert resumed == SEResNetConfig(epochs=3, device="cpu", **SEResNetConfig.legacy)
    assert pipeline.model_for(older).config == SEResNetConfig(epochs=3, device="cpu")

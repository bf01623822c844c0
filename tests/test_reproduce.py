"""`reproduce`: the published recipe end to end (labels, AE, seed system, metrics, report)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from asdcore import cli, dataset, labels, metrics, pipeline, published, reproduce, runs
from asdcore.errors import ASDError
from asdcore.pipeline import TrainConfig

SEED_BACKEND = reproduce.SEED_BACKEND
MACHINES = ("fan", "slider")  # slider's attributes are hidden: it gets pseudo-labels
QUICK = ["--device", "cpu", "--epochs-ae", "1", "--epochs-seed", "1",
         "--set-seed", "width=4", "--set-seed", "seconds=2"]


@pytest.fixture(scope="module")
def dcase_root(tiny_data, tmp_path_factory) -> Path:
    """Two tiny machines as a development set, beside an eval set that must be left out
    (a folder above dev_data/raw, as DATA may be)."""
    root = tmp_path_factory.mktemp("reproduce") / "dcase"
    for machine in MACHINES:
        shutil.copytree(tiny_data / "dev_data" / "raw" / machine,
                        root / "dev_data" / "raw" / machine)
    shutil.copytree(tiny_data / "dev_data" / "raw" / "fan" / "train",
                    root / "eval_data" / "raw" / "AutoTrash" / "train")
    return root


def _mtimes(folder: Path) -> dict[str, int]:
    """Every file's modification time but the report's (rewritten each time) and locks'."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")
            if p.is_file() and p.name != reproduce.REPORT_NAME and p.suffix != ".lock"}


@pytest.mark.slow
def test_reproduce_end_to_end_then_skips_finished_steps(dcase_root, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["reproduce", str(dcase_root), "--out", str(out), *QUICK]) == 0
    printed = capsys.readouterr().out
    for step in ("pseudo-labels slider", "train ae", "train seresnet18", "score ae with mse",
                 "score ae with mahalanobis", f"score seed with {SEED_BACKEND}", "report"):
        assert f"done: {step}" in printed

    # 1. pseudo-labels for the attribute-less machine only, every training clip labelled
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["slider.csv"]
    slider_labels = labels.read_label_csv(out / "labels" / "slider.csv")
    assert len(slider_labels) == len(list((dcase_root / "dev_data/raw/slider/train").iterdir()))
    assert all(file.startswith("slider/train/") for file in slider_labels)
    # clustered per domain, as the seed does: each label names its clips' domain
    assert all(f"_{label.split('-')[0]}_train_" in file for file, label in slider_labels.items())

    # 2-3. both runs done on the development machines (not the eval set's), with the settings
    ae, seed = runs.open_run(out / "runs" / "ae"), runs.open_run(out / "runs" / "seed")
    assert ae.status()["state"] == seed.status()["state"] == "done"
    assert sorted(p.name for p in ae.weights_dir.iterdir()) == sorted(MACHINES)
    assert {"epochs": 1}.items() <= ae.config()["model_config"].items()
    assert {"width": 4, "seconds": 2, "epochs": 1}.items() <= seed.config()["model_config"].items()
    assert pipeline.training_labels(TrainConfig.from_dict(seed.config())) == slider_labels

    # 4. official metrics of every system agree with its scores
    recorded = {}
    for run, backend in ((ae, "mse"), (ae, "mahalanobis"), (seed, SEED_BACKEND)):
        result = run.metrics()["by_backend"][backend]
        table = metrics.evaluate(pipeline.read_scores(run, backend))
        assert sorted(table["machine"]) == sorted(MACHINES)
        assert result["official_score"] == pytest.approx(metrics.official_score(table))
        recorded[backend] = result["official_score"]
    # the seed run's submission files, read back as the official evaluator does
    truth = metrics.truth_from_clips(dataset.scan(dcase_root / "dev_data" / "raw").clips)
    _, official = metrics.evaluate_submission(seed.submission_dir, truth)
    assert official == pytest.approx(recorded[SEED_BACKEND])

    # 5. the report: each system, ours beside the published figures, differences coloured
    page = (out / "report.html").read_text(encoding="utf-8")
    for key, backend in (("ae-mse", "mse"), ("ae-mahalanobis", "mahalanobis"),
                         ("seed", SEED_BACKEND)):
        figures = published.SYSTEMS[key]
        assert figures.name in page
        assert f"{figures.hmeans['official_score']:.4f}" in page
        assert f"{recorded[backend]:.4f}" in page
        assert f"{recorded[backend] - figures.hmeans['official_score']:+.4f}" in page
    assert "Not published per machine" in page
    assert "class='worse'" in page or "class='better'" in page
    assert "synthetic data" not in page  # the copy has no manifest: machines differ instead
    assert "differ, so compare with care" in page

    # A second run skips every finished step: nothing is clustered, trained or scored again,
    # DATA naming the folder of machine folders this time.
    before = _mtimes(out)
    assert {"runs/ae/weights/fan/weights.pt", f"runs/seed/scores/{SEED_BACKEND}.csv",
            "runs/seed/status.json", "labels/slider.csv"} <= set(before)
    assert cli.main(["reproduce", str(dcase_root / "dev_data" / "raw"), "--out", str(out),
                     *QUICK]) == 0
    again = capsys.readouterr().out
    assert "done: report" in again
    assert [line for line in again.splitlines() if line.startswith("done:")] == \
        [line for line in again.splitlines() if line.startswith("done: report")]
    assert again.count("skipped:") == 6
    assert _mtimes(out) == before

    # Other settings would change a finished run: refused, the run kept.
    assert cli.main(["reproduce", str(dcase_root), "--out", str(out), *QUICK[:2],
                     "--epochs-ae", "2"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: The run ") and "other settings" in error
    assert "\n" not in error
    assert ae.config()["model_config"]["epochs"] == 1


def test_unfinished_run_is_taken_up_and_done_run_kept(tiny_data, tmp_path, monkeypatch):
    trained = []
    monkeypatch.setattr(pipeline, "train_run",
                        lambda run, progress=None, cancel=None: trained.append(run.path) or [])
    config = TrainConfig(data=str(tiny_data), model="ae", model_config={"epochs": 1})
    path = tmp_path / "runs" / "ae"
    pipeline.queue_run(str(path), config)  # queued: as a crash before training leaves it
    steps = []
    run, _ = reproduce.trained_run(path, config, None, None, None,
                                   lambda *step: steps.append(step[1]))
    assert trained == [path] and steps == ["started", "done"]
    assert run.status()["state"] == "done"
    reproduce.trained_run(path, config, None, None, None, lambda *step: steps.append(step[1]))
    assert trained == [path] and steps[-1] == "skipped"


def test_run_with_other_pseudo_labels_is_refused(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "train_run", lambda run, progress=None, cancel=None: [])
    config = TrainConfig(data=str(tiny_data), model="seresnet18", model_config={"epochs": 1})
    path = tmp_path / "runs" / "seed"
    first = {"slider": {"slider/train/a.wav": "c0", "slider/train/b.wav": "c1"}}
    reproduce.trained_run(path, config, first, None, None, None)
    assert reproduce.trained_run(path, config, first, None, None, None)[0].path == path
    edited = {"slider": {"slider/train/a.wav": "c0", "slider/train/b.wav": "c0"}}
    with pytest.raises(ASDError, match="other pseudo-labels than this recipe"):
        reproduce.trained_run(path, config, edited, None, None, None)


@pytest.mark.parametrize("make, says", [
    (lambda tmp, tiny: tmp / "missing", "does not exist"),
    (lambda tmp, tiny: (tmp / "notes").mkdir() or (tmp / "notes" / "a.txt").touch()
     or tmp / "notes", "No machine folders found"),
    (lambda tmp, tiny: shutil.copytree(tiny / "dev_data/raw/fan/train", tmp / "x/fan/train")
     and tmp / "x", "no labelled test clips"),
])
def test_bad_data_is_one_sentence(make, says, tiny_data, tmp_path, capsys):
    assert cli.main(["reproduce", str(make(tmp_path, tiny_data)),
                     "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and says in error and "\n" not in error
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags, says", [
    (["--epochs-ae", "0"], "epochs must be at least 1"),
    (["--set-seed", "widht=4"], "Unknown seed model settings: widht"),
])
def test_bad_settings_are_refused_before_any_work(flags, says, dcase_root, tmp_path, capsys):
    assert cli.main(["reproduce", str(dcase_root), "--out", str(tmp_path / "out"), *flags]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_comparison_table_sets_ours_beside_published():
    figures = published.PublishedSystem(
        "a system", "a source",
        {"AUC_source_hmean": 0.7, "AUC_target_hmean": 0.6, "pAUC_hmean": 0.55,
         "official_score": 0.6},
        {("fan", "00"): {"AUC_source": 0.8, "AUC_target": 0.5, "pAUC": 0.6}})
    rows = pd.DataFrame({"machine": ["fan", "valve"], "section": ["00", "00"],
                         "AUC_source": [0.9, 0.7], "AUC_target": [0.4, 0.6], "pAUC": [0.6, 0.5]})
    ours = {"table": rows.to_dict(orient="records"), "summary": metrics.summarize(rows)}
    table = reproduce.comparison_table(ours, figures).set_index("machine")
    assert table.loc["fan", "AUC_source diff"] == pytest.approx(0.1)
    assert table.loc["fan", "AUC_target diff"] == pytest.approx(-0.1)
    assert math.isnan(table.loc["valve", "AUC_source (published)"])  # not published
    total = table.loc["harmonic mean"]
    assert total["AUC_source (ours)"] == pytest.approx(ours["summary"]["AUC_source_hmean"])
    assert total["AUC_source diff"] == pytest.approx(ours["summary"]["AUC_source_hmean"] - 0.7)
    page = reproduce.coloured_table(table.reset_index())
    assert "<td class='better'>+0.1000</td>" in page
    assert "<td class='worse'>-0.1000</td>" in page
    assert "<td>-</td>" in page


def test_data_note_says_how_far_the_published_figures_apply(tiny_data, tmp_path):
    assert "synthetic data" in reproduce.data_note(dataset.scan(tiny_data))
    copy = tmp_path / "dev_data" / "raw"  # the same clips without the generator's manifest
    shutil.copytree(tiny_data / "dev_data" / "raw", copy)
    assert "which this dataset looks like" in reproduce.data_note(dataset.scan(tmp_path))
    for supplemental in copy.glob("*/supplemental"):  # as in the 2023 and 2024 sets
        shutil.rmtree(supplemental)
    assert "another year's development set" in reproduce.data_note(dataset.scan(tmp_path))
    for machine in ("ToyTrain", "bearing"):
        shutil.rmtree(copy / machine)
    assert "differ, so compare with care" in reproduce.data_note(dataset.scan(tmp_path))

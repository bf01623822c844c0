"""A run's recorded scoring result and its scores' audio files (Scores page, report)."""

from __future__ import annotations

import shutil
from pathlib import Path

from app_driving import quick_run

from asdcore import pipeline, results


def test_scores_map_to_the_audio_of_the_dataset_that_scoring_read(tiny_data, tmp_path):
    run = quick_run("paths-run", tiny_data, machines=("fan",))
    backend = results.scored_backends(run)[0]
    assert results.backend_result(run, backend)["official_score"] is not None
    assert results.backend_result(run, "no-such-backend") == {}
    scores = results.with_audio_paths(run, backend, pipeline.read_scores(run, backend))
    assert len(scores) and all(Path(p).is_file() for p in scores["path"])
    assert all(p.startswith(str(Path(tiny_data).resolve())) for p in scores["path"])

    copy = shutil.copytree(tiny_data, tmp_path / "copy")  # scored again on another folder
    pipeline.score_run(run, backend=backend, data=str(copy))
    moved = results.with_audio_paths(run, backend, pipeline.read_scores(run, backend))
    assert all(p.startswith(str(copy.resolve())) and Path(p).is_file() for p in moved["path"])

"""Checking new recordings with a finished run (`asdcore.check`) on the tiny demo: the verdicts
agree with the run's own scoring, the explanation points at where a clip differs, and bad
files are reported without stopping the others."""

import shutil

import numpy as np
import pytest
import soundfile as sf

from asdcore import check, dataset, pipeline, runs
from asdcore.errors import ASDError

SR = 16000


def _trained(tiny_data, name, model, machines=("fan",), **model_config):
    config = pipeline.TrainConfig(data=str(tiny_data), model=model, machines=list(machines),
                                  device="cpu", model_config=model_config)
    run = runs.create_run(name, config, overwrite=True)
    with run.working():
        pipeline.train_run(run)
    pipeline.score_run(run)
    return run


@pytest.fixture(scope="module")
def runs_by_model(tiny_data, tmp_path_factory):
    """A training-free and a 1-epoch autoencoder run on two machines, in a module-wide
    workspace (the per-test workspace is reset for every test)."""
    import os

    previous = os.environ.get("ASD_WORKSPACE_DIR")
    os.environ["ASD_WORKSPACE_DIR"] = str(tmp_path_factory.mktemp("check-runs"))
    try:
        made = {"logmel-stats": _trained(tiny_data, "stats", "logmel-stats", ("fan", "valve")),
                "ae": _trained(tiny_data, "ae", "ae", ("fan", "valve"), epochs=1)}
    finally:
        if previous is None:
            os.environ.pop("ASD_WORKSPACE_DIR")
        else:
            os.environ["ASD_WORKSPACE_DIR"] = previous
    return made


def _test_clips(tiny_data, machine="fan"):
    clips = dataset.scan(tiny_data).clips
    return clips[(clips["machine"] == machine) & (clips["split"] == "test")]


@pytest.mark.parametrize("model", ["logmel-stats", "ae"])
@pytest.mark.slow
def test_check_agrees_with_the_runs_own_scores_and_thresholds(runs_by_model, tiny_data, model):
    run = runs_by_model[model]
    loaded = check.CheckRun(run)
    scored = pipeline.read_scores(run, loaded.backend).query("machine == 'fan'")
    test = _test_clips(tiny_data)
    checked = loaded.check(test["path"].tolist(), machine="fan")
    assert len(checked) == len(test) and all(r["error"] is None for r in checked)
    by_file = scored.set_index("file")
    for result, file in zip(checked, test["file"], strict=True):
        assert result["score"] == pytest.approx(by_file.loc[file, "score"], rel=1e-5, abs=1e-9)
        assert result["threshold"] == pytest.approx(by_file.loc[file, "threshold"], rel=1e-6)
        assert result["decision"] == int(result["score"] > result["threshold"])


@pytest.mark.parametrize("model", ["logmel-stats", "ae"])
def test_percentiles_and_nearest_normals(runs_by_model, tiny_data, model):
    loaded = check.CheckRun(runs_by_model[model])
    path = _test_clips(tiny_data)["path"].iloc[0]
    result = loaded.check_file(path, "fan")
    ref = loaded.reference("fan", "00")
    assert result["percentile"] == pytest.approx(100 * np.mean(ref.train_scores <= result["score"]))
    assert len(ref.test_normal_scores) > 0
    assert 0 <= result["percentile_test_normal"] <= 100
    nearest = result["nearest"]
    assert len(nearest) == check.N_NEAREST
    assert [n["distance"] for n in nearest] == sorted(n["distance"] for n in nearest)
    train_files = set(ref.train["file"])
    assert all(n["file"] in train_files and "/train/" in n["file"] for n in nearest)
    # The nearest normal of a training clip is itself.
    own = loaded.check_file(ref.train["path"].iloc[3], "fan")
    assert own["nearest"][0]["file"] == ref.train["file"].iloc[3]
    assert own["nearest"][0]["distance"] == pytest.approx(0.0, abs=1e-4)


def _with_tone_burst(path, out, start_s, seconds, freq_hz):
    y, sr = sf.read(path, dtype="float32")
    first, last = int(start_s * sr), int((start_s + seconds) * sr)
    t = np.arange(last - first) / sr
    y = y.copy()
    y[first:last] += 0.5 * np.abs(y).max() * 4 * np.sin(2 * np.pi * freq_hz * t)
    sf.write(out, y, sr)
    return out


def test_the_explanation_points_at_the_time_and_band_where_a_clip_differs(
        runs_by_model, tiny_data, tmp_path):
    loaded = check.CheckRun(runs_by_model["logmel-stats"])
    normal = _test_clips(tiny_data).query("label == 'normal'")["path"].iloc[0]
    burst = _with_tone_burst(normal, tmp_path / "burst.wav", 1.2, 0.25, 3000.0)
    plain, odd = (loaded.check_file(p, "fan") for p in (normal, burst))
    assert odd["score"] > plain["score"]
    explained = odd["explanation"]
    times = np.array(explained["frame_seconds"])
    peak_time = times[int(np.argmax(explained["frame_deviation"]))]
    assert 1.1 <= peak_time <= 1.55
    bands = np.array(explained["band_hz"])
    peak_band = bands[int(np.argmax(explained["band_deviation"]))]
    assert 2500 <= peak_band <= 3600
    assert len(explained["band_deviation"]) == len(bands) == 128
    # The 2 s clip is repeated to the model's 10 s; the curve shows the recording only.
    assert times[-1] <= 2.0 and odd["scored_seconds"] == pytest.approx(2.0)


def test_the_autoencoder_error_map_averages_to_its_clip_score(runs_by_model, tiny_data):
    from asdcore import features

    loaded = check.CheckRun(runs_by_model["ae"])
    model = loaded.model("fan").with_mode("mse")
    ref = loaded.reference("fan", "00")
    logmels = features.extract(_test_clips(tiny_data)["path"].tolist()[:3], ref.feature_config)
    errors = model.cell_errors(logmels)  # [clips, mels, frames]
    n_frames = model.config.n_frames
    n_vectors = logmels.shape[2] - n_frames + 1
    covered = np.convolve(np.ones(n_vectors), np.ones(n_frames))  # vectors holding each frame
    clip_mse = (errors * covered).sum(axis=(1, 2)) / (n_vectors * n_frames * logmels.shape[1])
    np.testing.assert_allclose(clip_mse, model.decision_function(logmels), rtol=1e-4)


def test_unreadable_files_are_reported_and_the_others_checked(runs_by_model, tiny_data,
                                                              tmp_path):
    loaded = check.CheckRun(runs_by_model["logmel-stats"])
    good = _test_clips(tiny_data)["path"].iloc[0]
    (tmp_path / "notes.txt").write_text("not audio")
    (tmp_path / "empty.wav").write_bytes(b"")
    y, sr = sf.read(good, dtype="float32")
    stereo = tmp_path / "stereo44k.wav"
    resampled = np.interp(np.arange(0, len(y), sr / 44100), np.arange(len(y)), y)
    sf.write(stereo, np.stack([resampled, np.zeros_like(resampled)], axis=1), 44100)
    checked = loaded.check([tmp_path / "notes.txt", tmp_path / "empty.wav", stereo, good,
                            tmp_path / "missing.wav"], machine="fan")
    errors = {r["file"].rsplit("/", 1)[-1]: r["error"] for r in checked}
    assert errors["notes.txt"] and errors["empty.wav"] and errors["missing.wav"]
    assert "empty" in errors["empty.wav"] and "no such file" in errors["missing.wav"]
    assert errors["stereo44k.wav"] is None and errors[good.rsplit("/", 1)[-1]] is None
    scores = {r["file"]: r["score"] for r in checked if r["error"] is None}
    assert scores[str(stereo)] == pytest.approx(scores[good], rel=0.5, abs=0.01)


def test_unknown_machine_or_section_is_one_sentence_naming_the_known_ones(runs_by_model,
                                                                         tiny_data):
    loaded = check.CheckRun(runs_by_model["ae"])
    path = _test_clips(tiny_data)["path"].iloc[0]
    with pytest.raises(ASDError, match="fan, valve"):
        loaded.check([path], machine="pump")
    with pytest.raises(ASDError, match="it has 00"):
        loaded.check([path], machine="fan", section="07")
    # Without --machine, the machine folder in the path says it; a bare file name cannot.
    assert loaded.check([path])[0]["machine"] == "fan"
    valve = _test_clips(tiny_data, "valve")["path"].iloc[0]
    assert loaded.check([valve])[0]["machine"] == "valve"


def test_the_section_comes_from_the_file_name_when_the_machine_has_several(tiny_data, tmp_path):
    fan = tmp_path / "data" / "fan"
    shutil.copytree(tiny_data / "dev_data" / "raw" / "fan", fan)
    for path in sorted((fan / "train").glob("section_00_*")):
        shutil.copy(path, path.with_name(path.name.replace("section_00", "section_01")))
    run = runs.create_run("two-sections", pipeline.TrainConfig(
        data=str(tmp_path / "data"), model="logmel-stats", device="cpu"))
    with run.working():
        pipeline.train_run(run)
    loaded = check.CheckRun(run)
    test_clip = next((fan / "test").glob("*.wav"))
    named = tmp_path / test_clip.name.replace("section_00", "section_01")
    shutil.copy(test_clip, named)
    anonymous = shutil.copy(test_clip, tmp_path / "recording.wav")
    checked = loaded.check([named, anonymous])
    assert checked[0]["section"] == "01"
    assert "00, 01" in checked[1]["error"]
    assert loaded.check([anonymous], section="1")[0]["section"] == "01"


def test_results_table_has_one_row_per_file(runs_by_model, tiny_data, tmp_path):
    paths = _test_clips(tiny_data)["path"].tolist()[:2] + [str(tmp_path / "gone.wav")]
    table = check.results_table(check.check(runs_by_model["ae"], paths, machine="fan"))
    assert list(table.columns) == check.TABLE_COLUMNS
    assert table["error"].notna().tolist() == [False, False, True]
    assert table["nearest"].iloc[0].count(";") == check.N_NEAREST - 1


def test_cli_check_errors_are_one_sentence(runs_by_model, tiny_data, capsys):
    from asdcore import cli

    run = str(runs_by_model["ae"].path)
    path = str(_test_clips(tiny_data)["path"].iloc[0])
    for args, known in ((["--machine", "pump"], "fan, valve"),
                        (["--machine", "fan", "--section", "9"], "00")):
        assert cli.main(["check", run, path, *args]) == 2
        error = capsys.readouterr().err
        assert known in error and len(error.strip().splitlines()) == 1
    assert cli.main(["check", "no-such-run", path]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert cli.main(["check", run, path, "--machine", "fan"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith(path) and "threshold" in line


def test_score_figure_keeps_the_histogram_readable():
    from asdcore import viz

    normal = np.array([1e-4, 2e-4, 3e-4])
    near = viz.checked_score_figure(normal, np.array([1.5e-4]), 3.1e-4, 2.5e-4)
    assert [shape.x0 for shape in near.layout.shapes] == [3.1e-4, 2.5e-4]
    far = viz.checked_score_figure(normal, np.array([]), 0.2, 2.5e-4)  # threshold far away
    assert [shape.x0 for shape in far.layout.shapes] == [2.5e-4]
    assert any("threshold = 0.2" in a.text for a in far.layout.annotations)


@pytest.mark.slow
def test_the_seed_model_is_checked_like_it_is_scored(tiny_data):
    run = _trained(tiny_data, "seed", "seresnet18", ("fan",), epochs=1, width=4,
                   spectrum_branch=False, featex=False)
    loaded = check.CheckRun(run)
    scored = pipeline.read_scores(run, loaded.backend).set_index("file")
    test = _test_clips(tiny_data).iloc[:3]
    for result, file in zip(loaded.check(test["path"].tolist()), test["file"], strict=True):
        assert result["score"] == pytest.approx(scored.loc[file, "score"], rel=1e-4, abs=1e-6)
        assert result["threshold"] == pytest.approx(scored.loc[file, "threshold"], rel=1e-6)
        assert len(result["explanation"]["band_deviation"]) == 128

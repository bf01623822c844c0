"""Importing recordings in the MIMII, ToyADMOS and plain-folder layouts as DCASE-layout
datasets (`asdcore.ingest`), and the real fan recordings from import to a verdict."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asdcore import dataset, ingest
from asdcore.errors import ASDError

ROOT = Path(__file__).resolve().parents[1]
REAL_FAN = ROOT.parent / "shared" / "real-fan"
SR = 16000


def _wav(path: Path, seconds: float = 0.5, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(seed).normal(0, 0.1, int(seconds * SR)).astype(np.float32)
    sf.write(path, noise, SR)
    return path


def _mapping(out: Path) -> list[dict]:
    with open(out / ingest.MAPPING_NAME, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_mimii_layout_below_snr_folders(tmp_path):
    src = tmp_path / "mimii"
    for snr in ("-6_dB_fan", "6_dB_fan"):
        for ident, n_normal in (("id_00", 5), ("id_02", 4)):
            for i in range(n_normal):
                _wav(src / snr / "fan" / ident / "normal" / f"{i:08d}.wav", seed=i)
            _wav(src / snr / "fan" / ident / "abnormal" / "00000000.wav", seed=99)
    _wav(src / "0dB_pump" / "id_04" / "normal" / "00000000.wav")
    _wav(src / "0dB_pump" / "id_04" / "normal" / "00000001.wav")
    summary = ingest.import_recordings(src, tmp_path / "out", test_fraction=0.25)
    assert summary["layout"] == "mimii"
    ds = dataset.scan(tmp_path / "out")
    assert ds.problems == []
    clips = ds.clips
    # Two SNRs of one machine stay apart; a machine with one SNR keeps its own name.
    assert sorted(clips["machine"].unique()) == ["fan_-6dB", "fan_6dB", "pump"]
    fan = clips[clips["machine"] == "fan_6dB"]
    assert sorted(fan["section"].unique()) == ["00", "02"]
    assert (fan.loc[fan["label"] == "anomaly", "split"] == "test").all()
    assert len(fan[(fan["section"] == "00") & (fan["split"] == "test")
                   & (fan["label"] == "normal")]) == 1  # round(0.25 * 5)
    assert sorted(clips.loc[clips["machine"] == "pump", "section"].unique()) == ["04"]
    with pytest.raises(ASDError, match="mimii layout"):
        ingest.import_recordings(src, tmp_path / "again", normal=["normal"])


def test_toyadmos_layout_keeps_the_channels_of_a_recording_together(tmp_path):
    src = tmp_path / "ToyADMOS"
    for take in range(6):
        for channel in (1, 2):
            _wav(src / "ToyCar" / "case1" / "NormalSound_IND" / f"N_case1_ch{channel}_{take}.wav",
                 seed=take)
    for channel in (1, 2):
        _wav(src / "ToyCar" / "case1" / "AnomalousSound_IND" / f"ab01_case1_ch{channel}_0.wav")
    summary = ingest.import_recordings(src, tmp_path / "out", test_fraction=0.3, seed=1)
    assert summary["layout"] == "toyadmos"
    rows = _mapping(tmp_path / "out")
    assert {r["section"] for r in rows} == {"01"} and {r["machine"] for r in rows} == {"ToyCar"}
    split_of_take = {}
    for row in rows:
        take = row["original"].replace("_ch1", "").replace("_ch2", "")
        split_of_take.setdefault(take, set()).add(row["split"])
    assert all(len(splits) == 1 for splits in split_of_take.values())
    assert sum(row["split"] == "test" and row["label"] == "normal" for row in rows) == 4


def test_folders_layout_by_folder_and_by_name_prefix(tmp_path):
    by_folder = tmp_path / "pump3"
    for i in range(5):
        _wav(by_folder / "ok" / f"take{i}.wav", seed=i)
    _wav(by_folder / "bearing fault" / "a.wav")
    _wav(by_folder / "off" / "b.wav")
    summary = ingest.import_recordings(by_folder, tmp_path / "a", normal=["OK"], exclude=["off"])
    assert [Path(p).name for p in summary["excluded"]] == ["b.wav"]
    clips = dataset.scan(tmp_path / "a").clips
    assert set(clips["machine"]) == {"pump3"}
    assert sorted(clips["attributes"].unique()) == ["cond_bearing-fault", "cond_ok"]
    assert (clips.loc[clips["attributes"] == "cond_bearing-fault", "label"] == "anomaly").all()

    by_name = tmp_path / "recordings"
    for i in range(4):
        _wav(by_name / f"ON_2020031{i}T204454.wav", seed=i)
    _wav(by_name / "BLADE FAULT_20200318T205628.wav")
    _wav(by_name / "FAN_GUARDS_20201210144646.wav")
    ingest.import_recordings(by_name, tmp_path / "b", normal=["on"], machine="fan")
    rows = _mapping(tmp_path / "b")
    assert {r["condition"]: r["label"] for r in rows} == {
        "ON": "normal", "BLADE FAULT": "anomaly", "FAN_GUARDS": "anomaly"}
    assert {r["machine"] for r in rows} == {"fan"}


def test_conditions_must_be_named_and_exist(tmp_path):
    src = tmp_path / "src"
    _wav(src / "ON_1.wav")
    _wav(src / "BAD_2.wav")
    with pytest.raises(ASDError, match="--normal.*BAD, ON"):
        ingest.import_recordings(src, tmp_path / "a")
    with pytest.raises(ASDError, match="'OK'.*BAD, ON"):
        ingest.import_recordings(src, tmp_path / "a", normal=["OK"])
    with pytest.raises(ASDError, match="exclude.*BAD, ON"):
        ingest.import_recordings(src, tmp_path / "a", normal=["ON"], exclude=["OFF"])
    assert not (tmp_path / "a").exists()


def test_split_is_deterministic_and_links_unless_copy(tmp_path):
    src = tmp_path / "src"
    for i in range(10):
        _wav(src / "normal" / f"n{i}.wav", seed=i)
    _wav(src / "broken" / "x.wav")
    (src / "normal" / "empty.wav").write_bytes(b"")
    first = ingest.import_recordings(src, tmp_path / "a", seed=3)
    ingest.import_recordings(src, tmp_path / "b", seed=3)
    copied = ingest.import_recordings(src, tmp_path / "c", seed=3, copy=True)
    assert [Path(s["file"]).name for s in first["skipped"]] == ["empty.wav"]
    split = {r["original"]: r["split"] for r in _mapping(tmp_path / "a")}
    assert split == {r["original"]: r["split"] for r in _mapping(tmp_path / "b")}
    assert sum(s == "test" for s in split.values()) == 1 + 2  # the anomaly + 0.2 of 10 normals
    for row in _mapping(tmp_path / "a"):
        new, original = tmp_path / "a" / row["new"], src / row["original"]
        assert os.path.samefile(new, original)  # a link, not a second copy
        copy = tmp_path / "c" / row["new"]
        assert not os.path.samefile(copy, original) and copy.read_bytes() == original.read_bytes()
    assert first["counts"] == copied["counts"]


def test_an_existing_non_empty_output_or_a_failure_leaves_nothing_half_written(tmp_path,
                                                                              monkeypatch):
    src = tmp_path / "src"
    for i in range(3):
        _wav(src / "normal" / f"n{i}.wav", seed=i)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(ASDError, match="not empty"):
        ingest.import_recordings(src, tmp_path / "taken")
    assert os.listdir(tmp_path / "taken") == ["keep.txt"]

    def failing(*args):
        raise ASDError("Disk trouble.")

    monkeypatch.setattr(ingest, "_write_mapping", failing)
    with pytest.raises(ASDError, match="Disk trouble"):
        ingest.import_recordings(src, tmp_path / "new")
    assert sorted(os.listdir(tmp_path)) == ["src", "taken"]


def test_clip_seconds_cuts_recordings_without_splitting_one_across_train_and_test(tmp_path):
    src = tmp_path / "src"
    for i in range(6):
        _wav(src / "normal" / f"n{i}.wav", seconds=3.4, seed=i)
    _wav(src / "fault" / "f.wav", seconds=0.7)  # shorter than a clip: kept whole
    ingest.import_recordings(src, tmp_path / "out", test_fraction=0.34, clip_seconds=1.0)
    rows = _mapping(tmp_path / "out")
    per_original = {}
    for row in rows:
        per_original.setdefault(row["original"], []).append(row)
    for original, cuts in per_original.items():
        assert len({row["split"] for row in cuts}) == 1
        if "n" in Path(original).stem:
            assert [(float(r["start_seconds"]), float(r["end_seconds"])) for r in cuts] == \
                [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
            second = sf.read(tmp_path / "out" / cuts[1]["new"])[0]
            np.testing.assert_allclose(second, sf.read(src / original)[0][SR:2 * SR],
                                       atol=1e-4)
    assert sum(len(c) for o, c in per_original.items() if c[0]["split"] == "test"
               and c[0]["label"] == "normal") == 2 * 3


def _cli(*args, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, "-m", "asdcore", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.mark.skipif(not REAL_FAN.is_dir(), reason="../shared/real-fan is not present")
@pytest.mark.slow
def test_real_fan_from_recordings_to_verdicts_in_three_commands(tmp_path):
    """Import (ON normal; OFF and FAN_GUARDS kept out), train, check: a held-out ON recording
    scores below every BLADE FAULT one, and unusable inputs get their reasons."""
    src = tmp_path / "real-fan"
    src.mkdir()
    for path in REAL_FAN.glob("*.wav"):
        os.symlink(path, src / path.name)
    env = {"ASD_WORKSPACE_DIR": str(tmp_path / "workspace")}
    data = tmp_path / "fan-data"
    made = _cli("import", src, data, "--normal", "ON", "--exclude", "OFF", "FAN_GUARDS",
                "--machine", "fan", "--clip-seconds", "10", "--seed", "0", env=env)
    assert made.returncode == 0, made.stderr
    trained = _cli("train", data, "--run", "fan", "--model", "logmel-stats", "--device", "cpu",
                   env=env)
    assert trained.returncode == 0, trained.stderr
    rows = _mapping(data)
    held_out = sorted({r["original"] for r in rows if r["label"] == "normal"
                       and r["split"] == "test"})
    assert held_out and all(name.startswith("ON_") for name in held_out)
    assert not {r["original"] for r in rows if r["split"] == "train"} & set(held_out)

    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "notes.txt").write_text("no audio here")
    (odd / "empty.wav").write_bytes(b"")
    y, _ = sf.read(REAL_FAN / held_out[0], frames=10 * SR, dtype="float32")
    resampled = np.interp(np.arange(0, len(y), SR / 44100), np.arange(len(y)), y)
    sf.write(odd / "stereo44k.wav", np.stack([resampled, resampled], axis=1), 44100)
    blade = sorted(REAL_FAN.glob("BLADE FAULT_*.wav"))
    checked = _cli("check", "fan", *[REAL_FAN / name for name in held_out], *blade,
                   odd / "notes.txt", odd / "empty.wav", odd / "stereo44k.wav", "--json",
                   "--out", tmp_path / "verdicts.csv", env=env)
    assert checked.returncode == 1, checked.stderr  # some inputs could not be used
    assert "Traceback" not in checked.stderr
    results = {Path(r["file"]).name: r for r in json.loads(checked.stdout)}
    for name in ("notes.txt", "empty.wav"):
        assert results[name]["error"] and "score" not in results[name]
    on_scores = [results[name]["score"] for name in held_out]
    blade_scores = [results[p.name]["score"] for p in blade]
    assert max(on_scores) < min(blade_scores)
    assert all(results[p.name]["decision"] == 1 for p in blade)
    assert results["stereo44k.wav"]["error"] is None
    assert results["stereo44k.wav"]["score"] < min(blade_scores)
    for result in results.values():
        if result["error"] is None:
            assert {"file", "score", "threshold", "decision", "percentile",
                    "nearest"} <= set(result)
            assert all(n["file"].startswith("fan/train/") for n in result["nearest"])
    table = (tmp_path / "verdicts.csv").read_text().splitlines()
    assert len(table) == 1 + len(results)
